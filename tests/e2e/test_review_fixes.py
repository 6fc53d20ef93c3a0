"""Regression tests for the review of the foundation (presigned bodies, whole-value regexes,
atomic policy edits, bounded inputs, 500s on bad input, data folder, key rotation, logs).

Each test is one finding of the review, told against a real server: boto3 where botocore
can say it, hand-built requests (signed with botocore's own signers) where it cannot.
The process tests start a Herald of their own on a folder of their own.
"""

from __future__ import annotations

import http.client
import json
import stat
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import boto3
import botocore.auth
import pytest
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from tests.e2e.harness import ACCESS_KEY_ID, REGION, HeraldProcess

NS = "{http://sns.amazonaws.com/doc/2010-03-31/}"
FORM = "application/x-www-form-urlencoded; charset=utf-8"
HANG = 30  # seconds after which a request "hung"; never a measure of speed
ACCOUNT = "000000000000"
SQS_QUEUE = f"arn:aws:sqs:{REGION}:{ACCOUNT}:review-queue"


# -- helpers ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes

    @property
    def root(self) -> ET.Element:
        return ET.fromstring(self.body)

    @property
    def code(self) -> str | None:
        return self.root.findtext(f"{NS}Error/{NS}Code")


def send(
    server: HeraldProcess, method: str, target: str, body: bytes, headers: dict[str, str]
) -> Reply:
    connection = http.client.HTTPConnection("127.0.0.1", server.http_port, timeout=HANG)
    try:
        connection.request(method, target, body=body, headers=headers)
        response = connection.getresponse()
        return Reply(response.status, response.read())
    finally:
        connection.close()


class UnsignedPayloadQueryAuth(botocore.auth.SigV4QueryAuth):
    """Presigns as S3 does: the payload is left unsigned (UNSIGNED-PAYLOAD)."""

    def payload(self, request: AWSRequest) -> str:
        return str(botocore.auth.UNSIGNED_PAYLOAD)


def presigned(
    server: HeraldProcess,
    params: dict[str, str],
    *,
    method: str = "GET",
    path: str = "/",
    signer: type[botocore.auth.SigV4QueryAuth] = botocore.auth.SigV4QueryAuth,
    expires: int = 300,
) -> str:
    """The path and query of a URL presigned for ``method`` and ``params``."""
    request = AWSRequest(method, server.http_url + path, {}, None, params)
    signer(Credentials(ACCESS_KEY_ID, server.secret), "sns", REGION, expires).add_auth(request)
    url = urlsplit(request.prepare().url)
    return f"{url.path}?{url.query}"


def failure(call: Callable[[], object]) -> tuple[str, int, str]:
    with pytest.raises(ClientError) as caught:
        call()
    error = caught.value.response
    return (
        error["Error"]["Code"],
        error["ResponseMetadata"]["HTTPStatusCode"],
        error["Error"]["Message"],
    )


def client_for(herald: HeraldProcess, key: str, secret: str, **config: Any) -> Any:
    session = boto3.Session(aws_access_key_id=key, aws_secret_access_key=secret, region_name=REGION)
    return session.client(
        "sns",
        endpoint_url=herald.http_url,
        config=Config(retries={"total_max_attempts": 1}, **config),
    )


def statements(sns: Any, topic: str) -> list[dict[str, Any]]:
    policy = sns.get_topic_attributes(TopicArn=topic)["Attributes"]["Policy"]
    return list(json.loads(policy)["Statement"])


# -- 3. presigned URLs carry no unsigned body ------------------------------------------


PRESIGNED = {
    "GET, payload signed (botocore)": ("GET", botocore.auth.SigV4QueryAuth),
    "POST, payload signed (botocore)": ("POST", botocore.auth.SigV4QueryAuth),
    "POST, UNSIGNED-PAYLOAD (as S3 presigns)": ("POST", UnsignedPayloadQueryAuth),
}
INJECTED = (
    b"Subject=INJECTED&MessageAttributes.entry.1.Name=evil"
    b"&MessageAttributes.entry.1.Value.DataType=String"
    b"&MessageAttributes.entry.1.Value.StringValue=x"
)


