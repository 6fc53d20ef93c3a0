"""SigV4 verification (herald.auth.sigv4).

Three sources of truth: AWS's published test suite (transcribed in
tests/vectors/sigv4_aws_suite.json), requests signed at test time by botocore itself, and
hand-made requests that are wrong in one way each.
"""

from __future__ import annotations

import calendar
import datetime as dt
import hashlib
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import botocore.auth
import pytest
from botocore.awsrequest import AWSPreparedRequest, AWSRequest
from botocore.credentials import Credentials
from botocore.utils import percent_encode

from herald.auth import sigv4
from herald.errors import (
    IncompleteSignature,
    MissingAuthenticationToken,
    RequestExpired,
    SignatureMismatch,
)

SUITE = json.loads(
    (Path(__file__).parents[1] / "vectors" / "sigv4_aws_suite.json").read_text("utf-8")
)
VECTORS: list[dict[str, Any]] = SUITE["vectors"]
SUITE_SECRET: str = SUITE["secret_key"]
VANILLA = next(v for v in VECTORS if v["name"] == "get-vanilla")

ACCESS_KEY = "AKIDHERALDTEST"
SECRET = "herald/test+Secret"
REGION = "eu-west-1"
SIGNED_AT = dt.datetime(2024, 5, 1, 10, 0, 0, tzinfo=dt.UTC)
NOW = SIGNED_AT.timestamp()
SNS = "https://sns.eu-west-1.amazonaws.com"
FORM = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}


# -- helpers ---------------------------------------------------------------------------


def epoch(amz_date: str) -> float:
    return float(calendar.timegm(time.strptime(amz_date, "%Y%m%dT%H%M%SZ")))


def check(request: sigv4.HTTPRequest, secret: str = SECRET, now: float = NOW) -> None:
    """parse() then verify(), as the edge does once it has looked the secret up."""
    sigv4.verify(request, sigv4.parse(request), secret, now)


def one_off(text: str) -> str:
    """``text`` with its last character changed (or one added, when it is empty)."""
    if not text:
        return "x"
    return text[:-1] + ("0" if text[-1] != "0" else "1")


def vector_request(
    vector: dict[str, Any],
    *,
    signature: str | None = None,
    body: str | None = None,
    host: str | None = None,
    authorization: str | None = None,
) -> sigv4.HTTPRequest:
    """The request of a published vector, as the edge would hand it over."""
    headers = [
        (k.lower(), host if host and k.lower() == "host" else v) for k, v in vector["headers"]
    ]
    signed = ";".join(sorted({k for k, _ in headers}))
    scope = "/".join(
        (vector["access_key"], vector["amz_date"][:8], vector["region"], vector["service"])
    )
    sig = signature or vector["signature"]
    auth = f"{sigv4.ALGORITHM} Credential={scope}/aws4_request, SignedHeaders={signed}, "
    headers.append(("authorization", authorization or f"{auth}Signature={sig}"))
    payload = (vector["body"] if body is None else body).encode("utf-8")
    return sigv4.HTTPRequest(
        vector["method"], vector["path"], vector["query"], headers, sha256(payload)
    )


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def query(pairs: Sequence[tuple[str, str]]) -> str:
    """A query string encoded as botocore's query-protocol serializer encodes one."""
    return "&".join(f"{percent_encode(k)}={percent_encode(v)}" for k, v in pairs)


@pytest.fixture(autouse=True)
def frozen_botocore(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: SIGNED_AT)


def botocore_signed(
    method: str,
    url: str,
    *,
    service: str = "sns",
    data: Any = None,
    headers: dict[str, str] | None = None,
    params: dict[str, str] | None = None,
    expires: int | None = None,
    token: str | None = None,
) -> sigv4.HTTPRequest:
    """Sign with botocore (header form, or query form when ``expires`` is given)."""
    request = AWSRequest(method, url, dict(headers or {}), data, params or {})
    credentials = Credentials(ACCESS_KEY, SECRET, token)
    if expires is None:
        botocore.auth.SigV4Auth(credentials, service, REGION).add_auth(request)
    else:
        botocore.auth.SigV4QueryAuth(credentials, service, REGION, expires).add_auth(request)
    return as_received(request.prepare())


def as_received(prepared: AWSPreparedRequest) -> sigv4.HTTPRequest:
    url = urlsplit(prepared.url)
    headers = [(k.lower(), v) for k, v in prepared.headers.items()]
    headers.append(("host", url.netloc))  # the HTTP client adds it on the way out
    body = prepared.body or b""
    body = body.encode("utf-8") if isinstance(body, str) else body
    return sigv4.HTTPRequest(prepared.method, url.path, url.query, headers, sha256(body))


def ids(vectors: list[dict[str, Any]]) -> list[str]:
    return [v["name"] for v in vectors]


