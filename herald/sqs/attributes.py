"""Queue attributes: names, defaults, limits and checks (SQS API Reference,
SetQueueAttributes), and the MD5 digests SQS returns for bodies and message attributes.
"""

from __future__ import annotations

import hashlib
import json
import re
import struct
from collections.abc import Callable, Mapping

from herald.errors import InvalidParameter, MalformedPolicy

DEFAULTS = {
    "VisibilityTimeout": "30",
    "MaximumMessageSize": "1048576",
    "MessageRetentionPeriod": "345600",
    "DelaySeconds": "0",
    "ReceiveMessageWaitTimeSeconds": "0",
    "SqsManagedSseEnabled": "true",
}
FIFO_DEFAULTS = {
    "ContentBasedDeduplication": "false",
    "DeduplicationScope": "queue",
    "FifoThroughputLimit": "perQueue",
}
READ_ONLY = (
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
    "CreatedTimestamp",
    "LastModifiedTimestamp",
    "QueueArn",
)
_NAME = re.compile(r"[A-Za-z0-9_-]{1,80}")
_INTEGER = re.compile(r"-?[0-9]{1,12}")
_FIFO_NAME = re.compile(r"[A-Za-z0-9_-]{1,75}\.fifo")


class InvalidAttributeName(InvalidParameter):
    pass


class InvalidAttributeValue(InvalidParameter):
    pass


def queue_name(name: str | None, fifo: bool) -> str:
    if not name or not (_FIFO_NAME if fifo else _NAME).fullmatch(name):
        raise InvalidParameter(
            "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in "
            "length" + (" (a FIFO queue's name ends in .fifo)" if fifo else "")
        )
    return name


def _integer(low: int, high: int) -> Callable[[str, str], str]:
    def check(name: str, value: str) -> str:
        if not _INTEGER.fullmatch(value) or not low <= int(value) <= high:
            raise InvalidAttributeValue(f"Invalid value for the parameter {name}.")
        return str(int(value))

    return check


def _boolean(name: str, value: str) -> str:
    if value.lower() not in ("true", "false"):
        raise InvalidAttributeValue(f"Invalid value for the parameter {name}.")
    return value.lower()


def _choice(*allowed: str) -> Callable[[str, str], str]:
    def check(name: str, value: str) -> str:
        if value not in allowed:
            raise InvalidAttributeValue(f"Invalid value for the parameter {name}.")
        return value

    return check


def _policy(name: str, value: str) -> str:
    from herald.auth.policy import parse_policy
    from herald.auth.policy.document import Kind

    if value == "":
        return value
    try:
        parse_policy(value, Kind.RESOURCE, "queue policy")
    except MalformedPolicy as exc:
        raise InvalidAttributeValue(
            f"Invalid value for the parameter Policy. Reason: {exc.message}"
        ) from None
    return value


def _redrive(name: str, value: str) -> str:
    if value == "":
        return value
    try:
        document = json.loads(value)
        target = document["deadLetterTargetArn"]
        count = int(document["maxReceiveCount"])
    except (ValueError, KeyError, TypeError, OverflowError):
        raise InvalidAttributeValue(
            f"Value {value} for parameter RedrivePolicy is invalid. Reason: Redrive policy is "
            "not a valid JSON map with deadLetterTargetArn and maxReceiveCount."
        ) from None
    if (
        not isinstance(target, str)
        or not target.startswith("arn:aws:sqs:")
        or not 1 <= count <= 1000
    ):
        raise InvalidAttributeValue(
            f"Value {value} for parameter RedrivePolicy is invalid. Reason: Invalid value for "
            "maxReceiveCount or deadLetterTargetArn."
        )
    return json.dumps({"deadLetterTargetArn": target, "maxReceiveCount": count})


def _redrive_allow(name: str, value: str) -> str:
    try:
        document = json.loads(value)
        permission = document["redrivePermission"]
    except (ValueError, KeyError, TypeError):
        raise InvalidAttributeValue(f"Invalid value for the parameter {name}.") from None
    if permission not in ("allowAll", "denyAll", "byQueue"):
        raise InvalidAttributeValue(f"Invalid value for the parameter {name}.")
    return value