@pytest.mark.parametrize(("method", "signer"), PRESIGNED.values(), ids=PRESIGNED.keys())
def test_a_presigned_publish_posted_with_an_extra_body_is_refused(
    server: HeraldProcess, topic: str, method: str, signer: type[botocore.auth.SigV4QueryAuth]
) -> None:
    # Given a Publish URL presigned for five minutes
    params = {"Action": "Publish", "Version": "2010-03-31", "TopicArn": topic, "Message": "hello"}
    target = presigned(server, params, method=method, signer=signer, expires=300)
    # When someone holding it POSTs it with parameters of their own in the body
    reply = send(server, "POST", target, INJECTED, {"Content-Type": FORM})
    # Then the signature does not cover that body, and nothing is published
    assert (reply.status, reply.code) == (403, "SignatureDoesNotMatch")
    # And the same URL sent as it was signed, with no body, publishes
    reply = send(server, method, target, b"", {})
    assert reply.status == 200, reply.body[:300]
    assert reply.root.findtext(f"{NS}PublishResult/{NS}MessageId")


# -- 7. whole values: no trailing newline ----------------------------------------------


def test_a_topic_name_with_a_trailing_newline_is_refused(sns: Any, unique: Any) -> None:
    # Given a topic name that is valid but for a final newline
    name = unique("orders") + "\n"
    # When it is created, Then the name is refused and no topic appears
    assert failure(lambda: sns.create_topic(Name=name)) == (
        "InvalidParameter",
        400,
        "Invalid parameter: Topic Name",
    )
    listed = [
        t["TopicArn"]
        for page in sns.get_paginator("list_topics").paginate()
        for t in page["Topics"]
    ]
    assert not [arn for arn in listed if arn.endswith("\n")]


def test_a_batch_entry_id_with_a_trailing_newline_is_refused(sns: Any, topic: str) -> None:
    entries = [{"Id": "a\n", "Message": "m"}]
    code, status, message = failure(
        lambda: sns.publish_batch(TopicArn=topic, PublishBatchRequestEntries=entries)
    )
    assert (code, status) == ("InvalidBatchEntryId", 400)
    assert message.startswith(
        "The Id of a batch entry in the batch request contains an impermissible character"
    )


NEWLINE_ENDPOINTS = {
    "email": ("email", "a@b.com\n", "Invalid parameter: Email address"),
    "sqs": ("sqs", SQS_QUEUE + "\n", "Invalid parameter: SQS endpoint ARN"),
}


@pytest.mark.parametrize(
    ("protocol", "endpoint", "message"), NEWLINE_ENDPOINTS.values(), ids=NEWLINE_ENDPOINTS.keys()
)
def test_an_endpoint_with_a_trailing_newline_is_refused(
    sns: Any, topic: str, protocol: str, endpoint: str, message: str
) -> None:
    assert failure(lambda: sns.subscribe(TopicArn=topic, Protocol=protocol, Endpoint=endpoint)) == (
        "InvalidParameter",
        400,
        message,
    )
    assert sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"] == []


# -- 6. atomic permission edits --------------------------------------------------------


def test_concurrent_add_permissions_all_land_in_the_policy(
    server: HeraldProcess, sns: Any, topic: str
) -> None:
    # Given 20 clients, each about to grant a permission of its own label on one topic
    clients: list[Any] = [server.client("sns") for _ in range(20)]
    start = threading.Barrier(len(clients))

    def grant(index: int) -> None:
        start.wait(HANG)
        clients[index].add_permission(
            TopicArn=topic,
            Label=f"L{index}",
            AWSAccountId=[f"{111111111100 + index}"],
            ActionName=["Publish"],
        )

    # When they all call AddPermission at once
    with ThreadPoolExecutor(len(clients)) as pool:
        list(pool.map(grant, range(len(clients))))
    # Then every one of the 20 statements is in the policy, once
    sids = [s.get("Sid") for s in statements(sns, topic)]
    granted = sorted(s for s in sids if s and s.startswith("L"))
    assert granted == sorted(f"L{i}" for i in range(20))


# -- 9a. the Policy stays bounded -------------------------------------------------------


