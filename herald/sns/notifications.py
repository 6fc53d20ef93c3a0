"""What SNS delivers: the JSON documents of notifications, and the strings it signs
("Verifying the signatures of Amazon SNS messages"). Sans-IO: values in, values out.

A FIFO topic's notifications carry a SequenceNumber and are not signed: AWS's have no
SignatureVersion, Signature or SigningCertURL.

The string to sign is, for each field in the order below that the message has, the field
name and its value, each followed by a newline:

- Notification: Message, MessageId, Subject, Timestamp, TopicArn, Type
- SubscriptionConfirmation and UnsubscribeConfirmation: Message, MessageId, SubscribeURL,
  Timestamp, Token, TopicArn, Type
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Mapping
from typing import Any

_SIGNED = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": (
        "Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type",
    ),
    "UnsubscribeConfirmation": (
        "Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type",
    ),
}  # fmt: skip


def timestamp(epoch: float) -> str:
    """ISO 8601 in UTC with milliseconds, as SNS writes Timestamp."""
    moment = datetime.datetime.fromtimestamp(epoch, datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def string_to_sign(fields: Mapping[str, Any]) -> bytes:
    return "".join(
        f"{name}\n{fields[name]}\n" for name in _SIGNED[fields["Type"]] if name in fields
    ).encode()


def per_protocol(message: str, structure: str | None, protocol: str) -> str:
    """The body for one protocol: MessageStructure=json gives one per protocol, falling
    back to "default"."""
    if structure != "json":
        return message
    bodies = json.loads(message)
    return str(bodies.get(protocol, bodies["default"]))


def notification(
    *,
    message_id: str,
    topic_arn: str,
    subject: str | None,
    message: str,
    published_at: float,
    attributes: Mapping[str, Mapping[str, str]],
    sequence_number: str | None,
    signature_version: str,
    signing_cert_url: str,
    unsubscribe_url: str,
) -> dict[str, Any]:
    """The fields of a Notification, without its Signature (see ``signed``); a FIFO
    topic's (one with a sequence number) has no signature fields at all."""
    fields: dict[str, Any] = {"Type": "Notification", "MessageId": message_id}
    if sequence_number is not None:
        fields["SequenceNumber"] = sequence_number
    fields["TopicArn"] = topic_arn
    if subject is not None:
        fields["Subject"] = subject
    fields["Message"] = message
    fields["Timestamp"] = timestamp(published_at)
    if sequence_number is None:
        fields["SignatureVersion"] = signature_version
        fields["SigningCertURL"] = signing_cert_url
    fields["UnsubscribeURL"] = unsubscribe_url
    if attributes:
        fields["MessageAttributes"] = {n: dict(a) for n, a in attributes.items()}
    return fields


def confirmation(
    *,
    kind: str,
    message_id: str,
    token: str,
    topic_arn: str,
    subscription_arn: str,
    subscribe_url: str,
    created_at: float,
    signature_version: str,
    signing_cert_url: str,
) -> dict[str, Any]:
    """The fields of a SubscriptionConfirmation or UnsubscribeConfirmation, without its
    Signature. The SubscribeURL confirms the subscription (or restores it)."""
    if kind == "SubscriptionConfirmation":
        text = (
            f"You have chosen to subscribe to the topic {topic_arn}.\n"
            "To confirm the subscription, visit the SubscribeURL included in this message."
        )
    else:
        text = (
            f"You have chosen to deactivate subscription {subscription_arn}.\n"
            "To cancel this operation and restore the subscription, visit the SubscribeURL "
            "included in this message."
        )
    return {
        "Type": kind,
        "MessageId": message_id,
        "Token": token,
        "TopicArn": topic_arn,
        "Message": text,
        "SubscribeURL": subscribe_url,
        "Timestamp": timestamp(created_at),
        "SignatureVersion": signature_version,
        "SigningCertURL": signing_cert_url,
    }


def signed(fields: Mapping[str, Any], signature: str) -> str:
    """The JSON document, with Signature placed after SignatureVersion as SNS does."""
    document: dict[str, Any] = {}
    for name, value in fields.items():
        document[name] = value
        if name == "SignatureVersion":
            document["Signature"] = signature
    return rendered(document)


def rendered(fields: Mapping[str, Any]) -> str:
    """The JSON document of ``fields`` as they are (unsigned: a FIFO topic's)."""
    # SNS writes its documents indented, with " : " between name and value.
    return json.dumps(fields, ensure_ascii=False, indent=2, separators=(",", " : "))
