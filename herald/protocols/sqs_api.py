"""Queues over the AWS JSON 1.0 protocol (AmazonSQS.*), what current boto3 and the AWS CLI
speak; shapes from botocore's SQS model (sqs/2012-11-05)."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from herald.errors import (
    BatchEntryIdsNotDistinct,
    BatchRequestTooLong,
    EmptyBatchRequest,
    HeraldError,
    InvalidBatchEntryId,
    InvalidParameter,
    TooManyEntriesInBatchRequest,
    ValidationFailed,
)
from herald.protocols.json import Params
from herald.sqs import attributes as qa
from herald.sqs.moves import task_handle
from herald.sqs.service import MessageTooLong, Outgoing, SQSService
from herald.store.base_sqs import MoveTaskRecord, MoveTaskStatus, QueuedMessage, QueueRecord
from herald.types import RequestContext

TARGET_PREFIX = "AmazonSQS"
Result = dict[str, Any]
Handler = Callable[[SQSService, RequestContext, Params], Awaitable[Result]]
_SYSTEM_ATTRIBUTES = (
    "SenderId", "SentTimestamp", "ApproximateReceiveCount", "ApproximateFirstReceiveTimestamp",
    "MessageGroupId", "MessageDeduplicationId", "SequenceNumber", "DeadLetterQueueSourceArn",
    "AWSTraceHeader",
)  # fmt: skip
TRACE_HEADER = "AWSTraceHeader"  # the one message system attribute a sender may set
MAX_TRACE_HEADER_BYTES = 8192  # far above any X-Ray header; it is stored with the message


def url(ctx: RequestContext, queue: QueueRecord) -> str:
    return f"{ctx.endpoint or 'http://localhost'}/{queue.account_id}/{queue.name}"


def _attributes_in(p: Params, name: str = "Attributes") -> dict[str, str]:
    return p.string_map(name)


def _message_attributes_in(value: Any) -> dict[str, dict[str, object]]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValidationFailed("MessageAttributes must be a map.")
    result: dict[str, dict[str, object]] = {}
    for name, attribute in value.items():
        if not isinstance(attribute, dict):
            raise ValidationFailed(f"The message attribute '{name}' must be an object.")
        converted: dict[str, object] = {"DataType": attribute.get("DataType")}
        if "BinaryValue" in attribute:
            try:
                converted["BinaryValue"] = base64.b64decode(
                    str(attribute["BinaryValue"]), validate=True
                )
            except (binascii.Error, ValueError):
                raise ValidationFailed(
                    f"The message attribute '{name}' has invalid base64."
                ) from None
        if "StringValue" in attribute:
            if not isinstance(attribute["StringValue"], str):
                raise ValidationFailed(f"The message attribute '{name}' must have a string value.")
            _valid_text("StringValue", attribute["StringValue"])
            converted["StringValue"] = attribute["StringValue"]
        result[name] = converted
    return result


def _trace_header_in(value: Any) -> str | None:
    """The AWSTraceHeader of a MessageSystemAttributes map (SQS "Message system
    attributes"): a String, the only name a sender may use."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ValidationFailed("MessageSystemAttributes must be a map.")
    for name in value:
        if name != TRACE_HEADER:
            raise InvalidParameter(
                f"Message system attribute name '{name}' is invalid: the only one a sender "
                f"may set is {TRACE_HEADER}."
            )
    attribute = value.get(TRACE_HEADER)
    if attribute is None:
        return None
    if not isinstance(attribute, dict) or attribute.get("DataType") != "String":
        raise InvalidParameter(
            f"The message system attribute '{TRACE_HEADER}' must have the data type String."
        )
    text = attribute.get("StringValue")
    if not isinstance(text, str) or not text:
        raise InvalidParameter(
            f"The message system attribute '{TRACE_HEADER}' must have a non-empty StringValue."
        )
    _valid_text(TRACE_HEADER, text)
    if len(text.encode("utf-8")) > MAX_TRACE_HEADER_BYTES:
        raise InvalidParameter(
            f"The message system attribute '{TRACE_HEADER}' is longer than "
            f"{MAX_TRACE_HEADER_BYTES} bytes."
        )
    return text


def _ambient_trace(ctx: RequestContext) -> str | None:
    """The request's X-Amzn-Trace-Id, which SQS keeps as the AWSTraceHeader of a message
    that does not give its own (AWS X-Ray "Amazon SQS"); one that could not be stored as
    the attribute is left out rather than failing the send."""
    value = ctx.trace_id
    if not value or len(value.encode("utf-8", "replace")) > MAX_TRACE_HEADER_BYTES:
        return None
    return value if value.isprintable() else None


def _outgoing(entry: dict[str, Any], ctx: RequestContext) -> Outgoing:
    delay = entry.get("DelaySeconds")
    if delay is not None and (isinstance(delay, bool) or not isinstance(delay, int)):
        raise ValidationFailed("DelaySeconds must be an integer.")
    body = entry.get("MessageBody")
    if body is not None and not isinstance(body, str):
        raise ValidationFailed("MessageBody must be a string.")
    for name in ("MessageGroupId", "MessageDeduplicationId"):
        if entry.get(name) is not None and not isinstance(entry.get(name), str):
            raise ValidationFailed(f"{name} must be a string.")
    for name in ("MessageBody", "MessageGroupId", "MessageDeduplicationId"):
        _valid_text(name, entry.get(name))
    return Outgoing(
        body=body,
        delay_seconds=delay,
        attributes=_message_attributes_in(entry.get("MessageAttributes")),
        group_id=entry.get("MessageGroupId"),
        dedup_id=entry.get("MessageDeduplicationId"),
        trace_header=_trace_header_in(entry.get("MessageSystemAttributes")) or _ambient_trace(ctx),
    )


def _valid_text(name: str, value: object) -> None:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValidationFailed(f"{name} must be valid Unicode text.") from None


# -- queues ------------------------------------------------------------------------------


async def create_queue(sqs: SQSService, ctx: RequestContext, p: Params) -> Result:
    queue = await sqs.create_queue(
        ctx, p.string("QueueName"), _attributes_in(p), p.string_map("tags")
    )
    return {"QueueUrl": url(ctx, queue)}


async def get_queue_url(sqs: SQSService, ctx: RequestContext, p: Params) -> Result:
    queue = await sqs.queue_by_name(ctx, p.string("QueueName"), p.string("QueueOwnerAWSAccountId"))
    return {"QueueUrl": url(ctx, queue)}


async def list_queues(sqs: SQSService, ctx: RequestContext, p: Params) -> Result:
    queues = await sqs.list_queues(ctx, p.string("QueueNamePrefix"))
    limit = p.integer("MaxResults")
    if limit is not None and not 1 <= limit <= 1000:
        raise ValidationFailed("MaxResults must be between 1 and 1000.")
    token = p.string("NextToken")
    if token is not None:
        try:
            after = base64.urlsafe_b64decode(token.encode()).decode()
        except (binascii.Error, UnicodeError, ValueError):
            raise ValidationFailed("Invalid NextToken.") from None
        queues = [q for q in queues if q.name > after]
    result: Result = {}
    chosen = queues[:limit] if limit else queues[:1000]
    if chosen:
        result["QueueUrls"] = [url(ctx, q) for q in chosen]
    if limit and len(queues) > limit:
        result["NextToken"] = base64.urlsafe_b64encode(chosen[-1].name.encode()).decode()
    return result


async def delete_queue(sqs: SQSService, ctx: RequestContext, p: Params) -> Result:
    await sqs.delete_queue(ctx, p.string("QueueUrl"))
    return {}


async def get_queue_attributes(sqs: SQSService, ctx: RequestContext, p: Params) -> Result:
    names = p.strings("AttributeNames") or ["All"] if "AttributeNames" in p.raw else []
    shown = await sqs.get_attributes(ctx, p.string("QueueUrl"), names)
    return {"Attributes": shown} if shown else {}


async def set_queue_attributes(sqs: SQSService, ctx: RequestContext, p: Params) -> Result:
    await sqs.set_attributes(ctx, p.string("QueueUrl"), _attributes_in(p))
    return {}


async def add_permission(sqs: SQSService, ctx: RequestContext, p: Params) -> Result:
    await sqs.add_permission(
        ctx, p.string("QueueUrl"), p.string("Label"), p.strings("AWSAccountIds"),
        p.strings("Actions"),
    )  # fmt: skip
    return {}


async def remove_permission(sqs: SQSService, ctx: RequestContext, p: Params) -> Result:
    await sqs.remove_permission(ctx, p.string("QueueUrl"), p.string("Label"))
    return {}


async def tag_queue(sqs: SQSService, ctx: RequestContext, p: Params) -> Result:
    await sqs.tag(ctx, p.string("QueueUrl"), p.string_map("Tags"))
    return {}


async def untag_queue(sqs: SQSService, ctx: RequestContext, p: Params) -> Result:
    await sqs.untag(ctx, p.string("QueueUrl"), p.strings("TagKeys"))
    return {}


async def list_queue_tags(sqs: SQSService, ctx: RequestContext, p: Params) -> Result:
    tags = await sqs.list_tags(ctx, p.string("QueueUrl"))
    return {"Tags": dict(tags)} if tags else {}


async def purge_queue(sqs: SQSService, ctx: RequestContext, p: Params) -> Result:
    await sqs.purge(ctx, p.string("QueueUrl"))
    return {}


async def list_dead_letter_source_queues(sqs: SQSService, ctx: RequestContext, p: Params) -> Result:
    sources = await sqs.dead_letter_sources(ctx, p.string("QueueUrl"))
    return {"queueUrls": [url(ctx, q) for q in sources]}


# -- message move tasks (dead-letter queue redrive) --------------------------------------


async def start_message_move_task(sqs: SQSService, ctx: RequestContext, p: Params) -> Result:
    task = await sqs.moves.start(
        ctx,
        p.string("SourceArn"),
        p.string("DestinationArn"),
        p.integer("MaxNumberOfMessagesPerSecond"),
    )
    return {"TaskHandle": task_handle(task)}


async def list_message_move_tasks(sqs: SQSService, ctx: RequestContext, p: Params) -> Result:
    tasks = await sqs.moves.list(ctx, p.string("SourceArn"), p.integer("MaxResults"))
    return {"Results": [_move_task(t) for t in tasks]}


async def cancel_message_move_task(sqs: SQSService, ctx: RequestContext, p: Params) -> Result:
    task = await sqs.moves.cancel(ctx, p.string("TaskHandle"))
    return {"ApproximateNumberOfMessagesMoved": task.moved}


def _move_task(task: MoveTaskRecord) -> Result:
    """A ListMessageMoveTasksResultEntry, its members in the model's order: the handle only
    of a RUNNING task, the destination and rate only when the task was started with them,
    the reason only of a FAILED one."""
    running, failed = task.status is MoveTaskStatus.RUNNING, task.status is MoveTaskStatus.FAILED
    entry: Result = {
        "TaskHandle": task_handle(task) if running else None,
        "Status": task.status.value,
        "SourceArn": task.source_arn,
        "DestinationArn": task.destination_arn,
        "MaxNumberOfMessagesPerSecond": task.max_per_second,
        "ApproximateNumberOfMessagesMoved": task.moved,
        "ApproximateNumberOfMessagesToMove": task.to_move,
        "FailureReason": task.failure_reason if failed else None,
        "StartedTimestamp": int(task.started_at * 1000),
    }
    return {k: v for k, v in entry.items() if v is not None}


# -- messages ----------------------------------------------------------------------------


def _sent(message: QueuedMessage) -> Result:
    result: Result = {"MessageId": message.message_id, "MD5OfMessageBody": message.md5_body}
    if message.md5_attributes:
        result["MD5OfMessageAttributes"] = message.md5_attributes
    if message.trace_header:
        # Digested as message attributes are ("Calculating the MD5 message digest").
        result["MD5OfMessageSystemAttributes"] = qa.md5_attributes(
            {TRACE_HEADER: {"DataType": "String", "StringValue": message.trace_header}}
        )
    if message.sequence_number:
        result["SequenceNumber"] = message.sequence_number
    return result


async def send_message(sqs: SQSService, ctx: RequestContext, p: Params) -> Result:
    (message,) = await sqs.send(ctx, p.string("QueueUrl"), [_outgoing(p.raw, ctx)])
    return _sent(message)


def _entries(p: Params, name: str) -> list[dict[str, Any]]:
    entries = p.raw.get(name)
    if not entries:
        raise EmptyBatchRequest(
            "There should be at least one SendMessageBatchRequestEntry in the request."
        )
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise ValidationFailed(f"{name} must be a list of objects.")
    if len(entries) > 10:
        raise TooManyEntriesInBatchRequest(
            f"Maximum number of entries per request are 10. You have sent {len(entries)}."
        )
    ids = [e.get("Id") for e in entries]
    for entry_id in ids:
        if (
            not isinstance(entry_id, str)
            or not entry_id
            or len(entry_id) > 80
            or not all(c.isalnum() or c in "-_" for c in entry_id)
        ):
            raise InvalidBatchEntryId(
                "A batch entry id can only contain alphanumeric characters, hyphens and "
                "underscores. It can be at most 80 letters long."
            )
    if len(set(ids)) != len(ids):
        raise BatchEntryIdsNotDistinct("Two or more batch entries in the request have the same Id.")
    return entries


MAX_BATCH_BYTES = 1_048_576


def _entry_bytes(entry: dict[str, Any]) -> int:
    """A batch entry's size as SQS counts it: its body and its attributes' names, types
    and values (a malformed entry counts what can be read; it fails on its own)."""
    body = entry.get("MessageBody")
    size = len(body.encode("utf-8", "replace")) if isinstance(body, str) else 0
    attributes = entry.get("MessageAttributes")
    if isinstance(attributes, dict):
        for name, attribute in attributes.items():
            size += len(str(name).encode("utf-8", "replace"))
            if isinstance(attribute, dict):
                for key in ("DataType", "StringValue"):
                    value = attribute.get(key)
                    if isinstance(value, str):
                        size += len(value.encode("utf-8", "replace"))
                binary = attribute.get("BinaryValue")
                if isinstance(binary, str):
                    size += len(binary) * 3 // 4  # base64 on the wire
    return size


def _failed(entry_id: str, exc: HeraldError, code: str) -> Result:
    message = exc.message
    if isinstance(exc, MessageTooLong):
        # A batch entry's is worded otherwise than SendMessage's (as AWS answers).
        message = (
            "One or more parameters cannot be validated. Reason: Message must be shorter "
            f"than {exc.limit} bytes."
        )
    return {"Id": entry_id, "SenderFault": True, "Code": code, "Message": message}


async def send_message_batch(sqs: SQSService, ctx: RequestContext, p: Params) -> Result:
    queue = await sqs.queue(ctx, p.string("QueueUrl"), "SendMessage")
    entries = _entries(p, "Entries")
    if queue.attributes.get("FifoQueue") == "true":
        # AWS refuses the whole batch, not the entry.
        if not all(e.get("MessageGroupId") for e in entries):
            raise InvalidParameter("The request must contain the parameter MessageGroupId.")
        if queue.attributes.get("ContentBasedDeduplication") != "true" and not all(
            e.get("MessageDeduplicationId") is not None for e in entries
        ):
            raise InvalidParameter(
                "The queue should either have ContentBasedDeduplication enabled or "
                "MessageDeduplicationId provided explicitly"
            )
    total = sum(_entry_bytes(e) for e in entries)
    if total > MAX_BATCH_BYTES:
        # Measured as a whole, like a single message's limit (bodies and attributes).
        raise BatchRequestTooLong(
            f"Batch requests cannot be longer than {MAX_BATCH_BYTES} bytes. You have sent "
            f"{total} bytes."
        )
    outgoing: list[Outgoing] = []
    malformed: dict[int, HeraldError] = {}
    for index, entry in enumerate(entries):
        try:
            outgoing.append(_outgoing(entry, ctx))
        except HeraldError as exc:
            malformed[index] = exc
    outcomes = iter(await sqs.enqueue_each(ctx, queue, outgoing) if outgoing else [])
    successful, failed = [], []
    for index, entry in enumerate(entries):
        outcome = malformed.get(index) or next(outcomes)
        if isinstance(outcome, HeraldError):
            failed.append(_failed(entry["Id"], outcome, _code(outcome)))
        else:
            successful.append({"Id": entry["Id"], **_sent(outcome)})
    return {"Successful": successful, "Failed": failed}


def _wanted(names: Sequence[str]) -> set[str]:
    if "All" in names:
        return set(_SYSTEM_ATTRIBUTES)
    return {n for n in names if n in _SYSTEM_ATTRIBUTES}


def _received(message: QueuedMessage, system: set[str], attribute_names: Sequence[str]) -> Result:
    shown: Result = {
        "MessageId": message.message_id,
        "ReceiptHandle": message.receipt_handle,
        "MD5OfBody": message.md5_body,
        "Body": message.body.decode(),
    }
    values = {
        "SenderId": message.sender_id,
        "SentTimestamp": str(int(message.sent_at * 1000)),
        "ApproximateReceiveCount": str(message.receive_count),
        "ApproximateFirstReceiveTimestamp": str(int((message.first_received_at or 0) * 1000)),
        "MessageGroupId": message.group_id,
        "MessageDeduplicationId": (message.dedup_id or "").split("\x00")[-1] or None,
        "SequenceNumber": message.sequence_number,
        "DeadLetterQueueSourceArn": message.dead_letter_source,
        TRACE_HEADER: message.trace_header,
    }
    chosen = {k: v for k, v in values.items() if k in system and v is not None}
    if chosen:
        shown["Attributes"] = chosen
    attributes = json.loads(message.message_attributes)
    if attributes and attribute_names:
        selected = {n: a for n, a in attributes.items() if _wanted_attribute(n, attribute_names)}
        if selected:
            shown["MessageAttributes"] = selected
            shown["MD5OfMessageAttributes"] = qa.md5_attributes(
                {n: _decoded(a) for n, a in selected.items()}
            )
    return shown


def _wanted_attribute(name: str, wanted: Sequence[str]) -> bool:
    """Whether a MessageAttributeNames selection takes the attribute: "All", "*" or ".*"
    take every one, "Prefix.*" those whose names start with "Prefix" (so "Hel.*" takes
    "Hello" and "Help.Me", as AWS answers)."""
    return any(
        w in ("All", "*", ".*") or w == name or (w.endswith(".*") and name.startswith(w[:-2]))
        for w in wanted
    )


def _decoded(attribute: dict[str, str]) -> dict[str, object]:
    if "BinaryValue" in attribute:
        return {
            "DataType": attribute["DataType"],
            "BinaryValue": base64.b64decode(attribute["BinaryValue"]),
        }
    return dict(attribute)


async def receive_message(sqs: SQSService, ctx: RequestContext, p: Params) -> Result:
    _, messages = await sqs.receive(
        ctx,
        p.string("QueueUrl"),
        p.integer("MaxNumberOfMessages"),
        p.integer("VisibilityTimeout"),
        p.integer("WaitTimeSeconds"),
    )
    system = _wanted([*p.strings("AttributeNames"), *p.strings("MessageSystemAttributeNames")])
    names = p.strings("MessageAttributeNames")
    return {"Messages": [_received(m, system, names) for m in messages]} if messages else {}


async def delete_message(sqs: SQSService, ctx: RequestContext, p: Params) -> Result:
    await sqs.delete(ctx, p.string("QueueUrl"), p.string("ReceiptHandle"))
    return {}


async def delete_message_batch(sqs: SQSService, ctx: RequestContext, p: Params) -> Result:
    queue = await sqs.queue(ctx, p.string("QueueUrl"), "DeleteMessage")  # before the entries
    entries = _entries(p, "Entries")
    handles, malformed = _handles(entries)
    failures = await sqs.delete_each(queue, handles)
    return _outcomes(entries, failures, malformed)


async def change_message_visibility(sqs: SQSService, ctx: RequestContext, p: Params) -> Result:
    await sqs.change_visibility(
        ctx, p.string("QueueUrl"), p.string("ReceiptHandle"), p.integer("VisibilityTimeout")
    )
    return {}


async def change_message_visibility_batch(
    sqs: SQSService, ctx: RequestContext, p: Params
) -> Result:
    queue = await sqs.queue(ctx, p.string("QueueUrl"), "ChangeMessageVisibility")
    entries = _entries(p, "Entries")
    handles, malformed = _handles(entries)
    changes = []
    for entry, handle in zip(entries, handles, strict=True):
        timeout = entry.get("VisibilityTimeout")
        valid = isinstance(timeout, int) and not isinstance(timeout, bool)
        changes.append((handle, timeout if valid else None))
    failures = await sqs.change_visibility_each(queue, changes)
    return _outcomes(entries, failures, malformed)


def _handles(entries: Sequence[dict[str, Any]]) -> tuple[list[str | None], dict[int, HeraldError]]:
    """Each entry's receipt handle, and the failures of those whose handle is no string."""
    handles: list[str | None] = []
    malformed: dict[int, HeraldError] = {}
    for index, entry in enumerate(entries):
        try:
            handles.append(_handle(entry))
        except HeraldError as exc:
            malformed[index] = exc
            handles.append(None)
    return handles, malformed


def _outcomes(
    entries: Sequence[dict[str, Any]],
    failures: Sequence[HeraldError | None],
    malformed: dict[int, HeraldError],
) -> Result:
    successful, failed = [], []
    for index, (entry, failure) in enumerate(zip(entries, failures, strict=True)):
        failure = malformed.get(index, failure)
        if failure is None:
            successful.append({"Id": entry["Id"]})
        else:
            failed.append(_failed(entry["Id"], failure, _code(failure)))
    return {"Successful": successful, "Failed": failed}


def _handle(entry: dict[str, Any]) -> str | None:
    handle = entry.get("ReceiptHandle")
    if handle is not None and not isinstance(handle, str):
        raise ValidationFailed("ReceiptHandle must be a string.")
    return handle


def _code(exc: HeraldError) -> str:
    """A failed batch entry's Code: the Query protocol's name for the two errors whose
    JSON shape names differ (InvalidParameterValueException, ...), as AWS answers."""
    from herald.protocols.errors import SQS, SQS_QUERY_CODES, lookup

    code = lookup(SQS, exc).code
    return SQS_QUERY_CODES[code] if code in _ENTRY_CODES else code


_ENTRY_CODES = ("InvalidParameterValueException", "MissingRequiredParameterException")


ACTIONS: dict[str, Handler] = {
    "CreateQueue": create_queue,
    "GetQueueUrl": get_queue_url,
    "ListQueues": list_queues,
    "DeleteQueue": delete_queue,
    "GetQueueAttributes": get_queue_attributes,
    "SetQueueAttributes": set_queue_attributes,
    "TagQueue": tag_queue,
    "UntagQueue": untag_queue,
    "ListQueueTags": list_queue_tags,
    "PurgeQueue": purge_queue,
    "ListDeadLetterSourceQueues": list_dead_letter_source_queues,
    "AddPermission": add_permission,
    "RemovePermission": remove_permission,
    "SendMessage": send_message,
    "SendMessageBatch": send_message_batch,
    "ReceiveMessage": receive_message,
    "DeleteMessage": delete_message,
    "DeleteMessageBatch": delete_message_batch,
    "ChangeMessageVisibility": change_message_visibility,
    "ChangeMessageVisibilityBatch": change_message_visibility_batch,
    "StartMessageMoveTask": start_message_move_task,
    "ListMessageMoveTasks": list_message_move_tasks,
    "CancelMessageMoveTask": cancel_message_move_task,
}