def test_add_permission_past_the_policy_size_limit_is_refused(sns: Any, topic: str) -> None:
    # Given grants of 400 accounts each (about 13 KB of policy per call)
    def grant(call: int) -> None:
        accounts = [f"{111111110000 + call * 1000 + i}" for i in range(400)]
        sns.add_permission(
            TopicArn=topic, Label=f"big{call}", AWSAccountId=accounts, ActionName=["Publish"]
        )

    # When they are added one after the other, the policy grows until the limit refuses one
    granted = 0
    for call in range(5):
        try:
            grant(call)
        except ClientError as exc:
            refused = exc.response
            break
        granted += 1
    else:
        pytest.fail("five grants of 400 accounts each were all accepted")
    # Then the first grants fit, and the one past 30720 bytes is refused, naming the Policy
    assert granted >= 1
    assert (refused["Error"]["Code"], refused["ResponseMetadata"]["HTTPStatusCode"]) == (
        "InvalidParameter",
        400,
    )
    assert refused["Error"]["Message"] == (
        "Invalid parameter: Policy Reason: the policy would be over 30720 bytes"
    )
    # And the stored Policy is under the limit, without the refused statement
    policy = sns.get_topic_attributes(TopicArn=topic)["Attributes"]["Policy"]
    assert len(policy.encode()) <= 30720
    assert f"big{granted}" not in [s.get("Sid") for s in json.loads(policy)["Statement"]]


# -- 9b. endpoint URLs -----------------------------------------------------------------

BAD_URLS = {
    "a space in the host": (
        "http://exa mple.com/",
        "Invalid parameter: Endpoint Reason: not a valid URL",
    ),
    "no host": ("http:///nohost", "Invalid parameter: Endpoint Reason: not a valid URL"),
    "a port that is not a number": (
        "http://host:notaport/",
        "Invalid parameter: Endpoint Reason: not a valid URL",
    ),
    "3007 characters": (
        "http://" + "a" * 3000,
        "Invalid parameter: Endpoint Reason: must be at most 2048 characters",
    ),
}


@pytest.mark.parametrize(("endpoint", "message"), BAD_URLS.values(), ids=BAD_URLS.keys())
def test_an_http_endpoint_that_is_no_usable_url_is_refused(
    sns: Any, topic: str, endpoint: str, message: str
) -> None:
    assert failure(lambda: sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=endpoint)) == (
        "InvalidParameter",
        400,
        message,
    )


# -- 9c. documents are checked ---------------------------------------------------------


def test_a_40_kb_data_protection_policy_is_refused(sns: Any, unique: Any) -> None:
    # Given a well-formed DataProtectionPolicy of 40 KB
    document = json.dumps({"Name": "big", "Description": "d" * 40_000, "Version": "2021-06-01"})
    name = unique("dpp")
    # When a topic is created with it, Then it is refused, and no topic is made
    assert failure(
        lambda: sns.create_topic(Name=name, Attributes={"DataProtectionPolicy": document})
    ) == (
        "InvalidParameter",
        400,
        "Invalid parameter: Attributes Reason: DataProtectionPolicy: the value is over 30720 bytes",
    )
    arn = f"arn:aws:sns:{REGION}:{ACCOUNT}:{name}"
    assert failure(lambda: sns.get_topic_attributes(TopicArn=arn))[:2] == ("NotFound", 404)


def test_disable_subscription_overrides_must_be_a_boolean(sns: Any, topic: str) -> None:
    policy = json.dumps({"http": {"disableSubscriptionOverrides": "false"}})
    assert failure(
        lambda: sns.set_topic_attributes(
            TopicArn=topic, AttributeName="DeliveryPolicy", AttributeValue=policy
        )
    ) == (
        "InvalidParameter",
        400,
        "Invalid parameter: DeliveryPolicy: http.disableSubscriptionOverrides must be true "
        "or false",
    )
    assert "DeliveryPolicy" not in sns.get_topic_attributes(TopicArn=topic)["Attributes"]


# -- 11. MaximumMessageSize over 256 KiB ------------------------------------------------

LARGE_MESSAGE_RULE = (
    "Invalid parameter: MaximumMessageSize Reason: a topic whose MaximumMessageSize is over "
    "262144 can have at most 100 subscriptions, each of protocol sqs, firehose or lambda"
)


def set_size(sns: Any, topic: str, size: str) -> None:
    sns.set_topic_attributes(
        TopicArn=topic, AttributeName="MaximumMessageSize", AttributeValue=size
    )


