"""Subscriptions: subscribe, confirm, unsubscribe, list, attributes.

Subscriptions to http, https, email and email-json endpoints wait in PendingConfirmation
until ConfirmSubscription (or the SubscribeURL) is called with the token their
SubscriptionConfirmation carries (sent by delivery). So does a queue subscribed by someone
of another account than the queue's: its owner confirms; a queue subscribed by its own
account is confirmed at once, as in AWS. Herald delivers to sqs, http, https, email and
email-json endpoints; Subscribe refuses lambda, firehose, application and sms.
"""

from __future__ import annotations

import json
import re
import secrets
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from herald import ids
from herald.auth.policy.matching import ContextValue
from herald.clock import Clock
from herald.errors import AccessDenied, InvalidParameter, NotFound
from herald.sns import arns, attributes, filter_policy, validation
from herald.sns.access import require_secure
from herald.sns.topics import (
    LARGE_MESSAGE_PROTOCOLS,
    LARGE_MESSAGE_RULE,
    LARGE_MESSAGE_SUBSCRIPTIONS,
    PAGE_SIZE,
    Topics,
    decode_token,
    encode_token,
)
from herald.store.base import Store, SubscriptionRecord, TopicRecord
from herald.store.base_delivery import DeliveryRecord
from herald.types import RequestContext

MAX_SUBSCRIPTIONS_PER_TOPIC = 12_500_000
TOKEN_LIFETIME_SECONDS = 3 * 24 * 3600
TOKEN_BYTES = 144  # 288 hex characters, the length of AWS's tokens
PENDING_ARN = "pending confirmation"
LISTED_PENDING_ARN = "PendingConfirmation"

