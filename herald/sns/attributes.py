"""Topic and subscription attributes: which exist, how each is checked, what AWS shows.

Each settable attribute has a checker in a table (name -> function(value, context) ->
normalised value); a name absent from the table is refused as AWS refuses it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from herald.auth.policy import parse_policy
from herald.auth.policy.document import Kind
from herald.errors import InvalidParameter, MalformedPolicy
from herald.sns import documents, filter_policy, validation

DEFAULT_HTTP_RETRY = {
    "minDelayTarget": 20,
    "maxDelayTarget": 20,
    "numRetries": 3,
    "numMaxDelayRetries": 0,
    "numNoDelayRetries": 0,
    "numMinDelayRetries": 0,
    "backoffFunction": "linear",
}
DEFAULT_TOPIC_DELIVERY_POLICY = {
    "http": {
        "defaultHealthyRetryPolicy": DEFAULT_HTTP_RETRY,
        "disableSubscriptionOverrides": False,
        "defaultRequestPolicy": {"headerContentType": "text/plain; charset=UTF-8"},
    }
}
_BACKOFF = ("linear", "arithmetic", "geometric", "exponential")
_ROLE_ARN = re.compile(r"^arn:aws:iam::\d{12}:role/[\w+=,.@/-]{1,512}$")
_SQS_ARN = re.compile(r"^arn:aws:sqs:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,80}(\.fifo)?$")


class Reason(Exception):
    """Why an attribute value is refused; the caller adds the prefix AWS uses there.

    AWS words the same failure "Invalid parameter: Attributes Reason: X" on CreateTopic and
    Subscribe, and "Invalid parameter: X" on SetTopicAttributes and SetSubscriptionAttributes.
    """


CREATE_PREFIX = "Invalid parameter: Attributes Reason: "
SET_PREFIX = "Invalid parameter: "


def _json_object(field: str, value: str) -> dict[str, Any]:
    try:
        return documents.parse_object(value)
    except documents.DocumentError as exc:
        raise Reason(f"{field}: {exc}") from None


@dataclass(frozen=True)
class TopicFacts:
    """What a topic attribute checker may need to know about its topic."""

    fifo: bool
    creating: bool


Checker = Callable[[str, str, TopicFacts], str]


def _display_name(name: str, value: str, facts: TopicFacts) -> str:
    if len(value) > 100 or _CONTROL.search(value):
        raise Reason(
            "DisplayName Reason: must be at most 100 characters, without control characters"
        )
    return value


def _policy(name: str, value: str, facts: TopicFacts) -> str:
    if len(value) > 30_720:
        raise Reason("Policy Reason: Policy is too long")
    try:
        document = json.loads(value)
    except (ValueError, RecursionError):
        document = None
    statements = document.get("Statement") if isinstance(document, dict) else None
    if not isinstance(statements, (list, dict)):
        raise Reason("Policy Error: null")
    for statement in statements if isinstance(statements, list) else [statements]:
        if not isinstance(statement, dict) or statement.get("Effect") not in ("Allow", "Deny"):
            raise Reason("Policy Reason: each Statement needs an Effect of Allow or Deny")
        actions = statement.get("Action", [])
        for action in actions if isinstance(actions, list) else [actions]:
            if not isinstance(action, str) or not (
                action == "*" or action.lower().startswith("sns:")
            ):
                raise Reason("Policy statement action out of service scope!")
    # The same parser that enforces the policy checks it, so what is stored is enforceable.
    try:
        parse_policy(document, Kind.RESOURCE, "topic policy")
    except MalformedPolicy as exc:
        raise Reason(f"Policy Error: {exc.message}") from None
    return value


def topic_delivery_policy(value: str) -> str:
    """Check a topic DeliveryPolicy and return it as AWS stores it."""
    document = _json_object("DeliveryPolicy", value)
    http = document.get("http") or {}
    if not isinstance(http, dict):
        raise Reason("DeliveryPolicy: http must be a JSON object")
    normalised: dict[str, Any] = {}
    retry = http.get("defaultHealthyRetryPolicy")
    if retry is not None:
        _retry_policy("http.defaultHealthyRetryPolicy", retry)
        normalised["defaultHealthyRetryPolicy"] = retry
    if http.get("defaultSicklyRetryPolicy") is not None:
        normalised["defaultSicklyRetryPolicy"] = http["defaultSicklyRetryPolicy"]
    throttle = http.get("defaultThrottlePolicy")
    if throttle is not None:
        _throttle_policy("http.defaultThrottlePolicy", throttle)
        normalised["defaultThrottlePolicy"] = throttle
    overrides = http.get("disableSubscriptionOverrides", False)
    if not isinstance(overrides, bool):
        raise Reason("DeliveryPolicy: http.disableSubscriptionOverrides must be true or false")
    normalised["disableSubscriptionOverrides"] = overrides
    if http.get("defaultRequestPolicy") is not None:
        normalised["defaultRequestPolicy"] = http["defaultRequestPolicy"]
    return _compact({"http": normalised})


def subscription_delivery_policy(value: str) -> str:
    """Check a subscription DeliveryPolicy and return it as AWS stores it."""
    document = _json_object("DeliveryPolicy", value)
    retry = document.get("healthyRetryPolicy")
    if retry is not None:
        _retry_policy("healthyRetryPolicy", retry)
        retry = {**DEFAULT_HTTP_RETRY, **retry}
    throttle = document.get("throttlePolicy")
    if throttle is not None:
        _throttle_policy("throttlePolicy", throttle)
    return _compact(
        {
            "healthyRetryPolicy": retry,
            "sicklyRetryPolicy": document.get("sicklyRetryPolicy"),
            "throttlePolicy": throttle,
            "requestPolicy": document.get("requestPolicy"),
            "guaranteed": bool(document.get("guaranteed", False)),
        }
    )


def _throttle_policy(path: str, throttle: Any) -> None:
    rate = throttle.get("maxReceivesPerSecond") if isinstance(throttle, dict) else None
    if not isinstance(rate, int) or isinstance(rate, bool) or rate < 1:
        raise Reason(
            f"DeliveryPolicy: {path}.maxReceivesPerSecond must be greater than or equal to 1"
        )


_RETRY_BOUNDS = {
    "minDelayTarget": (1, 3600),
    "maxDelayTarget": (1, 3600),
    "numRetries": (0, 100),
    "numMaxDelayRetries": (0, 100),
    "numNoDelayRetries": (0, 100),
    "numMinDelayRetries": (0, 100),
}


def _retry_policy(path: str, retry: Any) -> None:
    if not isinstance(retry, dict):
        raise Reason(f"DeliveryPolicy: {path} must be a JSON object")
    for key, value in retry.items():
        if key == "backoffFunction":
            if value not in _BACKOFF:
                raise Reason(
                    f"DeliveryPolicy: {path}.backoffFunction must be one of " + ", ".join(_BACKOFF)
                )
            continue
        bounds = _RETRY_BOUNDS.get(key)
        if bounds is None:
            raise Reason(f"DeliveryPolicy: {path}.{key} is not a valid field")
        if not isinstance(value, int) or isinstance(value, bool):
            raise Reason(f"DeliveryPolicy: {path}.{key} must be an integer")
        if value < bounds[0]:
            raise Reason(
                f"DeliveryPolicy: {path}.{key} must be greater than or equal to {bounds[0]}"
            )
        if value > bounds[1]:
            raise Reason(f"DeliveryPolicy: {path}.{key} must be less than or equal to {bounds[1]}")
    merged = {**DEFAULT_HTTP_RETRY, **retry}
    if merged["minDelayTarget"] > merged["maxDelayTarget"]:
        raise Reason(
            f"DeliveryPolicy: {path}.minDelayTarget must be less than or equal to maxDelayTarget"
        )


def _topic_delivery_policy(name: str, value: str, facts: TopicFacts) -> str:
    return topic_delivery_policy(value)


def _role_arn(name: str, value: str, facts: TopicFacts) -> str:
    if not _ROLE_ARN.fullmatch(value):
        raise Reason(f"{name}: {value} is not a valid IAM role ARN")
    return value


def _sample_rate(name: str, value: str, facts: TopicFacts) -> str:
    rate = validation.small_int(value, max_digits=3)
    if rate is None or rate > 100:
        raise Reason(f"{name}: {value} value provided is not an integer between 0-100")
    return value


def _fifo_only(check: Checker) -> Checker:
    def checked(name: str, value: str, facts: TopicFacts) -> str:
        if not facts.fifo:
            raise Reason(f"{name}: only FIFO topics support this attribute")
        return check(name, value, facts)

    return checked


def _bool(name: str, value: str, facts: TopicFacts) -> str:
    if value.lower() not in ("true", "false"):
        raise Reason(f"{name}: Invalid value [{value}]. Must be true or false.")
    return value.lower()


def _fifo_topic(name: str, value: str, facts: TopicFacts) -> str:
    if not facts.creating:
        raise Reason("AttributeName")
    return _bool(name, value, facts)


def _choice(*allowed: str) -> Checker:
    def checked(name: str, value: str, facts: TopicFacts) -> str:
        if value not in allowed:
            raise Reason(f"{name}: Invalid value [{value}]. Must be one of {', '.join(allowed)}")
        return value

    return checked


def _max_message_size(name: str, value: str, facts: TopicFacts) -> str:
    size = validation.small_int(value, max_digits=7)
    if size is None or not 1024 <= size <= validation.MAX_MESSAGE_SIZE_LIMIT:
        raise Reason(
            f"MaximumMessageSize: Invalid value [{value}]. Must be an integer from 1024 to 1048576"
        )
    return str(size)


def _kms_key(name: str, value: str, facts: TopicFacts) -> str:
    # SNS does not look the key up when it is set: a key that names nothing fails at the
    # first Publish (KMSNotFound). Only the shape of the reference is checked here.
    if len(value) > 2048 or _CONTROL.search(value):
        raise Reason("KmsMasterKeyId: Invalid value")
    return value


def _archive_policy(name: str, value: str, facts: TopicFacts) -> str:
    document = _json_object("ArchivePolicy", value)
    period = document.get("MessageRetentionPeriod")
    if not isinstance(period, int) or isinstance(period, bool) or not 1 <= period <= 365:
        raise Reason("ArchivePolicy: MessageRetentionPeriod must be an integer from 1 to 365")
    return value


def _data_protection(name: str, value: str, facts: TopicFacts) -> str:
    _json_object("DataProtectionPolicy", value)
    return value


_CONTROL = re.compile(r"[\x00-\x1f\x85\u2028\u2029]")  # control characters, line breaks
_FEEDBACK_PROTOCOLS = ("HTTP", "Firehose", "Lambda", "Application", "SQS")

TOPIC_ATTRIBUTES: dict[str, Checker] = {
    "DisplayName": _display_name,
    "Policy": _policy,
    "DeliveryPolicy": _topic_delivery_policy,
    "KmsMasterKeyId": _kms_key,
    "SignatureVersion": _choice("1", "2"),
    "TracingConfig": _choice("PassThrough", "Active"),
    "MaximumMessageSize": _max_message_size,
    "FifoTopic": _fifo_topic,
    "ContentBasedDeduplication": _fifo_only(_bool),
    "FifoThroughputScope": _fifo_only(_choice("Topic", "MessageGroup")),
    "ArchivePolicy": _fifo_only(_archive_policy),
    "DataProtectionPolicy": _data_protection,
    **{f"{p}SuccessFeedbackRoleArn": _role_arn for p in _FEEDBACK_PROTOCOLS},
    **{f"{p}FailureFeedbackRoleArn": _role_arn for p in _FEEDBACK_PROTOCOLS},
    **{f"{p}SuccessFeedbackSampleRate": _sample_rate for p in _FEEDBACK_PROTOCOLS},
}


MAX_ATTRIBUTE_BYTES = 30_720


def check_topic_attribute(name: str, value: str, facts: TopicFacts) -> str:
    """The normalised value of topic attribute ``name``; raises InvalidParameter."""
    prefix = CREATE_PREFIX if facts.creating else SET_PREFIX
    checker = TOPIC_ATTRIBUTES.get(name)
    try:
        if checker is None:
            raise Reason("AttributeName")
        if len(value.encode()) > MAX_ATTRIBUTE_BYTES:
            raise Reason(f"{name}: the value is over {MAX_ATTRIBUTE_BYTES} bytes")
        return checker(name, value, facts)
    except Reason as reason:
        raise InvalidParameter(prefix + str(reason)) from None


def effective_delivery_policy(attributes: Mapping[str, str]) -> str:
    """The topic's delivery policy with AWS's defaults under what was set."""
    policy: dict[str, Any] = json.loads(json.dumps(DEFAULT_TOPIC_DELIVERY_POLICY))
    own = attributes.get("DeliveryPolicy")
    if own:
        http = json.loads(own).get("http", {})
        retry = http.get("defaultHealthyRetryPolicy")
        if retry:
            policy["http"]["defaultHealthyRetryPolicy"] = {**DEFAULT_HTTP_RETRY, **retry}
        for key, value in http.items():
            if key != "defaultHealthyRetryPolicy":
                policy["http"][key] = value
    return _compact(policy)


# -- subscriptions ---------------------------------------------------------------------

RAW_PROTOCOLS = ("sqs", "http", "https", "firehose")
DELIVERY_POLICY_PROTOCOLS = ("http", "https")
MAX_FILTER_POLICY_BYTES = filter_policy.MAX_BYTES
SUBSCRIPTION_ATTRIBUTES = (
    "RawMessageDelivery",
    "FilterPolicy",
    "FilterPolicyScope",
    "RedrivePolicy",
    "DeliveryPolicy",
    "SubscriptionRoleArn",
)


def check_subscription_attribute(name: str, value: str, protocol: str, creating: bool) -> str:
    """The normalised value of subscription attribute ``name`` for a ``protocol``
    subscription; raises InvalidParameter worded for Subscribe or SetSubscriptionAttributes."""
    prefix = CREATE_PREFIX if creating else SET_PREFIX
    try:
        limit = MAX_FILTER_POLICY_BYTES if name == "FilterPolicy" else MAX_ATTRIBUTE_BYTES
        if len(value.encode()) > limit:
            raise Reason(f"{name}: the value is over {limit} bytes")
        return _subscription_attribute(name, value, protocol)
    except Reason as reason:
        raise InvalidParameter(prefix + str(reason)) from None


def _subscription_attribute(name: str, value: str, protocol: str) -> str:
    if name == "RawMessageDelivery":
        if value.lower() not in ("true", "false"):
            raise Reason(f"RawMessageDelivery: Invalid value [{value}]. Must be true or false.")
        if protocol not in RAW_PROTOCOLS and value.lower() == "true":
            raise Reason(f"Delivery protocol [{protocol}] does not support raw message delivery.")
        return value.lower()
    if name == "FilterPolicy":
        if value:
            try:
                filter_policy.check(value)
            except filter_policy.FilterPolicyError as exc:
                raise Reason(f"FilterPolicy: {exc}") from None
        return value
    if name == "FilterPolicyScope":
        if value not in ("MessageAttributes", "MessageBody"):
            raise Reason(
                f"FilterPolicyScope: Invalid value [{value}]. Please use either MessageBody or "
                "MessageAttributes"
            )
        return value
    if name == "RedrivePolicy":
        if value:
            _redrive_policy(value)
        return value
    if name == "DeliveryPolicy":
        if protocol not in DELIVERY_POLICY_PROTOCOLS:
            raise Reason(
                f"DeliveryPolicy: Delivery protocol [{protocol}] does not support delivery policies"
            )
        return subscription_delivery_policy(value) if value else value
    if name == "SubscriptionRoleArn":
        if value and not _ROLE_ARN.fullmatch(value):
            raise Reason(f"SubscriptionRoleArn: {value} is not a valid IAM role ARN")
        return value
    raise Reason("AttributeName")


def _redrive_policy(value: str) -> None:
    document = _json_object("RedrivePolicy", value)
    target = document.get("deadLetterTargetArn")
    if not isinstance(target, str) or not _SQS_ARN.fullmatch(target):
        raise Reason("RedrivePolicy: deadLetterTargetArn is an invalid arn")
    extra = set(document) - {"deadLetterTargetArn"}
    if extra:
        raise Reason(f"RedrivePolicy: Unrecognized field {sorted(extra)[0]}")


def effective_subscription_delivery_policy(
    topic_attributes: Mapping[str, str], own: str | None
) -> str:
    """A subscription's delivery policy with the topic's defaults under what was set."""
    topic_http = json.loads(effective_delivery_policy(topic_attributes))["http"]
    mine: dict[str, Any] = json.loads(own) if own else {}
    if topic_http.get("disableSubscriptionOverrides"):
        mine = {}  # the topic's policy applies to every subscription
    return _compact(
        {
            "healthyRetryPolicy": mine.get("healthyRetryPolicy")
            or topic_http["defaultHealthyRetryPolicy"],
            "sicklyRetryPolicy": mine.get("sicklyRetryPolicy")
            or topic_http.get("defaultSicklyRetryPolicy"),
            "throttlePolicy": mine.get("throttlePolicy") or topic_http.get("defaultThrottlePolicy"),
            "requestPolicy": mine.get("requestPolicy") or topic_http.get("defaultRequestPolicy"),
            "guaranteed": bool(mine.get("guaranteed", False)),
        }
    )


def _compact(document: Any) -> str:
    return json.dumps(document, separators=(",", ":"))
