"""STS: temporary credentials."""
