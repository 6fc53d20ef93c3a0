"""The edge under hostile or careless clients, and the process under its operator.

Requests are built by hand (signed with botocore's own SigV4 signers where a signature is
wanted) and sent with http.client or a bare socket, so each one is wrong in exactly the
way the test says. The process tests start their own Herald on a folder of their own.
"""

from __future__ import annotations

import configparser
import datetime as dt
import http.client
import ipaddress
import os
import random
import signal
import socket
import ssl
import stat
import subprocess
import sys
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import boto3
import botocore.auth
import pytest
from botocore.awsrequest import AWSPreparedRequest, AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from cryptography import x509
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.e2e.harness import ACCESS_KEY_ID, REGION, HeraldProcess

NS = "{http://sns.amazonaws.com/doc/2010-03-31/}"
FORM = "application/x-www-form-urlencoded; charset=utf-8"
HANG = 30  # seconds after which a request "hung"; never a measure of speed


# -- raw HTTP --------------------------------------------------------------------------


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

    @property
    def message(self) -> str:
        return self.root.findtext(f"{NS}Error/{NS}Message") or ""


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


def signed(
    server: HeraldProcess,
    body: bytes,
    *,
    key: str = ACCESS_KEY_ID,
    secret: str | None = None,
    content_type: str = FORM,
) -> AWSPreparedRequest:
    """A POST of ``body`` signed in the Authorization header, as botocore signs one."""
    request = AWSRequest("POST", server.http_url + "/", {"Content-Type": content_type}, body)
    credentials = Credentials(key, secret if secret is not None else server.secret)
    botocore.auth.SigV4Auth(credentials, "sns", REGION).add_auth(request)
    return request.prepare()


def send_prepared(server: HeraldProcess, prepared: AWSPreparedRequest) -> Reply:
    url = urlsplit(prepared.url)
    target = url.path + (f"?{url.query}" if url.query else "")
    body = prepared.body or b""
    body = body.encode() if isinstance(body, str) else body
    return send(server, prepared.method, target, body, dict(prepared.headers.items()))


def post(server: HeraldProcess, body: bytes, **signing: Any) -> Reply:
    return send_prepared(server, signed(server, body, **signing))


def presigned(server: HeraldProcess, params: dict[str, str], expires: int) -> str:
    request = AWSRequest("GET", server.http_url + "/", {}, None, params)
    credentials = Credentials(ACCESS_KEY_ID, server.secret)
    botocore.auth.SigV4QueryAuth(credentials, "sns", REGION, expires).add_auth(request)
    url = urlsplit(request.prepare().url)
    return f"{url.path}?{url.query}"


def client(server: HeraldProcess, key: str, secret: str) -> Any:
    return boto3.Session(
        aws_access_key_id=key, aws_secret_access_key=secret, region_name=REGION
    ).client("sns", endpoint_url=server.http_url, config=Config(retries={"total_max_attempts": 1}))


def failure(call: Callable[[], object]) -> tuple[str, int, str]:
    with pytest.raises(ClientError) as caught:
        call()
    error = caught.value.response
    return (
        error["Error"]["Code"],
        error["ResponseMetadata"]["HTTPStatusCode"],
        error["Error"]["Message"],
    )


def signed_minutes_ago(monkeypatch: pytest.MonkeyPatch, minutes: int) -> None:
    """Make botocore sign as if its clock were ``minutes`` behind."""
    then = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(minutes=minutes)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda *a, **k: then)


# -- authentication --------------------------------------------------------------------


def test_an_unsigned_request_is_missing_its_authentication_token(server: HeraldProcess) -> None:
    # Given a well-formed ListTopics with no signature at all
    body = b"Action=ListTopics&Version=2010-03-31"
    # When it is sent
    reply = send(server, "POST", "/", body, {"Content-Type": FORM})
    # Then it is refused as unauthenticated
    assert (reply.status, reply.code) == (403, "MissingAuthenticationToken")


