"""SNS over the AWS Query protocol: one small function per action.

Each handler reads the wire shape from ``QueryParams``, calls the service and renders the
result elements; ``ACTIONS`` maps action names to handlers explicitly.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from herald.errors import UnsupportedOperation
from herald.protocols import xml
from herald.protocols.query import QueryParams
from herald.sns.publishing import PublishInput, RawAttribute
from herald.sns.service import SNSService
from herald.sns.subscriptions import ListedSubscription
from herald.types import RequestContext

NAMESPACE = "http://sns.amazonaws.com/doc/2010-03-31/"
VERSION = "2010-03-31"

Result = list[xml.Node] | None
Handler = Callable[[SNSService, RequestContext, QueryParams], Awaitable[Result]]


def _tags(params: QueryParams) -> list[tuple[str | None, str | None]]:
    return [(m.get("Key"), m.get("Value")) for m in params.members("Tags.member")]


def _message_attributes(params: QueryParams, prefix: str) -> list[RawAttribute]:
    return [
        (
            entry.get("Name"),
            entry.get("Value.DataType"),
            entry.get("Value.StringValue"),
            entry.get("Value.BinaryValue"),
        )
        for entry in params.members(prefix + ".entry")
    ]


def _publish_input(params: QueryParams, entry_id: str | None = None) -> PublishInput:
    return PublishInput(
        message=params.get("Message"),
        subject=params.get("Subject"),
        structure=params.get("MessageStructure"),
        attributes=_message_attributes(params, "MessageAttributes"),
        group_id=params.get("MessageGroupId"),
        deduplication_id=params.get("MessageDeduplicationId"),
        entry_id=entry_id,
    )


def _subscription(sub: ListedSubscription) -> xml.Node:
    return xml.node(
        "member",
        [
            xml.el("SubscriptionArn", sub.arn),
            xml.el("Owner", sub.owner),
            xml.el("Protocol", sub.protocol),
            xml.el("Endpoint", sub.endpoint),
            xml.el("TopicArn", sub.topic_arn),
        ],
    )


# -- topics ----------------------------------------------------------------------------


async def create_topic(sns: SNSService, ctx: RequestContext, p: QueryParams) -> Result:
    arn = await sns.topics.create(ctx, p.required("Name"), p.string_map("Attributes"), _tags(p))
    return [xml.el("TopicArn", arn)]


async def delete_topic(sns: SNSService, ctx: RequestContext, p: QueryParams) -> Result:
    await sns.topics.delete(ctx, p.get("TopicArn"))
    return None


async def list_topics(sns: SNSService, ctx: RequestContext, p: QueryParams) -> Result:
    arns, token = await sns.topics.list(ctx, p.get("NextToken"))
    members = (xml.node("member", [xml.el("TopicArn", arn)]) for arn in arns)
    return [xml.node("Topics", members), xml.el("NextToken", token)]


async def get_topic_attributes(sns: SNSService, ctx: RequestContext, p: QueryParams) -> Result:
    attributes = await sns.topics.get_attributes(ctx, p.get("TopicArn"))
    return [xml.entries("Attributes", attributes)]


async def set_topic_attributes(sns: SNSService, ctx: RequestContext, p: QueryParams) -> Result:
    await sns.topics.set_attribute(
        ctx, p.get("TopicArn"), p.get("AttributeName"), p.get("AttributeValue")
    )
    return None


async def add_permission(sns: SNSService, ctx: RequestContext, p: QueryParams) -> Result:
    await sns.topics.add_permission(
        ctx,
        p.get("TopicArn"),
        p.get("Label"),
        p.scalars("AWSAccountId.member"),
        p.scalars("ActionName.member"),
    )
    return None


async def remove_permission(sns: SNSService, ctx: RequestContext, p: QueryParams) -> Result:
    await sns.topics.remove_permission(ctx, p.get("TopicArn"), p.get("Label"))
    return None


async def tag_resource(sns: SNSService, ctx: RequestContext, p: QueryParams) -> Result:
    await sns.topics.tag(ctx, p.get("ResourceArn"), _tags(p))
    return []


async def untag_resource(sns: SNSService, ctx: RequestContext, p: QueryParams) -> Result:
    await sns.topics.untag(ctx, p.get("ResourceArn"), p.scalars("TagKeys.member"))
    return []


async def list_tags_for_resource(sns: SNSService, ctx: RequestContext, p: QueryParams) -> Result:
    tags = await sns.topics.list_tags(ctx, p.get("ResourceArn"))
    members = (xml.node("member", [xml.el("Key", k), xml.el("Value", v)]) for k, v in tags.items())
    return [xml.node("Tags", members)]


# -- subscriptions ---------------------------------------------------------------------


async def subscribe(sns: SNSService, ctx: RequestContext, p: QueryParams) -> Result:
    arn = await sns.subscriptions.subscribe(
        ctx,
        p.get("TopicArn"),
        p.get("Protocol"),
        p.get("Endpoint"),
        p.string_map("Attributes"),
        p.boolean("ReturnSubscriptionArn"),
    )
    return [xml.el("SubscriptionArn", arn)]


async def confirm_subscription(sns: SNSService, ctx: RequestContext, p: QueryParams) -> Result:
    arn = await sns.subscriptions.confirm(
        ctx, p.get("TopicArn"), p.get("Token"), p.get("AuthenticateOnUnsubscribe")
    )
    return [xml.el("SubscriptionArn", arn)]


async def unsubscribe(sns: SNSService, ctx: RequestContext, p: QueryParams) -> Result:
    await sns.subscriptions.unsubscribe(ctx, p.get("SubscriptionArn"))
    return None


async def list_subscriptions(sns: SNSService, ctx: RequestContext, p: QueryParams) -> Result:
    subs, token = await sns.subscriptions.list_all(ctx, p.get("NextToken"))
    return [xml.node("Subscriptions", map(_subscription, subs)), xml.el("NextToken", token)]


async def list_subscriptions_by_topic(
    sns: SNSService, ctx: RequestContext, p: QueryParams
) -> Result:
    subs, token = await sns.subscriptions.list_by_topic(ctx, p.get("TopicArn"), p.get("NextToken"))
    return [xml.node("Subscriptions", map(_subscription, subs)), xml.el("NextToken", token)]


async def get_subscription_attributes(
    sns: SNSService, ctx: RequestContext, p: QueryParams
) -> Result:
    attributes = await sns.subscriptions.get_attributes(ctx, p.get("SubscriptionArn"))
    return [xml.entries("Attributes", attributes)]


async def set_subscription_attributes(
    sns: SNSService, ctx: RequestContext, p: QueryParams
) -> Result:
    await sns.subscriptions.set_attribute(
        ctx, p.get("SubscriptionArn"), p.get("AttributeName"), p.get("AttributeValue")
    )
    return None


# -- publishing ------------------------------------------------------------------------


async def publish(sns: SNSService, ctx: RequestContext, p: QueryParams) -> Result:
    published = await sns.publisher.publish(
        ctx, p.get("TopicArn"), p.get("TargetArn"), p.get("PhoneNumber"), _publish_input(p)
    )
    return [
        xml.el("MessageId", published.message_id),
        xml.el("SequenceNumber", published.sequence_number),
    ]


async def publish_batch(sns: SNSService, ctx: RequestContext, p: QueryParams) -> Result:
    entries = [
        _publish_input(entry, entry.get("Id"))
        for entry in p.members("PublishBatchRequestEntries.member")
    ]
    published = await sns.publisher.publish_batch(ctx, p.get("TopicArn"), entries)
    successful = (
        xml.node(
            "member",
            [
                xml.el("Id", item.entry_id),
                xml.el("MessageId", item.message_id),
                xml.el("SequenceNumber", item.sequence_number),
            ],
        )
        for item in published
    )
    return [xml.node("Successful", successful), xml.node("Failed", [])]


# -- what Herald does not offer --------------------------------------------------------

_UNSUPPORTED = {
    "CheckIfPhoneNumberIsOptedOut": "SMS",
    "CreateSMSSandboxPhoneNumber": "SMS",
    "DeleteSMSSandboxPhoneNumber": "SMS",
    "GetSMSAttributes": "SMS",
    "GetSMSSandboxAccountStatus": "SMS",
    "ListOriginationNumbers": "SMS",
    "ListPhoneNumbersOptedOut": "SMS",
    "ListSMSSandboxPhoneNumbers": "SMS",
    "OptInPhoneNumber": "SMS",
    "SetSMSAttributes": "SMS",
    "VerifySMSSandboxPhoneNumber": "SMS",
    "CreatePlatformApplication": "mobile push (platform applications)",
    "CreatePlatformEndpoint": "mobile push (platform applications)",
    "DeleteEndpoint": "mobile push (platform applications)",
    "DeletePlatformApplication": "mobile push (platform applications)",
    "GetEndpointAttributes": "mobile push (platform applications)",
    "GetPlatformApplicationAttributes": "mobile push (platform applications)",
    "ListEndpointsByPlatformApplication": "mobile push (platform applications)",
    "ListPlatformApplications": "mobile push (platform applications)",
    "SetEndpointAttributes": "mobile push (platform applications)",
    "SetPlatformApplicationAttributes": "mobile push (platform applications)",
    "GetDataProtectionPolicy": "message data protection",
    "PutDataProtectionPolicy": "message data protection",
}


def _unsupported(action: str, feature: str) -> Handler:
    async def handler(sns: SNSService, ctx: RequestContext, p: QueryParams) -> Result:
        raise UnsupportedOperation(
            f"Herald does not support {feature}: the operation {action} is not available."
        )

    return handler


ACTIONS: dict[str, Handler] = {
    "CreateTopic": create_topic,
    "DeleteTopic": delete_topic,
    "ListTopics": list_topics,
    "GetTopicAttributes": get_topic_attributes,
    "SetTopicAttributes": set_topic_attributes,
    "AddPermission": add_permission,
    "RemovePermission": remove_permission,
    "TagResource": tag_resource,
    "UntagResource": untag_resource,
    "ListTagsForResource": list_tags_for_resource,
    "Subscribe": subscribe,
    "ConfirmSubscription": confirm_subscription,
    "Unsubscribe": unsubscribe,
    "ListSubscriptions": list_subscriptions,
    "ListSubscriptionsByTopic": list_subscriptions_by_topic,
    "GetSubscriptionAttributes": get_subscription_attributes,
    "SetSubscriptionAttributes": set_subscription_attributes,
    "Publish": publish,
    "PublishBatch": publish_batch,
    **{action: _unsupported(action, feature) for action, feature in _UNSUPPORTED.items()},
}
