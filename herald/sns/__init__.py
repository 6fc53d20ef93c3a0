"""The SNS domain: topics, subscriptions, publishing. No HTTP, no SQL."""