def _kms_key(name: str, value: str) -> str:
    if len(value) > 2048:
        raise InvalidAttributeValue(f"Invalid value for the parameter {name}.")
    return value


CHECKS: dict[str, Callable[[str, str], str]] = {
    "DelaySeconds": _integer(0, 900),
    "MaximumMessageSize": _integer(1024, 1048576),
    "MessageRetentionPeriod": _integer(60, 1209600),
    "ReceiveMessageWaitTimeSeconds": _integer(0, 20),
    "VisibilityTimeout": _integer(0, 43200),
    "Policy": _policy,
    "RedrivePolicy": _redrive,
    "RedriveAllowPolicy": _redrive_allow,
    "KmsMasterKeyId": _kms_key,
    "KmsDataKeyReusePeriodSeconds": _integer(60, 86400),
    "SqsManagedSseEnabled": _boolean,
    "FifoQueue": _boolean,
    "ContentBasedDeduplication": _boolean,
    "DeduplicationScope": _choice("messageGroup", "queue"),
    "FifoThroughputLimit": _choice("perQueue", "perMessageGroupId"),
}
# What AWS answers for a FIFO attribute given to a standard queue: most are unknown there
# (FifoQueue too, even "false"), these two it names (LocalStack's recorded responses).
_FIFO_ONLY = {
    "FifoQueue": "Unknown Attribute FifoQueue.",
    "ContentBasedDeduplication": "Unknown Attribute ContentBasedDeduplication.",
    "DeduplicationScope": "You can specify the DeduplicationScope only when FifoQueue is set "
    "to true.",
    "FifoThroughputLimit": "You can specify the FifoThroughputLimit only when FifoQueue is "
    "set to true.",
}


def checked(attributes: Mapping[str, str], fifo: bool, creating: bool) -> dict[str, str]:
    """The attributes as they will be stored; raises InvalidAttributeName,
    InvalidAttributeValue."""
    result = {}
    for name, value in attributes.items():
        check = CHECKS.get(name)
        if check is None:
            raise InvalidAttributeName(f"Unknown Attribute {name}.")
        if name in _FIFO_ONLY and not fifo:
            check(name, value)  # a malformed value is refused as such first
            raise InvalidAttributeName(_FIFO_ONLY[name])
        if name == "FifoQueue" and not creating:
            # A FIFO queue stays one: "true" changes nothing, "false" is refused.
            if check(name, value) != "true":
                raise InvalidAttributeValue(
                    "Invalid value for the parameter FifoQueue. Reason: Modifying queue type "
                    "is not supported."
                )
            continue
        result[name] = check(name, value)
    if result.get("KmsMasterKeyId") and result.get("SqsManagedSseEnabled") == "true":
        raise InvalidAttributeName(
            "You can use one type of server-side encryption (SSE) at one time. You can either "
            "enable KMS SSE or SQS SSE."
        )
    return result


def md5_body(body: str) -> str:
    return hashlib.md5(body.encode(), usedforsecurity=False).hexdigest()


def md5_attributes(attributes: Mapping[str, Mapping[str, object]]) -> str | None:
    """SQS's digest of message attributes: for each attribute in name order, the name, the
    data type, a transport byte (1 string, 2 binary) and the value, each string or byte
    value preceded by its 4-byte big-endian length."""
    if not attributes:
        return None
    digest = hashlib.md5(usedforsecurity=False)
    for name in sorted(attributes):
        attribute = attributes[name]
        data_type = str(attribute["DataType"])
        for text in (name, data_type):
            encoded = text.encode()
            digest.update(struct.pack(">I", len(encoded)) + encoded)
        if data_type.startswith("Binary"):
            value = attribute["BinaryValue"]
            assert isinstance(value, bytes)
            digest.update(b"\x02" + struct.pack(">I", len(value)) + value)
        else:
            encoded = str(attribute["StringValue"]).encode()
            digest.update(b"\x01" + struct.pack(">I", len(encoded)) + encoded)
    return digest.hexdigest()