# -- AWS's published vectors -----------------------------------------------------------


@pytest.mark.parametrize("vector", VECTORS, ids=ids(VECTORS))
def test_a_published_vector_verifies(vector: dict[str, Any]) -> None:
    # Given a request of the AWS suite, received at the time it was signed
    request = vector_request(vector)
    # When it is verified with the suite's secret, Then nothing is raised
    check(request, SUITE_SECRET, epoch(vector["amz_date"]))


TAMPERS = {
    "signature": lambda v: {"signature": one_off(v["signature"])},
    "body": lambda v: {"body": one_off(v["body"])},
    "signed host header": lambda v: {"host": one_off("example.amazonaws.com")},
}


@pytest.mark.parametrize("tamper", TAMPERS.values(), ids=TAMPERS.keys())
@pytest.mark.parametrize("vector", VECTORS, ids=ids(VECTORS))
def test_a_one_character_change_breaks_a_published_vector(
    vector: dict[str, Any], tamper: Any
) -> None:
    # Given a published request with one character changed
    request = vector_request(vector, **tamper(vector))
    # When it is verified, Then the signature does not match
    with pytest.raises(SignatureMismatch):
        check(request, SUITE_SECRET, epoch(vector["amz_date"]))


# "Examples of how to derive a signing key for Signature Version 4" (AWS docs), for
# 20150830/us-east-1/iam; and the earlier edition of that page (IAM, 2011-09-09).
DOCUMENTED_KEYS = [
    ("20150830", "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9"),
    ("20110909", "98f1d889fec4f4421adc522bab0ce1f82e6929c262ed15e5a94c90efd1e3b0e7"),
]


@pytest.mark.parametrize(("date", "expected"), DOCUMENTED_KEYS)
def test_the_signing_key_matches_the_documented_derivation(date: str, expected: str) -> None:
    assert sigv4.signing_key(SUITE_SECRET, date, "us-east-1", "iam").hex() == expected


# -- requests signed by botocore -------------------------------------------------------

HEADER_SIGNED = {
    "sns form Publish": dict(
        method="POST",
        url=SNS + "/",
        data=query(
            [
                ("Action", "Publish"),
                ("TopicArn", "arn:aws:sns:eu-west-1:1:t"),
                ("Message", "hello world + ሴ"),
            ]
        ),
        headers=FORM,
    ),
    "sqs form SendMessage": dict(
        method="POST",
        url="https://sqs.eu-west-1.amazonaws.com/123456789012/q",
        service="sqs",
        data=query([("Action", "SendMessage"), ("MessageBody", "a=b&c/d~e 😀")]),
        headers=FORM,
    ),
    "kms json Encrypt": dict(
        method="POST",
        url="https://kms.eu-west-1.amazonaws.com/",
        service="kms",
        data=b'{"KeyId": "alias/x", "Plaintext": "aGk="}',
        headers={
            "X-Amz-Target": "TrentService.Encrypt",
            "Content-Type": "application/x-amz-json-1.1",
        },
    ),
    "iam GET ListUsers": dict(
        method="GET",
        url="https://iam.amazonaws.com/?"
        + query([("Action", "ListUsers"), ("Version", "2010-05-08")]),
        service="iam",
    ),
    "session token": dict(method="GET", url=SNS + "/?Action=ListTopics", token="FQoG//tok+en="),
    "Date header instead of X-Amz-Date": dict(
        method="GET", url=SNS + "/?Action=ListTopics", headers={"Date": "x"}
    ),
    "query with space": dict(method="GET", url=SNS + "/?" + query([("Message", "a b  c")])),
    "query with unicode": dict(method="GET", url=SNS + "/?" + query([("Subject", "héllo ሴ 😀")])),
    "query with + and =": dict(method="GET", url=SNS + "/?" + query([("Message", "1+1=2")])),
    "query with / and ~": dict(method="GET", url=SNS + "/?" + query([("Arn", "a/b~c")])),
    "query with repeated keys": dict(
        method="GET", url=SNS + "/?" + query([("K", "b"), ("K", "a b"), ("K", "a"), ("J", "")])
    ),
    "path with %20": dict(method="GET", url=SNS + "/a%20b/c%20"),
    "path with unicode": dict(method="GET", url=SNS + "/caf%C3%A9/%E1%88%B4/~u"),
    "path with dot segments": dict(method="GET", url=SNS + "/a/./b/../c//d/"),
}


@pytest.mark.parametrize("case", HEADER_SIGNED.values(), ids=HEADER_SIGNED.keys())
def test_a_request_signed_by_botocore_verifies(case: dict[str, Any]) -> None:
    # Given a request signed by botocore's SigV4Auth
    request = botocore_signed(**case)
    # When it is verified at the time it was signed, Then nothing is raised
    check(request)