@pytest.mark.parametrize("size", ["262145", "1048576"])
def test_a_topic_with_an_http_subscription_cannot_take_large_messages(
    sns: Any, topic: str, size: str
) -> None:
    # Given a topic with a pending http subscription
    sns.subscribe(TopicArn=topic, Protocol="http", Endpoint="http://example.com/hook")
    # When its MaximumMessageSize is set over 256 KiB, Then that is refused
    assert failure(lambda: set_size(sns, topic, size)) == (
        "InvalidParameter",
        400,
        LARGE_MESSAGE_RULE,
    )
    assert "MaximumMessageSize" not in sns.get_topic_attributes(TopicArn=topic)["Attributes"]
    # And 256 KiB itself imposes nothing
    set_size(sns, topic, "262144")
    assert sns.get_topic_attributes(TopicArn=topic)["Attributes"]["MaximumMessageSize"] == (
        "262144"
    )


def test_a_topic_taking_large_messages_takes_only_sqs_firehose_or_lambda(
    sns: Any, topic: str
) -> None:
    # Given a topic whose MaximumMessageSize is 1 MiB
    set_size(sns, topic, "1048576")
    # When an email subscription is asked for, Then it is refused
    assert failure(
        lambda: sns.subscribe(TopicArn=topic, Protocol="email", Endpoint="a@example.com")
    ) == ("InvalidParameter", 400, LARGE_MESSAGE_RULE)
    # And an sqs subscription is made
    arn = sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=SQS_QUEUE)["SubscriptionArn"]
    assert arn.startswith(topic + ":")


def test_a_topic_taking_256_kib_takes_any_subscription(sns: Any, topic: str) -> None:
    set_size(sns, topic, "262144")
    sns.subscribe(TopicArn=topic, Protocol="email", Endpoint="a@example.com")
    sns.subscribe(TopicArn=topic, Protocol="http", Endpoint="http://example.com/hook")
    assert len(sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]) == 2


# -- 12. smaller differences from AWS --------------------------------------------------


def test_a_batch_entry_without_an_id_is_a_validation_error(
    server: HeraldProcess, topic: str
) -> None:
    # Given a client that does not check parameters before sending them
    sns: Any = server.client("sns", parameter_validation=False)
    entries = [{"Id": "first", "Message": "one"}, {"Message": "no id"}]
    # When it sends a batch whose second entry has no Id, Then AWS's validation error comes back
    assert failure(
        lambda: sns.publish_batch(TopicArn=topic, PublishBatchRequestEntries=entries)
    ) == (
        "ValidationError",
        400,
        "1 validation error detected: Value null at 'publishBatchRequestEntries.2.member.id' "
        "failed to satisfy constraint: Member must not be null",
    )


TAGGING_CALLS = {
    "TagResource": lambda sns, arn: sns.tag_resource(
        ResourceArn=arn, Tags=[{"Key": "k", "Value": "v"}]
    ),
    "ListTagsForResource": lambda sns, arn: sns.list_tags_for_resource(ResourceArn=arn),
    "UntagResource": lambda sns, arn: sns.untag_resource(ResourceArn=arn, TagKeys=["k"]),
}


@pytest.mark.parametrize("call", TAGGING_CALLS.values(), ids=TAGGING_CALLS.keys())
def test_tagging_a_topic_of_another_region_is_refused(
    server: HeraldProcess, sns: Any, unique: Any, call: Callable[[Any, str], object]
) -> None:
    # Given a topic that exists in eu-west-1
    elsewhere: Any = client_for(server, ACCESS_KEY_ID, server.secret, region_name="eu-west-1")
    arn = elsewhere.create_topic(Name=unique("west"))["TopicArn"]
    assert ":eu-west-1:" in arn
    # When a us-east-1 client names it in a tagging call, Then the ARN is refused
    assert failure(lambda: call(sns, arn)) == (
        "InvalidParameter",
        400,
        "Invalid parameter: ResourceArn",
    )
    # And the topic was not tagged
    assert elsewhere.list_tags_for_resource(ResourceArn=arn)["Tags"] == []


# -- 2. input that used to be a 500 ----------------------------------------------------


