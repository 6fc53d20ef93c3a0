"""Herald: a self-hosted, SNS-compatible notification service with server-side encryption."""

__version__ = "0.1.0"