_EMAIL = re.compile(r"^[^@\s;,<>()\[\]\\\"]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
_SQS_ARN = re.compile(
    r"^arn:aws:sqs:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):[\w-]{1,80}"
    r"(?P<fifo>\.fifo)?$"
)
_LAMBDA_ARN = re.compile(r"^arn:aws:lambda:[a-z0-9-]+:\d{12}:function:[\w-]{1,64}(:[\w$-]+)?$")
_FIREHOSE_ARN = re.compile(r"^arn:aws:firehose:[a-z0-9-]+:\d{12}:deliverystream/[\w.-]{1,64}$")
_APPLICATION_ARN = re.compile(r"^arn:aws:sns:[a-z0-9-]+:\d{12}:endpoint/[\w.-]+/[\w.-]+/[\w-]+$")
_PHONE = re.compile(r"^\+?[0-9]{5,15}$")
_TOKEN = re.compile(r"^[0-9a-f]{64,512}$")
_URL_FORBIDDEN = re.compile(r"[\x00-\x20\x7f]")
MAX_ENDPOINT_CHARS = 2048
_DEFAULTS = {"RawMessageDelivery": "false", "FilterPolicyScope": "MessageAttributes"}
_NEED_CONFIRMATION = ("http", "https", "email", "email-json")
# Endpoints that a pending subscription sends its SubscriptionConfirmation to (a queue of
# another account included), and those told of their end by an UnsubscribeConfirmation.
_SENT_CONFIRMATION = ("http", "https", "email", "email-json", "sqs")
_TOLD_OF_UNSUBSCRIBE = ("http", "https")
_NOT_DELIVERED = ("lambda", "firehose", "application", "sms")
_NOT_FOR_FIFO = ("http", "https", "email", "email-json", "sms", "lambda", "firehose", "application")


def check_endpoint(protocol: str, endpoint: str | None, topic: TopicRecord) -> str:
    """Check that ``endpoint`` suits ``protocol``; raise InvalidParameter as SNS does."""
    value = endpoint or ""
    if len(value) > MAX_ENDPOINT_CHARS:
        raise InvalidParameter(
            f"Invalid parameter: Endpoint Reason: must be at most {MAX_ENDPOINT_CHARS} characters"
        )
    if topic.attributes.get("FifoTopic") == "true" and protocol in _NOT_FOR_FIFO:
        # FIFO topics deliver to SQS queues only.
        raise InvalidParameter(f"Invalid parameter: Invalid protocol type: {protocol}")
    if protocol in ("http", "https"):
        if not value.lower().startswith(protocol + "://"):
            raise InvalidParameter("Invalid parameter: Endpoint must match the specified protocol")
        _check_url(value)
    elif protocol in ("email", "email-json"):
        if not _EMAIL.fullmatch(value) or len(value) > 254:
            raise InvalidParameter("Invalid parameter: Email address")
    elif protocol == "sqs":
        match = _SQS_ARN.fullmatch(value)
        if match is None:
            raise InvalidParameter("Invalid parameter: SQS endpoint ARN")
        if match["fifo"] and topic.attributes.get("FifoTopic") != "true":
            raise InvalidParameter(
                "Invalid parameter: Invalid parameter: Endpoint Reason: FIFO SQS Queues can not "
                "be subscribed to standard SNS topics"
            )
    elif protocol == "lambda":
        if not _LAMBDA_ARN.fullmatch(value):
            raise InvalidParameter("Invalid parameter: Lambda endpoint ARN")
    elif protocol == "firehose":
        if not _FIREHOSE_ARN.fullmatch(value):
            raise InvalidParameter("Invalid parameter: Firehose endpoint ARN")
    elif protocol == "application":
        if not _APPLICATION_ARN.fullmatch(value):
            raise InvalidParameter(f"Invalid parameter: Application endpoint arn invalid:{value}")
    elif protocol == "sms":
        if not _PHONE.fullmatch(value):
            raise InvalidParameter(f"Invalid SMS endpoint: {value}")
    else:
        raise InvalidParameter(
            f"Invalid parameter: Amazon SNS does not support this protocol string: {protocol}"
        )
    return value


def _check_url(value: str) -> None:
    """An endpoint URL that an HTTP request can be sent to: a host, no spaces or controls."""
    try:
        parts = urllib.parse.urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        parts = None
    if parts is None or not parts.hostname or _URL_FORBIDDEN.search(value):
        raise InvalidParameter("Invalid parameter: Endpoint Reason: not a valid URL")


class Subscriptions:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        topics: Topics,
        on_change: Callable[[str], None] = lambda topic_arn: None,
    ) -> None:
        """``on_change`` hears of every change to a topic's subscriptions (its ARN);
        ``on_deliveries`` (set by the server) hears that confirmation messages were
        written, to wake a delivery worker."""
        self._store = store
        self._clock = clock
        self._topics = topics
        self._changed = on_change
        self.on_deliveries: Callable[[], None] = lambda: None

    async def subscribe(
        self,
        ctx: RequestContext,
        topic_arn: str | None,
        protocol: str | None,
        endpoint: str | None,
        requested: Mapping[str, str],
        return_arn: bool,
    ) -> str:
        """Subscribe an endpoint; returns its ARN, or "pending confirmation".

        Raises InvalidParameter, NotFound, AccessDenied, SubscriptionLimitExceeded.
        """
        keys: dict[str, ContextValue] = {}
        if protocol:
            keys["sns:Protocol"] = protocol
        if endpoint:
            keys["sns:Endpoint"] = endpoint
        topic = await self._topics.resolve(ctx, topic_arn, "Subscribe", context=keys)
        protocol = validation.required("Protocol", protocol)
        endpoint = check_endpoint(protocol, endpoint, topic)
        checked = {
            name: attributes.check_subscription_attribute(name, value, protocol, creating=True)
            for name, value in requested.items()
        }
        _check_filter_scope(checked, attributes.CREATE_PREFIX)
        _check_fifo_dead_letter(topic, endpoint, checked, attributes.CREATE_PREFIX)
        if protocol == "firehose" and not checked.get("SubscriptionRoleArn"):
            raise InvalidParameter(
                "Invalid parameter: Attributes Reason: SubscriptionRoleArn is required for "
                "firehose subscriptions"
            )
        await self._check_large_messages(topic, protocol)
        if protocol in _NOT_DELIVERED:
            # Accepting them would keep subscriptions that never receive anything.
            raise InvalidParameter(
                f"Invalid parameter: Protocol Reason: Herald does not deliver to {protocol} "
                "endpoints: this protocol is not supported"
            )
        # A queue's owner need not confirm what it subscribed itself ("Sending Amazon SNS
        # messages to an Amazon SQS queue in a different account").
        pending = protocol in _NEED_CONFIRMATION or (
            protocol == "sqs" and endpoint.split(":")[4] != ctx.principal.account_id
        )
        now = self._clock.now()
        record = SubscriptionRecord(
            arn=f"{topic.arn}:{ids.uuid4()}",
            topic_arn=topic.arn,
            owner=ctx.principal.account_id,
            protocol=protocol,
            endpoint=endpoint,
            attributes={**checked, "SubscriptionPrincipal": ctx.principal.arn},
            confirmed=not pending,
            token=secrets.token_hex(TOKEN_BYTES) if pending else None,
            token_expires_at=now + TOKEN_LIFETIME_SECONDS if pending else None,
            created_at=now,
        )
        stored, created = await self._store.create_subscription(record, MAX_SUBSCRIPTIONS_PER_TOPIC)
        self._changed(stored.topic_arn)
        if not created:
            _check_same(stored, checked)
        if not stored.confirmed and stored.protocol in _SENT_CONFIRMATION:
            # Subscribing again while pending sends the confirmation again, as in SNS.
            await self._send_confirmation(stored)
        if stored.confirmed or return_arn:
            return stored.arn
        return PENDING_ARN

    async def _send_confirmation(self, sub: SubscriptionRecord) -> None:
        now = self._clock.now()
        token = sub.token
        if token is None or (sub.token_expires_at or 0) < now:
            token = secrets.token_hex(TOKEN_BYTES)
            sub = await self._store.update_subscription(
                sub.arn, token=token, token_expires_at=now + TOKEN_LIFETIME_SECONDS
            )
        await self._store.add_deliveries([_message(sub, "SubscriptionConfirmation", token, now)])
        self.on_deliveries()

    async def _tell_unsubscribed(self, sub: SubscriptionRecord) -> None:
        """Send an UnsubscribeConfirmation whose SubscribeURL restores the subscription
        (for as long as a confirmation token lives)."""
        if sub.protocol not in _TOLD_OF_UNSUBSCRIBE or not sub.confirmed:
            return
        now = self._clock.now()
        token = secrets.token_hex(TOKEN_BYTES)
        kept = json.dumps(
            {
                "arn": sub.arn,
                "owner": sub.owner,
                "protocol": sub.protocol,
                "endpoint": sub.endpoint,
                "attributes": dict(sub.attributes),
            }
        )
        await self._store.keep_resubscription(
            token, sub.topic_arn, kept, now + TOKEN_LIFETIME_SECONDS
        )
        await self._store.add_deliveries([_message(sub, "UnsubscribeConfirmation", token, now)])
        self.on_deliveries()

    async def _restore(self, token: str, topic_arn: str) -> SubscriptionRecord | None:
        """The subscription an UnsubscribeConfirmation's token restores, confirmed."""
        kept = await self._store.take_resubscription(token, topic_arn, self._clock.now())
        if kept is None:
            return None
        data = json.loads(kept)
        now = self._clock.now()
        record = SubscriptionRecord(
            arn=data["arn"],
            topic_arn=topic_arn,
            owner=data["owner"],
            protocol=data["protocol"],
            endpoint=data["endpoint"],
            attributes=data["attributes"],
            confirmed=True,
            token=None,
            token_expires_at=None,
            created_at=now,
        )
        stored, _ = await self._store.create_subscription(record, MAX_SUBSCRIPTIONS_PER_TOPIC)
        if not stored.confirmed:
            stored = await self._store.update_subscription(stored.arn, confirmed=True)
        self._changed(topic_arn)
        return stored

    async def _check_large_messages(self, topic: TopicRecord, protocol: str) -> None:
        size = int(topic.attributes.get("MaximumMessageSize", validation.MAX_MESSAGE_BYTES))
        if size <= validation.MAX_MESSAGE_BYTES:
            return
        existing = await self._store.list_subscriptions_by_topic(
            topic.arn, None, LARGE_MESSAGE_SUBSCRIPTIONS
        )
        if protocol not in LARGE_MESSAGE_PROTOCOLS or len(existing) >= LARGE_MESSAGE_SUBSCRIPTIONS:
            raise InvalidParameter(LARGE_MESSAGE_RULE)

    async def confirm(
        self,
        ctx: RequestContext,
        topic_arn: str | None,
        token: str | None,
        authenticate_on_unsubscribe: str | None = None,
    ) -> str:
        """Confirm a pending subscription with its token; repeating it is harmless.

        Raises InvalidParameter (malformed or unknown token, wrong topic).
        """
        token = validation.required("Token", token)
        parsed = arns.topic_arn(topic_arn)
        if parsed.region != ctx.region:
            raise InvalidParameter("Invalid parameter: Topic")
        on_unsubscribe = (authenticate_on_unsubscribe or "").lower() == "true"
        return await self._confirm(str(parsed), token, authenticated=True, lock=on_unsubscribe)

    async def confirm_by_link(self, topic_arn: str | None, token: str | None) -> str:
        """The SubscribeURL of a confirmation message, followed without credentials.
        Raises InvalidParameter, worded as AWS words the link: "Topic" for a malformed
        topic ARN or one of another region than the token's, "Token" for a bad token."""
        token = validation.required("Token", token)
        if topic_arn is not None and not arns.is_topic_arn(topic_arn):
            raise InvalidParameter("Invalid parameter: Topic")
        parsed = arns.topic_arn(topic_arn)
        if not _TOKEN.fullmatch(token):
            raise InvalidParameter("Invalid parameter: Token")
        return await self._confirm(str(parsed), token, authenticated=False, lock=False)

    async def _confirm(self, topic_arn: str, token: str, *, authenticated: bool, lock: bool) -> str:
        if not _TOKEN.fullmatch(token):
            raise InvalidParameter("Invalid token")
        sub = await self._store.find_subscription_by_token(token)
        if sub is None:
            sub = await self._restore(token, topic_arn)
        # The link is served in the region of the token's subscription, which does not
        # know a topic of another region (ConfirmSubscription checked the request's).
        if not authenticated and sub is not None and _region(sub.topic_arn) != _region(topic_arn):
            raise InvalidParameter("Invalid parameter: Topic")
        if (
            sub is None
            or sub.topic_arn != topic_arn
            or (sub.token_expires_at is not None and sub.token_expires_at < self._clock.now())
        ):
            raise InvalidParameter("Invalid parameter: Token")
        if not sub.confirmed:
            set_ = {"ConfirmationWasAuthenticated": "true" if authenticated else "false"}
            if lock:
                # Then only a signed Unsubscribe may end it, not the link in messages.
                set_["AuthenticateOnUnsubscribe"] = "true"
            sub = await self._store.update_subscription(sub.arn, confirmed=True, set_=set_)
            self._changed(sub.topic_arn)
        return sub.arn

    async def unsubscribe_by_link(self, arn: str | None) -> None:
        """The UnsubscribeURL of a message, followed without credentials (AWS lets the
        link end the subscription unless it was confirmed with AuthenticateOnUnsubscribe).
        A subscription that no longer exists is no error. Raises AccessDenied."""
        arns.subscription_topic(arn)
        assert arn is not None
        sub = await self._store.get_subscription(arn)
        if sub is None:
            return
        if sub.attributes.get("AuthenticateOnUnsubscribe") == "true":
            raise AccessDenied(
                "This subscription was confirmed with AuthenticateOnUnsubscribe: only a "
                "signed Unsubscribe request may end it."
            )
        if await self._store.delete_subscription(sub.arn):
            await self._tell_unsubscribed(sub)
        self._changed(sub.topic_arn)

    async def unsubscribe(self, ctx: RequestContext, arn: str | None) -> None:
        """Delete a subscription; a well-formed ARN that names nothing succeeds."""
        arns.subscription_topic(arn)
        assert arn is not None
        sub = await self._store.get_subscription(arn)
        if sub is None:
            return
        topic = await self._topics.get(sub.topic_arn)
        if topic is not None and topic.attributes.get("KmsMasterKeyId"):
            require_secure(ctx)
        # The subscriber and the topic's owners may unsubscribe (SNS API reference).
        if sub.owner != ctx.principal.account_id:
            await self._topics.access.check(ctx, "Unsubscribe", sub.arn, topic)
        if await self._store.delete_subscription(sub.arn):
            await self._tell_unsubscribed(sub)
        self._changed(sub.topic_arn)

    async def get_attributes(self, ctx: RequestContext, arn: str | None) -> dict[str, str]:
        sub = await self._owned(ctx, arn, "GetSubscriptionAttributes")
        topic = await self._topics.get(sub.topic_arn)
        shown = {
            "Owner": sub.owner,
            "TopicArn": sub.topic_arn,
            "Endpoint": sub.endpoint,
            "Protocol": sub.protocol,
            "SubscriptionArn": sub.arn,
            "PendingConfirmation": "false" if sub.confirmed else "true",
            "ConfirmationWasAuthenticated": "true" if sub.confirmed else "false",
            "RawMessageDelivery": "false",
        }
        shown.update(sub.attributes)
        if sub.attributes.get("FilterPolicy"):
            shown.setdefault("FilterPolicyScope", "MessageAttributes")
        else:
            shown.pop("FilterPolicy", None)
            shown.pop("FilterPolicyScope", None)
        if not shown.get("RedrivePolicy"):
            shown.pop("RedrivePolicy", None)
        if sub.protocol in attributes.DELIVERY_POLICY_PROTOCOLS:
            shown["EffectiveDeliveryPolicy"] = attributes.effective_subscription_delivery_policy(
                topic.attributes if topic else {}, sub.attributes.get("DeliveryPolicy")
            )
            if not shown.get("DeliveryPolicy"):
                shown.pop("DeliveryPolicy", None)
        return shown

    async def set_attribute(
        self, ctx: RequestContext, arn: str | None, name: str | None, value: str | None
    ) -> None:
        name = validation.required("AttributeName", name)
        sub = await self._owned(ctx, arn, "SetSubscriptionAttributes")
        checked = attributes.check_subscription_attribute(
            name, value or "", sub.protocol, creating=False
        )
        topic = await self._topics.get(sub.topic_arn)

        def change(current: Mapping[str, str]) -> Mapping[str, str]:
            # Checked against the attributes as they are at the moment of writing, so two
            # concurrent changes cannot together store what neither could alone.
            merged = {**current, name: checked}
            _check_filter_scope(merged, attributes.SET_PREFIX)
            if topic is not None:
                _check_fifo_dead_letter(topic, sub.endpoint, merged, attributes.SET_PREFIX)
            if checked == "" and name != "FilterPolicy":
                merged.pop(name)
            return merged

        await self._store.edit_subscription_attributes(sub.arn, change)
        self._changed(sub.topic_arn)

    async def list_all(
        self, ctx: RequestContext, token: str | None
    ) -> tuple[list[ListedSubscription], str | None]:
        after = decode_token(token)
        subs = await self._store.list_subscriptions(
            ctx.principal.account_id, ctx.region, after, PAGE_SIZE + 1
        )
        return _page(subs)

    async def list_by_topic(
        self, ctx: RequestContext, topic_arn: str | None, token: str | None
    ) -> tuple[list[ListedSubscription], str | None]:
        topic = await self._topics.resolve(ctx, topic_arn, "ListSubscriptionsByTopic")
        after = decode_token(token)
        subs = await self._store.list_subscriptions_by_topic(topic.arn, after, PAGE_SIZE + 1)
        return _page(subs)

    async def _owned(self, ctx: RequestContext, arn: str | None, action: str) -> SubscriptionRecord:
        parsed = arns.subscription_topic(arn)
        if parsed.region != ctx.region:
            raise InvalidParameter("Invalid parameter: SubscriptionArn")
        assert arn is not None
        sub = await self._store.get_subscription(arn)
        if sub is None:
            raise NotFound("Subscription does not exist")
        topic = await self._topics.get(sub.topic_arn)
        if topic is not None and topic.attributes.get("KmsMasterKeyId"):
            require_secure(ctx)
        if sub.owner != ctx.principal.account_id:
            await self._topics.access.check(ctx, action, sub.arn, topic)
        return sub