@pytest.mark.parametrize(
    "params",
    [
        {"Message": "1+1=2"},
        {"Arn": "a/b~c"},
        {"Subject": "héllo-ሴ"},
        {"Message": "a b"},
    ],
    ids=["plus-equals", "slash-tilde", "unicode", "space-as-plus"],
)
def test_a_botocore_request_with_params_verifies(params: dict[str, str]) -> None:
    # Given botocore's own query encoding (AWSRequest.params, sent through urlencode)
    request = botocore_signed("GET", SNS + "/", params=params)
    # When it is verified, Then nothing is raised
    check(request)


PRESIGNED = {
    "sns GET": dict(method="GET", url=SNS + "/?Action=ListTopics"),
    "sqs POST form": dict(
        method="POST",
        url="https://sqs.eu-west-1.amazonaws.com/123456789012/q",
        service="sqs",
        data={"Action": "SendMessage", "MessageBody": "a b+c/ሴ"},
        headers=FORM,
    ),
    "iam GET unicode path": dict(
        method="GET",
        url="https://iam.amazonaws.com/a%20b/%E1%88%B4?Action=ListUsers",
        service="iam",
    ),
    "session token": dict(method="GET", url=SNS + "/?Action=ListTopics", token="FQoG//tok+en="),
}


@pytest.mark.parametrize("case", PRESIGNED.values(), ids=PRESIGNED.keys())
@pytest.mark.parametrize("age", [0, 299, 300])
def test_a_presigned_request_verifies_until_it_expires(case: dict[str, Any], age: int) -> None:
    # Given a request presigned by botocore's SigV4QueryAuth for 300 seconds
    request = botocore_signed(**case, expires=300)
    # When it is verified up to 300 seconds later, Then nothing is raised
    check(request, now=NOW + age)


@pytest.mark.parametrize("case", PRESIGNED.values(), ids=PRESIGNED.keys())
def test_a_presigned_request_past_its_expiry_is_rejected(case: dict[str, Any]) -> None:
    # Given a request presigned for 300 seconds
    request = botocore_signed(**case, expires=300)
    # When it is verified 301 seconds later, Then it has expired
    with pytest.raises(RequestExpired):
        check(request, now=NOW + 301)


def test_a_tampered_presigned_request_is_rejected() -> None:
    # Given a presigned request whose operation parameter was changed afterwards
    signed = botocore_signed("GET", SNS + "/?Action=ListTopics", expires=300)
    request = sigv4.HTTPRequest(
        signed.method,
        signed.path,
        signed.query.replace("ListTopics", "ListTopicz"),
        signed.headers,
        signed.body_sha256,
    )
    # When it is verified, Then the signature does not match
    with pytest.raises(SignatureMismatch):
        check(request)


# -- time ------------------------------------------------------------------------------


@pytest.mark.parametrize("skew", [-900, -1, 0, 1, 900])
def test_clock_skew_up_to_15_minutes_is_accepted(skew: int) -> None:
    request = botocore_signed("GET", SNS + "/?Action=ListTopics")
    check(request, now=NOW + skew)


@pytest.mark.parametrize(
    ("skew", "message"),
    [
        (901, "Signature expired"),
        (24 * 3600, "Signature expired"),
        (-901, "Signature not yet current"),
        (-24 * 3600, "Signature not yet current"),
    ],
)
def test_clock_skew_beyond_15_minutes_is_rejected(skew: int, message: str) -> None:
    # Given a request signed at SIGNED_AT, When it is verified ``skew`` seconds away
    request = botocore_signed("GET", SNS + "/?Action=ListTopics")
    with pytest.raises(SignatureMismatch) as caught:
        check(request, now=NOW + skew)
    # Then the message says which way the clock is off
    assert caught.value.message.startswith(message)


def test_a_presigned_request_from_the_future_is_rejected() -> None:
    request = botocore_signed("GET", SNS + "/?Action=ListTopics", expires=300)
    with pytest.raises(SignatureMismatch, match=r"^Signature not yet current"):
        check(request, now=NOW - 901)


# -- malformed or missing authentication ------------------------------------------------


@pytest.mark.parametrize(
    "request_",
    [
        sigv4.HTTPRequest("GET", "/", "", [("host", "h")], sigv4.EMPTY_SHA256),
        sigv4.HTTPRequest("GET", "/", "Action=ListTopics", [("host", "h")], sigv4.EMPTY_SHA256),
        sigv4.HTTPRequest(
            "POST",
            "/",
            "",
            [("host", "h"), ("x-amz-date", VANILLA["amz_date"])],
            sigv4.EMPTY_SHA256,
        ),
    ],
    ids=["bare", "query without signature", "x-amz-date only"],
)
def test_a_request_without_authentication_is_rejected(request_: sigv4.HTTPRequest) -> None:
    assert not sigv4.is_signed(request_)
    with pytest.raises(MissingAuthenticationToken):
        sigv4.parse(request_)