def test_an_unknown_access_key_is_an_invalid_client_token_id(server: HeraldProcess) -> None:
    sns = client(server, "AKIAHERALDUNKNOWN000", server.secret)
    code, status, message = failure(sns.list_topics)
    assert (code, status) == ("InvalidClientTokenId", 403)
    assert message == "The security token included in the request is invalid."


def test_a_wrong_secret_is_a_signature_mismatch(server: HeraldProcess) -> None:
    sns = client(server, ACCESS_KEY_ID, server.secret + "x")
    code, status, _ = failure(sns.list_topics)
    assert (code, status) == ("SignatureDoesNotMatch", 403)


def test_a_request_signed_20_minutes_ago_has_an_expired_signature(
    server: HeraldProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a client whose clock is 20 minutes behind (AWS allows 15)
    signed_minutes_ago(monkeypatch, 20)
    sns = client(server, ACCESS_KEY_ID, server.secret)
    # When it calls, Then the signature has expired
    code, status, message = failure(sns.list_topics)
    assert (code, status) == ("SignatureDoesNotMatch", 403)
    assert message.startswith("Signature expired")


AMZ_DATE = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
SCOPE = f"{ACCESS_KEY_ID}/{AMZ_DATE[:8]}/{REGION}/sns/aws4_request"
MALFORMED_AUTHORIZATION = {
    "another scheme": ("Bearer abc", AMZ_DATE),
    "algorithm alone": ("AWS4-HMAC-SHA256", AMZ_DATE),
    "credential only": (f"AWS4-HMAC-SHA256 Credential={SCOPE}", AMZ_DATE),
    "short credential scope": (
        f"AWS4-HMAC-SHA256 Credential=AKIA/{AMZ_DATE[:8]}, SignedHeaders=host, "
        f"Signature={'0' * 64}",
        AMZ_DATE,
    ),
    "no date header": (
        f"AWS4-HMAC-SHA256 Credential={SCOPE}, SignedHeaders=host, Signature={'0' * 64}",
        None,
    ),
    "date not ISO-8601 basic": (
        f"AWS4-HMAC-SHA256 Credential={SCOPE}, SignedHeaders=host, Signature={'0' * 64}",
        "2024-05-01T10:00:00Z",
    ),
}


@pytest.mark.parametrize(
    ("authorization", "amz_date"),
    MALFORMED_AUTHORIZATION.values(),
    ids=MALFORMED_AUTHORIZATION.keys(),
)
def test_a_malformed_authorization_header_is_an_incomplete_signature(
    server: HeraldProcess, authorization: str, amz_date: str | None
) -> None:
    # Given a request whose Authorization header is not a whole SigV4 signature
    headers = {"Content-Type": FORM, "Authorization": authorization}
    if amz_date is not None:
        headers["X-Amz-Date"] = amz_date
    # When it is sent, Then the signature is incomplete
    reply = send(server, "POST", "/", b"Action=ListTopics", headers)
    assert (reply.status, reply.code) == (400, "IncompleteSignature")


# -- actions and versions --------------------------------------------------------------

ACTION_ERRORS = {
    "unknown action": (
        b"Action=FrobnicateTopic&Version=2010-03-31",
        "InvalidAction",
        "Could not find operation FrobnicateTopic for version 2010-03-31",
    ),
    "unknown action, no version": (
        b"Action=FrobnicateTopic",
        "InvalidAction",
        "Could not find operation FrobnicateTopic for version 2010-03-31",
    ),
    "another API version": (
        b"Action=ListTopics&Version=2009-01-01",
        "InvalidAction",
        "Could not find operation ListTopics for version 2009-01-01",
    ),
    "no action": (
        b"Version=2010-03-31",
        "MissingAction",
        "Could not find the Action parameter in the request.",
    ),
}


@pytest.mark.parametrize(
    ("body", "code", "message"), ACTION_ERRORS.values(), ids=ACTION_ERRORS.keys()
)
def test_an_action_the_service_does_not_have_is_refused(
    server: HeraldProcess, body: bytes, code: str, message: str
) -> None:
    reply = post(server, body)
    assert (reply.status, reply.code, reply.message) == (400, code, message)


# -- presigned URLs --------------------------------------------------------------------

LIST_TOPICS = {"Action": "ListTopics", "Version": "2010-03-31"}


def test_a_presigned_get_lists_topics(server: HeraldProcess, sns: Any) -> None:
    # Given a ListTopics URL presigned for a minute
    target = presigned(server, LIST_TOPICS, expires=60)
    # When it is fetched with a plain GET
    reply = send(server, "GET", target, b"", {})
    # Then it answers as the signed API call does
    assert reply.status == 200
    assert reply.root.tag == f"{NS}ListTopicsResponse"
    listed = [e.text for e in reply.root.iter(f"{NS}TopicArn")]
    assert listed == [t["TopicArn"] for t in sns.list_topics()["Topics"]]


def test_a_presigned_url_past_its_expiry_is_refused(
    server: HeraldProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a URL presigned 10 minutes ago for 60 seconds
    signed_minutes_ago(monkeypatch, 10)
    target = presigned(server, LIST_TOPICS, expires=60)
    # When it is fetched, Then it has expired
    reply = send(server, "GET", target, b"", {})
    assert (reply.status, reply.code) == (400, "RequestExpired")


def test_a_presigned_url_with_a_changed_parameter_is_refused(server: HeraldProcess) -> None:
    # Given a presigned ListTopics URL whose action is then changed
    target = presigned(server, LIST_TOPICS, expires=60).replace(
        "Action=ListTopics", "Action=ListSubscriptions"
    )
    # When it is fetched, Then the signature no longer matches
    reply = send(server, "GET", target, b"", {})
    assert (reply.status, reply.code) == (403, "SignatureDoesNotMatch")


# -- request size ----------------------------------------------------------------------


def raw_exchange(server: HeraldProcess, head: bytes, body: bytes) -> Reply:
    """Send ``head`` and ``body`` on a bare socket; read one response (or time out)."""
    with socket.create_connection(("127.0.0.1", server.http_port), timeout=HANG) as sock:
        sock.sendall(head + body)
        response = http.client.HTTPResponse(sock, method="POST")
        try:
            response.begin()
            return Reply(response.status, response.read())
        finally:
            response.close()


def test_a_declared_body_over_1_mib_is_refused_before_it_is_sent(server: HeraldProcess) -> None:
    # Given a request that declares 50 MB of body but sends only a few bytes of it
    head = (
        f"POST / HTTP/1.1\r\nHost: 127.0.0.1:{server.http_port}\r\n"
        f"Content-Type: {FORM}\r\nContent-Length: {50 * 1024 * 1024}\r\n\r\n"
    ).encode()
    # When it is sent, Then the answer comes without the server waiting for the rest
    # (a server that waited would leave this socket to time out)
    reply = raw_exchange(server, head, b"Action=Publish&Message=")
    assert (reply.status, reply.code) == (413, "RequestEntityTooLarge")


def test_a_chunked_body_over_the_limit_is_refused(server: HeraldProcess) -> None:
    # Given a chunked request, with no declared length, whose chunks add up to the default
    # limit (2 MiB) + 1
    chunk = b"x" * (64 * 1024)
    chunks = [chunk] * 32 + [b"x"]
    body = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks) + b"0\r\n\r\n"
    head = (
        f"POST / HTTP/1.1\r\nHost: 127.0.0.1:{server.http_port}\r\n"
        f"Content-Type: {FORM}\r\nTransfer-Encoding: chunked\r\n\r\n"
    ).encode()
    # When it is sent, Then it is refused as too large
    reply = raw_exchange(server, head, body)
    assert (reply.status, reply.code) == (413, "RequestEntityTooLarge")


@pytest.mark.parametrize("shape", ["many headers", "one endless header"])
def test_a_request_head_over_64_kib_is_refused_and_the_server_lives_on(
    server: HeraldProcess, sns: Any, shape: str
) -> None:
    # Given a client that keeps sending a request head (up to 16 MB of it)
    line = b"X-Pad: " + b"a" * 8000 + b"\r\n" if shape == "many headers" else b"a" * 8000
    start = b"POST / HTTP/1.1\r\nHost: x\r\n" + (b"" if shape == "many headers" else b"X-Big: ")
    with socket.create_connection(("127.0.0.1", server.http_port), timeout=HANG) as sock:
        try:
            sock.sendall(start)
            for _ in range(2000):
                sock.sendall(line)
        except OSError:
            pass  # the server closed the connection while the client was still sending
        # When the server answers, Then it is 431 and the connection is closed
        answer = sock.recv(200)
    assert answer.startswith(b"HTTP/1.1 431 ")
    # And the server still serves others
    assert "Topics" in sns.list_topics()


# -- malformed forms -------------------------------------------------------------------


@pytest.fixture(scope="module")
def shared_topic(server: HeraldProcess) -> str:
    """One topic for the malformed and fuzzed requests of this module to aim at."""
    sns: Any = server.client("sns")
    return str(sns.create_topic(Name=f"robustness-{uuid.uuid4().hex[:12]}")["TopicArn"])


MALFORMED_FORMS: dict[str, bytes | str] = {
    "random bytes": random.Random(2010_03_31).randbytes(4096),
    "raw latin-1 byte": b"Action=CreateTopic&Name=caf\xe9",
    "percent-encoded 0xff": b"Action=ListTopics&Version=2010-03-31&NextToken=%FF%FE",
    "truncated UTF-8 in a name": b"Action=ListTopics&%C3=1",
    "5000 fields": b"Action=ListTopics&" + b"&".join(b"f%d=1" % i for i in range(5000)),
    "100 000 empty fields": b"&" * 100_000,
    "only separators and equals": b"==&&==&=",
    "byte order mark": b"\xef\xbb\xbfAction=ListTopics",
    "NUL in the action": b"Action=List%00Topics",
    "superscript list index": (
        "Action=CreateTopic&Name={name}&Tags.member.%C2%B2.Key=k&Tags.member.%C2%B2.Value=v"
    ),
    "5000-digit list index": "Action=UntagResource&ResourceArn={topic}&TagKeys.member."
    + "9" * 5000
    + "=k",
    "zero list index": "Action=CreateTopic&Name={name}&Tags.member.0.Key=k",
    "batch entry with a word for an index": (
        "Action=PublishBatch&TopicArn={topic}&PublishBatchRequestEntries.member.one.Id=a"
    ),
    "batch entry attribute with a circled index": (
        "Action=PublishBatch&TopicArn={topic}&PublishBatchRequestEntries.member.1.Id=a"
        "&PublishBatchRequestEntries.member.1.Message=m"
        "&PublishBatchRequestEntries.member.1.MessageAttributes.entry.%E2%91%A0.Name=n"
    ),
    "map entry without a key": "Action=CreateTopic&Name={name}&Attributes.entry.1.value=v",
    "attribute without a name": (
        "Action=Publish&TopicArn={topic}&Message=m"
        "&MessageAttributes.entry.1.Value.DataType=String"
        "&MessageAttributes.entry.1.Value.StringValue=v"
    ),
    "attribute without a type": (
        "Action=Publish&TopicArn={topic}&Message=m&MessageAttributes.entry.1.Name=n"
        "&MessageAttributes.entry.1.Value.StringValue=v"
    ),
    "binary attribute that is not base64": (
        "Action=Publish&TopicArn={topic}&Message=m&MessageAttributes.entry.1.Name=n"
        "&MessageAttributes.entry.1.Value.DataType=Binary"
        "&MessageAttributes.entry.1.Value.BinaryValue=%25%25%25"
    ),
    "number attribute that is not a number": (
        "Action=Publish&TopicArn={topic}&Message=m&MessageAttributes.entry.1.Name=n"
        "&MessageAttributes.entry.1.Value.DataType=Number"
        "&MessageAttributes.entry.1.Value.StringValue=twelve"
    ),
    "next token that is not a token": "Action=ListTopics&NextToken=%21%21%21",
    "next token of a JSON list": "Action=ListTopics&NextToken=W10%3D",
    "next token of JSON null": "Action=ListTopics&NextToken=bnVsbA%3D%3D",
    "return-arn flag that is not a boolean": (
        "Action=Subscribe&TopicArn={topic}&Protocol=email&Endpoint=a%40example.com"
        "&ReturnSubscriptionArn=perhaps"
    ),
}


def materialise(form: bytes | str, topic: str, name: str) -> bytes:
    if isinstance(form, bytes):
        return form
    return form.format(topic=quote(topic, safe=""), name=name).encode()


@pytest.mark.parametrize("form", MALFORMED_FORMS.values(), ids=MALFORMED_FORMS.keys())
def test_a_malformed_form_is_a_caller_error_in_xml(
    server: HeraldProcess, shared_topic: str, unique: Callable[[str], str], form: bytes | str
) -> None:
    # Given a correctly signed request whose form is malformed
    body = materialise(form, shared_topic, unique("malformed"))
    # When it is sent
    reply = post(server, body)
    # Then the caller is blamed, never the server, in an XML ErrorResponse
    assert 400 <= reply.status < 500, reply.body[:300]
    assert reply.root.tag == f"{NS}ErrorResponse"
    assert reply.root.findtext(f"{NS}Error/{NS}Type") == "Sender"
    assert reply.code


@pytest.mark.parametrize(
    ("content_type", "body"),
    [("application/json", b'{"Action": "ListTopics"}'), ("text/plain", b"Action=ListTopics")],
)
def test_a_body_that_is_not_a_form_is_malformed(
    server: HeraldProcess, content_type: str, body: bytes
) -> None:
    reply = post(server, body, content_type=content_type)
    assert (reply.status, reply.code) == (404, "MalformedQueryString")


FUZZ_ACTIONS = [
    "Publish",
    "PublishBatch",
    "Subscribe",
    "SetTopicAttributes",
    "GetTopicAttributes",
    "TagResource",
    "UntagResource",
    "ListTopics",
    "ListSubscriptionsByTopic",
    "AddPermission",
]
FUZZ_NAMES = st.lists(
    st.one_of(
        st.sampled_from(
            [
                "Message",
                "Subject",
                "Attributes",
                "MessageAttributes",
                "PublishBatchRequestEntries",
                "Tags",
                "TagKeys",
                "member",
                "entry",
                "key",
                "value",
                "Key",
                "Value",
                "Name",
                "Id",
                "DataType",
                "StringValue",
                "BinaryValue",
                "AttributeName",
                "AttributeValue",
                "NextToken",
            ]
        ),
        st.integers(-1, 11).map(str),
        st.text(max_size=3),
    ),
    min_size=1,
    max_size=6,
).map(".".join)


@st.composite
def fuzz_forms(draw: st.DrawFn, topic: str) -> bytes:
    pairs = [("Action", draw(st.sampled_from(FUZZ_ACTIONS))), ("TopicArn", topic)]
    pairs += draw(st.lists(st.tuples(FUZZ_NAMES, st.text(max_size=12)), max_size=10))
    encoded = "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in pairs)
    return encoded.encode()


@settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(data=st.data())
def test_fuzzed_requests_never_get_a_server_error(
    server: HeraldProcess, shared_topic: str, data: st.DataObject
) -> None:
    # Given a signed request with a fuzzed form, or with fuzzed bytes for a body
    body = data.draw(st.one_of(fuzz_forms(shared_topic), st.binary(max_size=256)))
    # When it is sent
    reply = post(server, body)
    # Then it is answered in XML, and any error is the caller's
    assert reply.status < 500, (body, reply.body[:300])
    root = reply.root
    if reply.status >= 400:
        assert root.tag == f"{NS}ErrorResponse"
    else:
        assert root.tag.endswith("Response")


# -- a failed request writes nothing ---------------------------------------------------


def test_tagging_past_the_limit_changes_no_tag(sns: Any, topic: str) -> None:
    # Given a topic with 45 tags
    before = [{"Key": f"k{i:02}", "Value": "v"} for i in range(45)]
    sns.tag_resource(ResourceArn=topic, Tags=before)
    # When one request overwrites one of them and adds ten more (55 in all, over 50)
    more = [{"Key": "k00", "Value": "changed"}] + [
        {"Key": f"n{i}", "Value": "v"} for i in range(10)
    ]
    code, status, _ = failure(lambda: sns.tag_resource(ResourceArn=topic, Tags=more))
    # Then it is refused, and the topic's tags are exactly as before
    assert (code, status) == ("TagLimitExceeded", 400)
    tags = sns.list_tags_for_resource(ResourceArn=topic)["Tags"]
    assert sorted(tags, key=lambda t: t["Key"]) == before


REFUSED_TOPICS = {
    "51 tags": (
        {"Tags": [{"Key": f"k{i}", "Value": "v"} for i in range(51)]},
        ("TagLimitExceeded", 400),
    ),
    "an unknown attribute": ({"Attributes": {"Colour": "blue"}}, ("InvalidParameter", 400)),
}


@pytest.mark.parametrize(("extra", "expected"), REFUSED_TOPICS.values(), ids=REFUSED_TOPICS.keys())
def test_a_refused_create_topic_leaves_no_topic(
    sns: Any, unique: Callable[[str], str], extra: dict[str, Any], expected: tuple[str, int]
) -> None:
    # Given a CreateTopic that will be refused
    name = unique("refused")
    # When it is sent
    code, status, _ = failure(lambda: sns.create_topic(Name=name, **extra))
    # Then it is refused and no such topic exists
    assert (code, status) == expected
    arn = f"arn:aws:sns:{REGION}:000000000000:{name}"
    assert failure(lambda: sns.get_topic_attributes(TopicArn=arn))[:2] == ("NotFound", 404)


# -- TLS material ----------------------------------------------------------------------


def test_the_generated_certificate_names_localhost_and_loopback(server: HeraldProcess) -> None:
    cert = x509.load_pem_x509_certificate(Path(server.ca_bundle).read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "localhost" in names.get_values_for_type(x509.DNSName)
    assert ipaddress.ip_address("127.0.0.1") in names.get_values_for_type(x509.IPAddress)


@pytest.mark.parametrize("hostname", ["localhost", "127.0.0.1"])
def test_the_tls_port_verifies_against_the_generated_certificate(
    server: HeraldProcess, hostname: str
) -> None:
    # Given a client that trusts only Herald's certificate and checks host names
    context = ssl.create_default_context(cafile=server.ca_bundle)
    # When it connects by that name, Then the handshake (and name check) succeeds
    with (
        socket.create_connection(("127.0.0.1", server.tls_port), timeout=HANG) as raw,
        context.wrap_socket(raw, server_hostname=hostname) as tls,
    ):
        assert tls.version() in ("TLSv1.2", "TLSv1.3")


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


def serve_once(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``herald serve`` expecting it to exit by itself."""
    return subprocess.run(
        [sys.executable, "-m", "herald.cli", "serve", "--data-dir", str(data_dir), *args],
        capture_output=True,
        text=True,
        env=HeraldProcess(data_dir).env(),
        timeout=HANG,
    )


def test_everything_survives_a_restart(start_herald: Callable[..., HeraldProcess]) -> None:
    # Given a Herald with a tagged topic with attributes, a subscription and a message
    first = start_herald()
    sns: Any = first.client("sns")
    arn = sns.create_topic(
        Name="durable", Attributes={"DisplayName": "Durable"}, Tags=[{"Key": "team", "Value": "c"}]
    )["TopicArn"]
    sns.set_topic_attributes(TopicArn=arn, AttributeName="TracingConfig", AttributeValue="Active")
    sub = sns.subscribe(
        TopicArn=arn,
        Protocol="sqs",
        Endpoint="arn:aws:sqs:us-east-1:000000000000:durable-q",
        Attributes={"RawMessageDelivery": "true"},
        ReturnSubscriptionArn=True,
    )["SubscriptionArn"]
    sns.publish(TopicArn=arn, Message="before the restart")
    # When it is stopped with SIGTERM and started again on the same folder
    assert first.stop(signal.SIGTERM) == 0
    second = start_herald(first.data_dir, secret=first.secret)
    sns = second.client("sns")
    # Then the topic, its attributes and tags, and the subscription are all there
    assert {"TopicArn": arn} in sns.list_topics()["Topics"]
    attributes = sns.get_topic_attributes(TopicArn=arn)["Attributes"]
    assert attributes["DisplayName"] == "Durable"
    assert attributes["TracingConfig"] == "Active"
    assert attributes["SubscriptionsConfirmed"] == "1"
    assert sns.list_tags_for_resource(ResourceArn=arn)["Tags"] == [{"Key": "team", "Value": "c"}]
    listed = sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"]
    assert [(s["SubscriptionArn"], s["Protocol"]) for s in listed] == [(sub, "sqs")]
    sub_attributes = sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]
    assert sub_attributes["RawMessageDelivery"] == "true"
    # And the topic still takes messages
    assert sns.publish(TopicArn=arn, Message="after the restart")["MessageId"]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_stop_signal_exits_0_after_closing_the_store(
    start_herald: Callable[..., HeraldProcess], sig: signal.Signals
) -> None:
    # Given a running Herald that has served a request
    herald = start_herald()
    sns: Any = herald.client("sns")
    sns.list_topics()
    # When it is sent the signal
    code = herald.stop(sig)
    # Then it exits 0 and says it closed the store
    assert code == 0, "".join(herald.output)
    assert "store closed" in "".join(herald.output)


@pytest.mark.parametrize("flag", ["--port", "--tls-port"])
def test_a_port_in_use_is_one_line_and_exit_2(tmp_path: Path, flag: str) -> None:
    # Given a port some other program is listening on
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        other = "--tls-port" if flag == "--port" else "--port"
        # When Herald is asked to listen there
        done = serve_once(tmp_path / "data", flag, str(port), other, "0")
    # Then it says so in one line and exits 2
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "address already in use" in lines[0]
    assert str(port) in lines[0]


UNWRITABLE = {
    "a folder under a regular file": lambda tmp: tmp / "plain-file" / "data",
    "a regular file": lambda tmp: tmp / "plain-file",
}


@pytest.mark.parametrize("where", UNWRITABLE.values(), ids=UNWRITABLE.keys())
def test_an_unwritable_data_folder_is_one_line_and_exit_2(
    tmp_path: Path, where: Callable[[Path], Path]
) -> None:
    # Given a data folder path that cannot be a writable folder
    (tmp_path / "plain-file").write_text("not a folder")
    data_dir = where(tmp_path)
    # When Herald is started on it
    done = serve_once(data_dir, "--port", "0", "--tls-port", "0")
    # Then it says so in one line and exits 2
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "not writable" in lines[0]
    assert str(data_dir) in lines[0]


def test_a_first_start_without_root_credentials_writes_a_credentials_file(
    start_herald: Callable[..., HeraldProcess],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a fresh data folder and no HERALD_ROOT_* variables
    herald = start_herald(tmp_path / "data", use_env_credentials=False)
    # When it has started
    path = herald.data_dir / "credentials"
    # Then it wrote the root key, readable by its owner only, as profile [herald]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    profile = configparser.ConfigParser()
    profile.read(path)
    assert profile.sections() == ["herald"]
    assert profile["herald"]["aws_access_key_id"].startswith("AKIA")
    assert profile["herald"]["aws_secret_access_key"]
    assert f"AWS_SHARED_CREDENTIALS_FILE={path.resolve()}" in "".join(herald.output)
    # And boto3 pointed at that file and profile can call Herald
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(path))
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    assert lists_topics_with_profile(herald)
    # And after a restart the same file still works and is left as it was
    written = path.read_bytes()
    assert herald.stop() == 0
    restarted = start_herald(herald.data_dir, use_env_credentials=False)
    assert lists_topics_with_profile(restarted)
    assert path.read_bytes() == written


def lists_topics_with_profile(herald: HeraldProcess) -> bool:
    session = boto3.Session(profile_name="herald", region_name=REGION)
    sns = session.client("sns", endpoint_url=herald.http_url)
    return bool(sns.list_topics()["ResponseMetadata"]["HTTPStatusCode"] == 200)