@dataclass(frozen=True)
class ListedSubscription:
    """A subscription as ListSubscriptions shows it (pending ones without their ARN)."""

    arn: str
    owner: str
    protocol: str
    endpoint: str
    topic_arn: str


def _message(sub: SubscriptionRecord, kind: str, token: str, now: float) -> DeliveryRecord:
    """A delivery of a confirmation message of ``sub`` (its own message id)."""
    return DeliveryRecord(
        delivery_id=ids.uuid7(),
        message_id=ids.uuid7(),
        topic_arn=sub.topic_arn,
        subscription_arn=sub.arn,
        protocol=sub.protocol,
        endpoint=sub.endpoint,
        raw=False,
        attempts=0,
        next_attempt_at=now,
        created_at=now,
        kind=kind,
        token=token,
    )


def _page(subs: Sequence[SubscriptionRecord]) -> tuple[list[ListedSubscription], str | None]:
    page = [
        ListedSubscription(
            s.arn if s.confirmed else LISTED_PENDING_ARN,
            s.owner,
            s.protocol,
            s.endpoint,
            s.topic_arn,
        )
        for s in subs[:PAGE_SIZE]
    ]
    more = len(subs) > PAGE_SIZE
    return page, encode_token(subs[PAGE_SIZE - 1].arn) if more else None