def test_a_number_attribute_past_decimal_range_is_an_invalid_value(sns: Any, topic: str) -> None:
    attributes = {"n": {"DataType": "Number", "StringValue": "1e1000000"}}
    assert failure(
        lambda: sns.publish(TopicArn=topic, Message="m", MessageAttributes=attributes)
    ) == (
        "ParameterValueInvalid",
        400,
        "Value 1e1000000 for parameter MessageAttributes is invalid. Reason: Number values "
        "can have up to 38 digits of precision and be between -10^128 and 10^126.",
    )


BAD_TOPIC_NUMBERS = {
    "superscript sample rate": (
        "HTTPSuccessFeedbackSampleRate",
        "²",
        "Invalid parameter: HTTPSuccessFeedbackSampleRate: ² value provided is not an integer "
        "between 0-100",
    ),
    "5000-digit sample rate": (
        "HTTPSuccessFeedbackSampleRate",
        "1" * 5000,
        f"Invalid parameter: HTTPSuccessFeedbackSampleRate: {'1' * 5000} value provided is "
        "not an integer between 0-100",
    ),
    "superscript maximum message size": (
        "MaximumMessageSize",
        "1²",
        "Invalid parameter: MaximumMessageSize: Invalid value [1²]. Must be an integer from "
        "1024 to 1048576",
    ),
    "5000-digit maximum message size": (
        "MaximumMessageSize",
        "1" * 5000,
        f"Invalid parameter: MaximumMessageSize: Invalid value [{'1' * 5000}]. Must be an "
        "integer from 1024 to 1048576",
    ),
}


@pytest.mark.parametrize(
    ("name", "value", "message"), BAD_TOPIC_NUMBERS.values(), ids=BAD_TOPIC_NUMBERS.keys()
)
def test_a_topic_attribute_that_is_no_small_integer_is_refused(
    sns: Any, topic: str, name: str, value: str, message: str
) -> None:
    assert failure(
        lambda: sns.set_topic_attributes(TopicArn=topic, AttributeName=name, AttributeValue=value)
    ) == ("InvalidParameter", 400, message)


FILTER_PREFIX = "Invalid parameter: Attributes Reason: FilterPolicy: "
BAD_FILTER_POLICIES = {
    "cidr mask of 5000 digits": (
        '{"k":[{"cidr":"10.0.0.0/' + "1" * 5000 + '"}]}',
        FILTER_PREFIX + "Malformed CIDR, mask bits must be an integer",
    ),
    "integer of 5000 digits": (
        '{"k":[' + "1" * 5000 + "]}",
        FILTER_PREFIX + "failed to parse JSON.",
    ),
    "NaN as a numeric bound": (
        '{"k":[{"numeric":[">",NaN,"<",1]}]}',
        FILTER_PREFIX + "failed to parse JSON. Non-standard token 'NaN'",
    ),
}


@pytest.mark.parametrize(
    ("document", "message"), BAD_FILTER_POLICIES.values(), ids=BAD_FILTER_POLICIES.keys()
)
def test_a_filter_policy_that_python_misreads_is_refused(
    sns: Any, topic: str, document: str, message: str
) -> None:
    code, status, said = failure(
        lambda: sns.subscribe(
            TopicArn=topic,
            Protocol="sqs",
            Endpoint=SQS_QUEUE,
            Attributes={"FilterPolicy": document},
        )
    )
    assert (code, status) == ("InvalidParameter", 400)
    assert said.startswith(message), said[:300]


def test_a_delivery_policy_with_a_5000_digit_integer_is_refused(sns: Any, topic: str) -> None:
    policy = '{"http":{"defaultHealthyRetryPolicy":{"numRetries":' + "1" * 5000 + "}}}"
    code, status, message = failure(
        lambda: sns.set_topic_attributes(
            TopicArn=topic, AttributeName="DeliveryPolicy", AttributeValue=policy
        )
    )
    assert (code, status) == ("InvalidParameter", 400)
    assert message.startswith("Invalid parameter: DeliveryPolicy: failed to parse JSON.")


