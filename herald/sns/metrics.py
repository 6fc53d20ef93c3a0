"""Per-topic counters with CloudWatch's metric names for SNS ("Monitoring Amazon SNS topics
using CloudWatch"), kept in memory since the server started. Counts and sizes only, so they
are in clear even for encrypted topics."""

from __future__ import annotations

from collections import Counter

PUBLISHED = "NumberOfMessagesPublished"
PUBLISH_SIZE = "PublishSize"  # summed bytes; with NumberOfMessagesPublished, the mean
DELIVERED = "NumberOfNotificationsDelivered"
FAILED = "NumberOfNotificationsFailed"
FILTERED_OUT = "NumberOfNotificationsFilteredOut"
REDRIVEN = "NumberOfNotificationsRedrivenToDlq"
NOT_REDRIVEN = "NumberOfNotificationsFailedToRedriveToDlq"
NAMES = (PUBLISHED, PUBLISH_SIZE, DELIVERED, FAILED, FILTERED_OUT, REDRIVEN, NOT_REDRIVEN)


class TopicMetrics:
    def __init__(self) -> None:
        self.counts: Counter[tuple[str, str]] = Counter()  # (metric, topic ARN) -> value

    def add(self, metric: str, topic_arn: str, value: int = 1) -> None:
        self.counts[(metric, topic_arn)] += value