def _check_same(stored: SubscriptionRecord, requested: Mapping[str, str]) -> None:
    for name, value in requested.items():
        current = stored.attributes.get(name, _DEFAULTS.get(name, ""))
        if current != value:
            raise InvalidParameter(
                "Invalid parameter: Attributes Reason: Subscription already exists with "
                "different attributes"
            )


def _check_fifo_dead_letter(
    topic: TopicRecord, endpoint: str, attrs: Mapping[str, str], prefix: str
) -> None:
    """A FIFO queue subscribed to a FIFO topic needs a FIFO dead-letter queue."""
    redrive = attrs.get("RedrivePolicy")
    if not redrive or topic.attributes.get("FifoTopic") != "true" or not endpoint.endswith(".fifo"):
        return
    if not str(json.loads(redrive).get("deadLetterTargetArn", "")).endswith(".fifo"):
        raise InvalidParameter(
            f"{prefix}RedrivePolicy: must use a FIFO queue as DLQ for a FIFO Subscription to a "
            "FIFO Topic."
        )


def _check_filter_scope(attrs: Mapping[str, str], prefix: str) -> None:
    policy = attrs.get("FilterPolicy")
    scope = attrs.get("FilterPolicyScope", "MessageAttributes")
    if policy and scope == "MessageAttributes" and filter_policy.is_nested(policy):
        raise InvalidParameter(
            "Invalid parameter: Filter policy scope MessageAttributes does not support nested "
            "filter policy"
        )


def _region(topic_arn: str) -> str:
    return topic_arn.split(":")[3]
