"""Queues speaking the Amazon SQS API, the fan-out targets of topics."""
