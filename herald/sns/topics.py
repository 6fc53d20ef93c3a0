"""Topics: create, read, change, delete, list, permissions and tags.

Topic records are cached in memory (bounded, written through on every change made by this
process), because every publish reads its topic. Several Herald nodes sharing one database
will need cross-node invalidation; that arrives with the PostgreSQL store.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections import OrderedDict
from collections.abc import Mapping, Sequence

from herald.auth.policy.matching import ContextValue
from herald.clock import Clock
from herald.errors import (
    InvalidParameter,
    NotFound,
    ResourceNotFound,
    TopicLimitExceeded,
)
from herald.iam.authorizer import Authorizer, request_tags
from herald.sns import arns, attributes, policy, validation
from herald.sns.access import TopicAccess, require_secure
from herald.store.base import Store, TopicRecord
from herald.types import RequestContext

PAGE_SIZE = 100
MAX_TOPICS_PER_ACCOUNT = 100_000
CACHE_SIZE = 10_000
LARGE_MESSAGE_SUBSCRIPTIONS = 100
LARGE_MESSAGE_PROTOCOLS = ("sqs", "firehose", "lambda")
LARGE_MESSAGE_RULE = (
    "Invalid parameter: MaximumMessageSize Reason: a topic whose MaximumMessageSize is over "
    "262144 can have at most 100 subscriptions, each of protocol sqs, firehose or lambda"
)

# Attributes that an empty value removes rather than sets.
_CLEARABLE = frozenset(
    {"KmsMasterKeyId", "DeliveryPolicy", "Policy", "ArchivePolicy", "DataProtectionPolicy"}
    | {n for n in attributes.TOPIC_ATTRIBUTES if n.endswith(("RoleArn", "SampleRate"))}
)


class Topics:
    def __init__(self, store: Store, clock: Clock, authorizer: Authorizer) -> None:
        self._store = store
        self._clock = clock
        self._cache: OrderedDict[str, TopicRecord] = OrderedDict()
        self._generation = 0  # advanced when other nodes' changes are heard
        self.access = TopicAccess(authorizer, store.list_tags)

    # -- lookup and access -------------------------------------------------------------

    async def resolve(
        self,
        ctx: RequestContext,
        arn: str | None,
        action: str,
        field: str = "TopicArn",
        context: Mapping[str, ContextValue] | None = None,
    ) -> TopicRecord:
        """The topic named by ``arn``, if the caller may perform ``action`` on it.

        Raises InvalidParameter (malformed ARN, other region), NotFound, AccessDenied.
        """
        parsed = self._parse(ctx, arn, field)
        topic = await self.get(str(parsed))
        if topic is None:
            raise NotFound("Topic does not exist")
        await self.access.check(ctx, action, topic.arn, topic, context)
        return topic

    @staticmethod
    def _parse(ctx: RequestContext, arn: str | None, field: str) -> arns.TopicARN:
        parsed = arns.topic_arn(arn, field)
        # SNS answers an ARN of another region with the same words as a malformed one.
        if parsed.region != ctx.region:
            raise InvalidParameter(f"Invalid parameter: {field}")
        return parsed

    async def get(self, arn: str) -> TopicRecord | None:
        cached = self._cache.get(arn)
        if cached is not None:
            self._cache.move_to_end(arn)
            return cached
        generation = self._generation
        topic = await self._store.get_topic(arn)
        # A change heard while reading must not leave the older record cached.
        if topic is not None and generation == self._generation:
            self._remember(topic)
        return topic

    def _remember(self, topic: TopicRecord) -> None:
        self._cache[topic.arn] = topic
        self._cache.move_to_end(topic.arn)
        while len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)

    # -- operations --------------------------------------------------------------------

    async def create(
        self,
        ctx: RequestContext,
        name: str,
        requested: Mapping[str, str],
        tags: Sequence[tuple[str | None, str | None]],
    ) -> str:
        """Create a topic, or return the ARN of the same topic created before.

        Raises InvalidParameter (name, attributes, or the topic exists with other
        attributes or tags), TopicLimitExceeded, TagLimitExceeded.
        """
        fifo_value = requested.get("FifoTopic", "false")
        fifo = validation.boolean_attribute("FifoTopic", fifo_value) == "true"
        # AWS words every mismatch of name and FifoTopic as a bad topic name.
        if name.endswith(".fifo") != fifo:
            raise InvalidParameter("Invalid parameter: Topic Name")
        validation.topic_name(name, fifo)
        facts = attributes.TopicFacts(fifo=fifo, creating=True)
        checked = {k: attributes.check_topic_attribute(k, v, facts) for k, v in requested.items()}
        if not fifo:
            checked.pop("FifoTopic", None)
        tag_map = validation.tags(list(tags))
        if checked.get("KmsMasterKeyId"):
            require_secure(ctx)
        account = ctx.principal.account_id
        arn = str(arns.TopicARN(ctx.region, account, name))
        await self.access.check(ctx, "CreateTopic", arn, None, request_tags(tag_map))
        existing = await self.get(arn)
        if existing is None:
            # Counted over every region: regions here are names a client chooses, so a
            # per-region quota alone would bound nothing.
            count = await self._store.count_topics(account)
            if count >= MAX_TOPICS_PER_ACCOUNT:
                raise TopicLimitExceeded("Topic limit exceeded")
            record = TopicRecord(arn, account, ctx.region, name, checked, self._clock.now())
            existing, created = await self._store.create_topic(record, tag_map)
            if created:
                self._remember(existing)
                return arn
        await self._check_same(existing, checked, tag_map)
        return arn

    async def _check_same(
        self, topic: TopicRecord, requested: Mapping[str, str], tags: Mapping[str, str]
    ) -> None:
        shown = self.visible_attributes(topic)
        for key, value in requested.items():
            if shown.get(key, "") != value:
                raise InvalidParameter(
                    "Invalid parameter: Attributes Reason: Topic already exists with different "
                    "attributes"
                )
        if tags:
            current = await self._store.list_tags(topic.arn)
            if any(current.get(k) != v for k, v in tags.items()):
                raise InvalidParameter(
                    "Invalid parameter: Tags Reason: Topic already exists with different tags"
                )

    def visible_attributes(self, topic: TopicRecord) -> dict[str, str]:
        """Stored attributes with AWS's defaults filled in (no counts)."""
        shown = {"DisplayName": "", "Policy": policy.default_policy(topic.arn, topic.account_id)}
        shown.update(topic.attributes)
        if shown.get("FifoTopic") == "true":
            shown.setdefault("ContentBasedDeduplication", "false")
        return shown

    async def get_attributes(self, ctx: RequestContext, arn: str | None) -> dict[str, str]:
        topic = await self.resolve(ctx, arn, "GetTopicAttributes")
        counts = await self._store.topic_counts(topic.arn)
        shown = self.visible_attributes(topic)
        shown.update(
            {
                "TopicArn": topic.arn,
                "Owner": topic.account_id,
                "SubscriptionsConfirmed": str(counts.confirmed),
                "SubscriptionsPending": str(counts.pending),
                "SubscriptionsDeleted": str(counts.deleted),
                "EffectiveDeliveryPolicy": attributes.effective_delivery_policy(topic.attributes),
            }
        )
        return shown

    async def set_attribute(
        self, ctx: RequestContext, arn: str | None, name: str | None, value: str | None
    ) -> None:
        """Set one attribute. Raises InvalidParameter, NotFound, AccessDenied."""
        name = validation.required("AttributeName", name)
        topic = await self.resolve(ctx, arn, "SetTopicAttributes")
        value = value if value is not None else ""
        if name == "KmsMasterKeyId" and value:
            require_secure(ctx)
        facts = attributes.TopicFacts(
            fifo=topic.attributes.get("FifoTopic") == "true", creating=False
        )
        if value == "" and name in _CLEARABLE:
            updated = await self._store.set_topic_attributes(topic.arn, {}, [name])
        else:
            checked = attributes.check_topic_attribute(name, value, facts)
            if name == "MaximumMessageSize":
                await self._check_large_messages(topic.arn, int(checked))
            updated = await self._store.set_topic_attributes(topic.arn, {name: checked}, [])
        self._remember(updated)

    async def _check_large_messages(self, arn: str, size: int) -> None:
        """AWS: a topic taking messages over 256 KiB has at most 100 subscriptions, each an
        sqs, firehose or lambda one."""
        if size <= validation.MAX_MESSAGE_BYTES:
            return
        subs = await self._store.list_subscriptions_by_topic(
            arn, None, LARGE_MESSAGE_SUBSCRIPTIONS + 1
        )
        if len(subs) > LARGE_MESSAGE_SUBSCRIPTIONS or any(
            s.protocol not in LARGE_MESSAGE_PROTOCOLS for s in subs
        ):
            raise InvalidParameter(LARGE_MESSAGE_RULE)

    async def delete(self, ctx: RequestContext, arn: str | None) -> None:
        """Delete a topic and its subscriptions; deleting a missing topic succeeds."""
        parsed = self._parse(ctx, arn, "TopicArn")
        topic = await self.get(str(parsed))
        if topic is None:
            return
        await self.access.check(ctx, "DeleteTopic", topic.arn, topic)
        await self._store.delete_topic(topic.arn)
        self._cache.pop(topic.arn, None)

    def forget_all(self) -> None:
        """Topics changed through another node."""
        self._cache.clear()
        self._generation += 1

    async def list(self, ctx: RequestContext, token: str | None) -> tuple[list[str], str | None]:
        own = f"arn:aws:sns:{ctx.region}:{ctx.principal.account_id}:*"
        await self.access.check(ctx, "ListTopics", own, None)
        after = decode_token(token)
        topics = await self._store.list_topics(
            ctx.principal.account_id, ctx.region, after, PAGE_SIZE + 1
        )
        page = topics[:PAGE_SIZE]
        more = len(topics) > PAGE_SIZE
        return [t.arn for t in page], encode_token(page[-1].arn) if more else None

    async def add_permission(
        self,
        ctx: RequestContext,
        arn: str | None,
        label: str | None,
        account_ids: Sequence[str],
        actions: Sequence[str],
    ) -> None:
        topic = await self.resolve(ctx, arn, "AddPermission")
        label = validation.permission_label(label or "")

        def add(current: Mapping[str, str]) -> Mapping[str, str]:
            document = current.get("Policy") or policy.default_policy(topic.arn, topic.account_id)
            updated = policy.add_permission(document, topic.arn, label, account_ids, actions)
            return {**current, "Policy": updated}

        self._remember(await self._store.edit_topic_attributes(topic.arn, add))

    async def remove_permission(
        self, ctx: RequestContext, arn: str | None, label: str | None
    ) -> None:
        topic = await self.resolve(ctx, arn, "RemovePermission")
        label = validation.permission_label(label or "")

        def remove(current: Mapping[str, str]) -> Mapping[str, str]:
            document = current.get("Policy") or policy.default_policy(topic.arn, topic.account_id)
            return {**current, "Policy": policy.remove_permission(document, label)}

        self._remember(await self._store.edit_topic_attributes(topic.arn, remove))

    # -- tags --------------------------------------------------------------------------

    async def tag(
        self, ctx: RequestContext, arn: str | None, tags: Sequence[tuple[str | None, str | None]]
    ) -> None:
        if not tags:
            self._parse(ctx, arn, "ResourceArn")
            raise InvalidParameter(
                "Invalid parameter: Tags Reason: no value for required parameter"
            )
        tag_map = validation.tags(list(tags))
        topic = await self._tagged(ctx, arn, "TagResource", request_tags(tag_map))
        await self._store.tag_resource(topic, tag_map, validation.MAX_TAGS)

    async def untag(self, ctx: RequestContext, arn: str | None, keys: Sequence[str]) -> None:
        if not keys:
            self._parse(ctx, arn, "ResourceArn")
            raise InvalidParameter(
                "Invalid parameter: TagKeys Reason: no value for required parameter"
            )
        checked = validation.tag_keys(list(keys))
        topic = await self._tagged(ctx, arn, "UntagResource", {"aws:TagKeys": list(checked)})
        await self._store.untag_resource(topic, checked)

    async def list_tags(self, ctx: RequestContext, arn: str | None) -> dict[str, str]:
        topic = await self._tagged(ctx, arn, "ListTagsForResource")
        return await self._store.list_tags(topic)

    async def _tagged(
        self,
        ctx: RequestContext,
        arn: str | None,
        action: str,
        context: Mapping[str, ContextValue] | None = None,
    ) -> str:
        parsed = self._parse(ctx, arn, "ResourceArn")
        topic = await self.get(str(parsed))
        if topic is None:
            raise ResourceNotFound("Resource does not exist")
        await self.access.check(ctx, action, topic.arn, topic, context)
        return topic.arn


def encode_token(marker: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"after": marker}).encode()).decode()


def decode_token(token: str | None) -> str | None:
    if token is None:
        return None
    try:
        decoded = json.loads(base64.urlsafe_b64decode(token.encode("ascii")))
        after = decoded["after"]
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeEncodeError) as exc:
        raise InvalidParameter("Invalid parameter: NextToken") from exc
    if not isinstance(after, str):
        raise InvalidParameter("Invalid parameter: NextToken")
    return after
