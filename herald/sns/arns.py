"""ARNs of SNS resources: arn:aws:sns:REGION:ACCOUNT:TOPIC[:SUBSCRIPTION-ID]."""

from __future__ import annotations

import re
from dataclasses import dataclass

from herald.errors import InvalidParameter

_TOPIC_ARN = re.compile(
    r"^arn:aws:sns:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):(?P<name>[A-Za-z0-9_.-]{1,256})$"
)
_SUBSCRIPTION_ARN = re.compile(
    r"^arn:aws:sns:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):(?P<name>[A-Za-z0-9_.-]{1,256})"
    r":(?P<id>[0-9a-f-]{36})$"
)


@dataclass(frozen=True)
class TopicARN:
    region: str
    account_id: str
    name: str

    def __str__(self) -> str:
        return f"arn:aws:sns:{self.region}:{self.account_id}:{self.name}"


def _elements(value: str, field: str) -> None:
    count = len(value.split(":"))
    if count < 6:
        raise InvalidParameter(
            f"Invalid parameter: {field} Reason: An ARN must have at least 6 elements, not {count}"
        )


def topic_arn(value: str | None, field: str = "TopicArn") -> TopicARN:
    """Parse a topic ARN; raise InvalidParameter naming ``field``."""
    if value is None:
        raise InvalidParameter(
            f"Invalid parameter: {field} Reason: no value for required parameter"
        )
    _elements(value, field)
    match = _TOPIC_ARN.fullmatch(value)
    if match is None:
        raise InvalidParameter(f"Invalid parameter: {field}")
    return TopicARN(match["region"], match["account"], match["name"])


def subscription_topic(value: str | None, field: str = "SubscriptionArn") -> TopicARN:
    """The topic ARN a subscription ARN belongs to; raise InvalidParameter naming ``field``."""
    if value is None:
        raise InvalidParameter(
            f"Invalid parameter: {field} Reason: no value for required parameter"
        )
    _elements(value, field)
    match = _SUBSCRIPTION_ARN.fullmatch(value)
    if match is None:
        if len(value.split(":")) == 6:
            raise InvalidParameter("Invalid parameter: SubscriptionId")
        raise InvalidParameter(f"Invalid parameter: {field}")
    return TopicARN(match["region"], match["account"], match["name"])


def is_topic_arn(value: str) -> bool:
    return _TOPIC_ARN.fullmatch(value) is not None