_CRED = "Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request"
_SH = "SignedHeaders=host;x-amz-date"
_SIG = "Signature=" + VANILLA["signature"]


@pytest.mark.parametrize(
    "authorization",
    [
        f"AWS4-HMAC-SHA256 {_SH}, {_SIG}",
        f"AWS4-HMAC-SHA256 {_CRED}, {_SIG}",
        f"AWS4-HMAC-SHA256 {_CRED}, {_SH}",
        f"AWS4-HMAC-SHA1 {_CRED}, {_SH}, {_SIG}",
        f"AWS AKIDEXAMPLE:{VANILLA['signature']}",
        f"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/aws4_request, {_SH}, {_SIG}",
        f"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830//service/aws4_request, {_SH}, {_SIG}",
    ],
    ids=[
        "no Credential",
        "no SignedHeaders",
        "no Signature",
        "wrong algorithm",
        "SigV2 shape",
        "4-element scope",
        "empty region",
    ],
)
def test_a_malformed_authorization_header_is_incomplete(authorization: str) -> None:
    request = vector_request(VANILLA, authorization=authorization)
    with pytest.raises(IncompleteSignature):
        sigv4.parse(request)


def test_a_presigned_request_without_credential_is_incomplete() -> None:
    signed = botocore_signed("GET", SNS + "/?Action=ListTopics", expires=300)
    kept = "&".join(p for p in signed.query.split("&") if not p.startswith("X-Amz-Credential="))
    request = sigv4.HTTPRequest("GET", "/", kept, signed.headers, signed.body_sha256)
    with pytest.raises(IncompleteSignature):
        sigv4.parse(request)


def test_host_must_be_signed() -> None:
    # Given an Authorization header whose SignedHeaders leave out host
    auth = f"AWS4-HMAC-SHA256 {_CRED}, SignedHeaders=x-amz-date, {_SIG}"
    request = vector_request(VANILLA, authorization=auth)
    # When it is parsed, Then it is refused
    with pytest.raises(SignatureMismatch, match="'Host'"):
        sigv4.parse(request)


@pytest.mark.parametrize(
    ("declared_for", "accepted"),
    [(b"Action=ListTopics", True), (b"Action=DeleteTopic", False)],
    ids=["matches the body", "matches another body"],
)
def test_x_amz_content_sha256_must_match_the_body(declared_for: bytes, accepted: bool) -> None:
    # Given a request validly signed over a declared x-amz-content-sha256
    request = botocore_signed(
        "POST",
        SNS + "/",
        data=b"Action=ListTopics",
        headers={**FORM, "X-Amz-Content-SHA256": sha256(declared_for)},
    )
    # When it is verified, Then it passes only if the declared hash is the body's
    if accepted:
        check(request)
    else:
        with pytest.raises(SignatureMismatch, match="x-amz-content-sha256"):
            check(request)


def test_the_wrong_secret_is_a_mismatch() -> None:
    request = botocore_signed("GET", SNS + "/?Action=ListTopics")
    with pytest.raises(SignatureMismatch, match=r"^The request signature we calculated"):
        check(request, secret=SECRET + "x")


@pytest.mark.parametrize(
    ("scope", "message"),
    [
        ("AKIDEXAMPLE/20150830/US_EAST/service/aws4_request", "valid region"),
        ("AKIDEXAMPLE/20150830/us-east-1-/service/aws4_request", "valid region"),
        ("AKIDEXAMPLE/20150830/" + "a" * 33 + "/service/aws4_request", "valid region"),
        ("AKIDEXAMPLE/20150830/us-east-1/SNS!/aws4_request", "valid service"),
    ],
)
def test_a_credential_scope_with_a_bad_region_or_service_is_refused(
    scope: str, message: str
) -> None:
    # Given an Authorization header whose scope names no possible region or service
    auth = f"AWS4-HMAC-SHA256 Credential={scope}, SignedHeaders=host;x-amz-date, {_SIG}"
    request = vector_request(VANILLA, authorization=auth)
    # When it is parsed, Then it is refused before any ARN could be built from it
    with pytest.raises(SignatureMismatch, match=message):
        sigv4.parse(request)


def test_a_non_ascii_content_hash_is_a_mismatch_not_a_crash() -> None:
    # Given a request whose x-amz-content-sha256 header is not ASCII
    request = botocore_signed("POST", SNS + "/", data=b"Action=ListTopics")
    headers = [(k, v) for k, v in request.headers if k != "x-amz-content-sha256"]
    headers.append(("x-amz-content-sha256", "é" * 64))
    tampered = sigv4.HTTPRequest(
        request.method, request.path, request.query, headers, request.body_sha256
    )
    # When it is verified, Then it is refused as a signature mismatch
    with pytest.raises(SignatureMismatch):
        check(tampered)
