"""Queues over the AWS Query protocol (form in, XML out), what older SDKs speak.

The operations are the JSON ones (``sqs_api``): the Query form is read into the JSON
request shape, the JSON handler runs, and its answer is written as SQS's XML (namespace
http://queue.amazonaws.com/doc/2012-11-05/). Shapes from botocore's SQS model.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from herald.errors import ValidationFailed
from herald.protocols import sqs_api, xml
from herald.protocols.json import Params
from herald.protocols.query import QueryParams
from herald.sqs.service import QueueDoesNotExist, SQSService
from herald.types import RequestContext

NAMESPACE = "http://queue.amazonaws.com/doc/2012-11-05/"
_INTEGER = re.compile(r"-?[0-9]{1,12}")
VERSION = "2012-11-05"
Result = list[xml.Node] | None
Handler = Callable[[SQSService, RequestContext, QueryParams], Awaitable[Result]]

_SCALARS = (
    "QueueName", "QueueUrl", "QueueNamePrefix", "NextToken", "MessageBody", "ReceiptHandle",
    "MessageGroupId", "MessageDeduplicationId", "QueueOwnerAWSAccountId",
    "ReceiveRequestAttemptId", "Label", "SourceArn", "DestinationArn", "TaskHandle",
)  # fmt: skip
_INTEGERS = ("DelaySeconds", "MaxNumberOfMessages", "VisibilityTimeout", "WaitTimeSeconds",
             "MaxResults", "MaxNumberOfMessagesPerSecond")  # fmt: skip
_LISTS = {
    "AttributeName": "AttributeNames",
    "MessageAttributeName": "MessageAttributeNames",
    "MessageSystemAttributeName": "MessageSystemAttributeNames",
    "TagKey": "TagKeys",
    "AWSAccountId": "AWSAccountIds",
    "ActionName": "Actions",
}
_ENTRIES = (
    "SendMessageBatchRequestEntry",
    "DeleteMessageBatchRequestEntry",
    "ChangeMessageVisibilityBatchRequestEntry",
)


def _integer(name: str, value: str) -> int:
    if not _INTEGER.fullmatch(value):
        raise ValidationFailed(f"Value {value} for parameter {name} is invalid.")
    return int(value)


def _message_attributes(
    p: QueryParams, prefix: str = "MessageAttribute"
) -> dict[str, dict[str, str]]:
    result: dict[str, dict[str, str]] = {}
    for member in p.members(prefix):
        name = member.get("Name") or ""
        value: dict[str, str] = {"DataType": member.get("Value.DataType") or ""}
        for field in ("StringValue", "BinaryValue"):
            text = member.get(f"Value.{field}")
            if text is not None:
                value[field] = text
        result[name] = value
    return result


def _entry(p: QueryParams) -> dict[str, Any]:
    entry: dict[str, Any] = {}
    for name in ("Id", "MessageBody", "ReceiptHandle", "MessageGroupId", "MessageDeduplicationId"):
        if p.get(name) is not None:
            entry[name] = p.get(name)
    for name in ("DelaySeconds", "VisibilityTimeout"):
        text = p.get(name)
        if text is not None:
            entry[name] = _integer(name, text)
    attributes = _message_attributes(p)
    if attributes:
        entry["MessageAttributes"] = attributes
    system = _message_attributes(p, "MessageSystemAttribute")
    if system:
        entry["MessageSystemAttributes"] = system
    return entry


def to_json(p: QueryParams) -> dict[str, Any]:
    """The JSON request shape of a Query request."""
    data: dict[str, Any] = {}
    for name in _SCALARS:
        if p.get(name) is not None:
            data[name] = p.get(name)
    for name in _INTEGERS:
        text = p.get(name)
        if text is not None:
            data[name] = _integer(name, text)
    for prefix, name in _LISTS.items():
        values = p.scalars(prefix)
        if values:
            data[name] = values
    attributes = {m.get("Name") or "": m.get("Value") or "" for m in p.members("Attribute")}
    if attributes:
        data["Attributes"] = attributes
    tags = {m.get("Key") or "": m.get("Value") or "" for m in p.members("Tag")}
    if tags:
        data["tags"] = tags
        data["Tags"] = tags
    message_attributes = _message_attributes(p)
    if message_attributes:
        data["MessageAttributes"] = message_attributes
    system_attributes = _message_attributes(p, "MessageSystemAttribute")
    if system_attributes:
        data["MessageSystemAttributes"] = system_attributes
    for prefix in _ENTRIES:
        entries = [_entry(m) for m in p.members(prefix)]
        if entries:
            data["Entries"] = entries
    return data


def _value(name: str, value: Any) -> xml.Node:
    """One JSON answer field as SQS's XML renders it."""
    if isinstance(value, bool):
        return xml.el(name, "true" if value else "false")
    if isinstance(value, str | int):
        return xml.el(name, str(value))
    raise TypeError(name)