def test_a_date_header_past_any_calendar_is_an_incomplete_signature(
    server: HeraldProcess,
) -> None:
    # Given an unsigned request with a SigV4-looking Authorization header, no X-Amz-Date,
    # and a Date whose zone offset no clock can hold
    headers = {
        "Content-Type": FORM,
        "Authorization": "AWS4-HMAC-SHA256 Credential=AKIAX/20240101/us-east-1/sns/"
        "aws4_request, SignedHeaders=host, Signature=00",
        "Date": "Mon, 01 Jan 2024 00:00:00 +99999999999999999999",
    }
    # When it is sent
    reply = send(server, "POST", "/", b"Action=ListTopics", headers)
    # Then the caller is told the signature is incomplete, in an XML ErrorResponse
    assert (reply.status, reply.code) == (400, "IncompleteSignature"), reply.body[:300]
    assert reply.root.tag == f"{NS}ErrorResponse"


# -- the process -----------------------------------------------------------------------


@pytest.fixture
def start_herald(tmp_path: Path) -> Iterator[Callable[..., HeraldProcess]]:
    """Start Heralds of this test's own (stopped at the end if still running)."""
    started: list[HeraldProcess] = []

    def start(data_dir: Path | None = None, **options: Any) -> HeraldProcess:
        herald = HeraldProcess(data_dir or tmp_path / "data", **options)
        started.append(herald)
        return herald.start()

    yield start
    for herald in started:
        if herald.process is not None and herald.process.poll() is None:
            herald.stop()


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_data_folder_open_to_others_is_made_private(
    start_herald: Callable[..., HeraldProcess], tmp_path: Path
) -> None:
    # Given a data folder that already exists, readable by every local user
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    data_dir.chmod(0o755)
    # When Herald starts on it and writes to its database
    herald = start_herald(data_dir)
    sns: Any = herald.client("sns")
    sns.create_topic(Name="private")
    # Then the folder is its owner's alone, and so are the database and its log
    assert mode(data_dir) == 0o700
    assert mode(data_dir / "herald.db") == 0o600
    assert (data_dir / "herald.db-wal").exists()
    for name in ("herald.db-wal", "herald.db-shm", "credentials"):
        if (data_dir / name).exists():
            assert mode(data_dir / name) == 0o600, name
    # And Herald said what it changed
    assert "it is now 0700" in "".join(herald.output)


def test_a_rotated_root_key_stops_working(
    start_herald: Callable[..., HeraldProcess], tmp_path: Path
) -> None:
    # Given a Herald that has served its root key
    first = start_herald(tmp_path / "data")
    old: Any = first.client("sns")
    assert old.list_topics()["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert first.stop() == 0
    # When it is restarted on the same folder with another root key pair
    new_key = "AKIAHERALDTESTROOT02"
    second = start_herald(first.data_dir, extra_env={"HERALD_ROOT_ACCESS_KEY_ID": new_key})
    assert second.secret != first.secret
    # Then the old key is refused as an invalid token
    old = client_for(second, ACCESS_KEY_ID, first.secret)
    code, status, message = failure(old.list_topics)
    assert (code, status) == ("InvalidClientTokenId", 403)
    assert message == "The security token included in the request is invalid."
    # And the new key works
    new = client_for(second, new_key, second.secret)
    assert new.list_topics()["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert f"root access key {ACCESS_KEY_ID} is no longer configured" in "".join(second.output)


def test_the_access_log_leaves_out_presigned_credentials(
    start_herald: Callable[..., HeraldProcess],
) -> None:
    # Given a Herald writing an access log, and a presigned URL on a path of its own
    herald = start_herald(extra_args=["--access-log"])
    path = f"/presigned-{uuid.uuid4().hex[:12]}"
    target = presigned(herald, {"Action": "ListTopics", "Version": "2010-03-31"}, path=path)
    signature = dict(p.split("=", 1) for p in target.split("?", 1)[1].split("&"))["X-Amz-Signature"]
    # When the URL is fetched
    assert send(herald, "GET", target, b"", {}).status == 200
    # Then the access log records the request by its path
    deadline = time.monotonic() + HANG
    while not any(f"GET {path}" in line for line in herald.output):
        assert time.monotonic() < deadline, "".join(herald.output)
        time.sleep(0.05)
    herald.stop()
    output = "".join(herald.output)
    # But neither the signature nor the credential scope
    assert signature not in output
    assert "X-Amz-Signature" not in output
    assert quote(ACCESS_KEY_ID) + "%2F" not in output