def _attributes(name: str, mapping: dict[str, str]) -> list[xml.Node]:
    return [
        xml.node(name, [xml.el("Name", key), xml.el("Value", value)])
        for key, value in mapping.items()
    ]


def _message(message: dict[str, Any]) -> xml.Node:
    children = [
        _value(k, message[k])
        for k in ("MessageId", "ReceiptHandle", "MD5OfBody", "Body", "MD5OfMessageAttributes")
        if k in message
    ]
    children += _attributes("Attribute", message.get("Attributes", {}))
    for name, attribute in message.get("MessageAttributes", {}).items():
        value = [
            xml.el(field, attribute[field])
            for field in ("StringValue", "BinaryValue", "DataType")
            if field in attribute
        ]
        children.append(
            xml.node("MessageAttribute", [xml.el("Name", name), xml.node("Value", value)])
        )
    return xml.node("Message", children)


def _batch(answer: dict[str, Any], success: str) -> Result:
    nodes = [
        xml.node(success, [_value(k, v) for k, v in entry.items()])
        for entry in answer.get("Successful", [])
    ]
    nodes += [
        xml.node("BatchResultErrorEntry", [_value(k, v) for k, v in entry.items()])
        for entry in answer.get("Failed", [])
    ]
    return nodes


def _render(action: str, answer: dict[str, Any]) -> Result:
    if action == "ReceiveMessage":
        return [_message(m) for m in answer.get("Messages", [])]
    if action == "GetQueueAttributes":
        return _attributes("Attribute", answer.get("Attributes", {}))
    if action == "ListQueueTags":
        return [
            xml.node("Tag", [xml.el("Key", k), xml.el("Value", v)])
            for k, v in answer.get("Tags", {}).items()
        ]
    if action in ("ListQueues", "ListDeadLetterSourceQueues"):
        urls = answer.get("QueueUrls", answer.get("queueUrls", []))
        nodes = [xml.el("QueueUrl", u) for u in urls]
        if "NextToken" in answer:
            nodes.append(xml.el("NextToken", answer["NextToken"]))
        return nodes
    if action == "ListMessageMoveTasks":
        # A flattened list of ListMessageMoveTasksResultEntry (the Query model's name).
        return [
            xml.node("ListMessageMoveTasksResultEntry", [_value(k, v) for k, v in e.items()])
            for e in answer.get("Results", [])
        ]
    if action.endswith("Batch"):
        return _batch(answer, f"{action}ResultEntry")
    if not answer:
        return None
    return [_value(k, v) for k, v in answer.items()]


def _query(action: str, handler: sqs_api.Handler) -> Handler:
    async def run(sqs: SQSService, ctx: RequestContext, p: QueryParams) -> Result:
        try:
            answer = await handler(sqs, ctx, Params(to_json(p)))
        except QueueDoesNotExist:
            # The Query protocol's wording (AWS.SimpleQueueService.NonExistentQueue).
            raise QueueDoesNotExist(
                "The specified queue does not exist for this wsdl version."
            ) from None
        return _render(action, answer)

    return run


ACTIONS: dict[str, Handler] = {name: _query(name, h) for name, h in sqs_api.ACTIONS.items()}

__all__ = ["ACTIONS", "NAMESPACE", "VERSION"]
