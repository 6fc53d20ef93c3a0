"""Client input that reaches pure checkers: whatever arrives, a HeraldError comes out.

An exception that is not a HeraldError becomes InternalFailure 500 (and a traceback in the
log), so each checker a request's text reaches is fed arbitrary text here: topic and
subscription attributes, filter policies, message attributes, and SigV4's Authorization,
Date and X-Amz-Date headers and presigned query strings. Tables first (the inputs the
review found giving 500), then Hypothesis.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import time
from collections.abc import Iterator
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from herald.auth import sigv4
from herald.errors import (
    HeraldError,
    IncompleteSignature,
    InvalidParameter,
    InvalidParameterValue,
)
from herald.sns import attributes, filter_policy, validation
from herald.sns.attributes import TopicFacts

FUZZ = settings(
    max_examples=200,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

TOPIC_NAMES = sorted(attributes.TOPIC_ATTRIBUTES)
SUBSCRIPTION_NAMES = list(attributes.SUBSCRIPTION_ATTRIBUTES)
PROTOCOLS = ["http", "https", "email", "email-json", "sqs", "lambda", "firehose", "sms"]

# -- strategies ------------------------------------------------------------------------

# Field names the checkers look for, so generated documents reach past "not an object".
KNOWN_KEYS = [
    "http",
    "defaultHealthyRetryPolicy",
    "defaultSicklyRetryPolicy",
    "defaultThrottlePolicy",
    "defaultRequestPolicy",
    "disableSubscriptionOverrides",
    "healthyRetryPolicy",
    "sicklyRetryPolicy",
    "throttlePolicy",
    "maxReceivesPerSecond",
    "requestPolicy",
    "guaranteed",
    *attributes.DEFAULT_HTTP_RETRY,
    "MessageRetentionPeriod",
    "deadLetterTargetArn",
    "Statement",
    "Effect",
    "Action",
    "Sid",
    *filter_policy.OPERATORS,
    "$or",
    "k",
]
# Digits of other scripts pass str.isdigit() and can fail int(); past 4300 digits, so can
# plain ASCII ones (Python's int-string limit).
UNICODE_DIGITS = "0123456789\u00b2\u00b3\u00b9\u0663\u07c0\U0001d7d9"
NUMBERISH = st.one_of(
    st.text(alphabet=UNICODE_DIGITS, min_size=1, max_size=8),
    st.integers(4290, 6000).map(lambda n: "1" * n),
    st.text(alphabet=UNICODE_DIGITS + "+-.eE", min_size=1, max_size=12),
    st.integers(-(10**40), 10**40).map(str),
    st.sampled_from(["NaN", "Infinity", "-Infinity", "1e1000000", "1e-1000000", "-0", "1.5"]),
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["Allow", "Deny", "sns:Publish", "linear", "10.0.0.0/8", "=", ">", "<"]),
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(
            st.one_of(st.sampled_from(KNOWN_KEYS), st.text(max_size=4)), inner, max_size=4
        ),
    ),
    max_leaves=20,
)


@st.composite
def json_text(draw: st.DrawFn) -> str:
    """A JSON document, sometimes with a raw token spliced in (NaN, a huge number, junk)."""
    text = json.dumps(draw(JSON_VALUES))
    if draw(st.booleans()):
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(st.one_of(NUMBERISH, st.text(max_size=4))) + text[at:]
    return text


ANY_TEXT = st.one_of(st.text(max_size=200), NUMBERISH, json_text())


# -- topic and subscription attributes: known 500s -------------------------------------

SET = "Invalid parameter: "
TOPIC_ROWS = {
    "superscript sample rate": (
        "HTTPSuccessFeedbackSampleRate",
        "²",
        SET + "HTTPSuccessFeedbackSampleRate: ² value provided is not an integer between 0-100",
    ),
    "5000-digit sample rate": (
        "SQSSuccessFeedbackSampleRate",
        "1" * 5000,
        SET + f"SQSSuccessFeedbackSampleRate: {'1' * 5000} value provided is not an integer "
        "between 0-100",
    ),
    "superscript maximum message size": (
        "MaximumMessageSize",
        "1²",
        SET + "MaximumMessageSize: Invalid value [1²]. Must be an integer from 1024 to 1048576",
    ),
    "5000-digit maximum message size": (
        "MaximumMessageSize",
        "1" * 5000,
        SET + f"MaximumMessageSize: Invalid value [{'1' * 5000}]. Must be an integer from "
        "1024 to 1048576",
    ),
    "disableSubscriptionOverrides as a string": (
        "DeliveryPolicy",
        '{"http":{"disableSubscriptionOverrides":"false"}}',
        SET + "DeliveryPolicy: http.disableSubscriptionOverrides must be true or false",
    ),
    "40 KB data protection policy": (
        "DataProtectionPolicy",
        json.dumps({"Description": "d" * 40_000}),
        SET + "DataProtectionPolicy: the value is over 30720 bytes",
    ),
}


@pytest.mark.parametrize(("name", "value", "message"), TOPIC_ROWS.values(), ids=TOPIC_ROWS.keys())
def test_a_topic_attribute_the_review_found_is_refused_in_words(
    name: str, value: str, message: str
) -> None:
    with pytest.raises(InvalidParameter) as caught:
        attributes.check_topic_attribute(name, value, TopicFacts(fifo=False, creating=False))
    assert caught.value.message == message


FILTER_ROWS = {
    "cidr mask of 5000 digits": (
        '{"k":[{"cidr":"10.0.0.0/' + "1" * 5000 + '"}]}',
        "Malformed CIDR, mask bits must be an integer",
    ),
    "integer of 5000 digits": ('{"k":[' + "1" * 5000 + "]}", "failed to parse JSON."),
    "NaN as a numeric bound": (
        '{"k":[{"numeric":[">",NaN,"<",1]}]}',
        "failed to parse JSON. Non-standard token 'NaN': not a valid JSON value",
    ),
    "Infinity as a value": ('{"k":[Infinity]}', "failed to parse JSON. Non-standard token"),
}


@pytest.mark.parametrize(("text", "message"), FILTER_ROWS.values(), ids=FILTER_ROWS.keys())
def test_a_filter_policy_the_review_found_is_refused_in_words(text: str, message: str) -> None:
    with pytest.raises(filter_policy.FilterPolicyError) as caught:
        filter_policy.check(text)
    assert str(caught.value).startswith(message)


# -- topic and subscription attributes: fuzzed -----------------------------------------


@pytest.mark.parametrize("name", TOPIC_NAMES)
@FUZZ
@given(value=ANY_TEXT, fifo=st.booleans(), creating=st.booleans())
def test_any_topic_attribute_value_is_accepted_or_an_invalid_parameter(
    name: str, value: str, fifo: bool, creating: bool
) -> None:
    try:
        checked = attributes.check_topic_attribute(name, value, TopicFacts(fifo, creating))
    except HeraldError:
        return
    assert isinstance(checked, str)


@pytest.mark.parametrize("name", SUBSCRIPTION_NAMES)
@FUZZ
@given(value=ANY_TEXT, protocol=st.sampled_from(PROTOCOLS), creating=st.booleans())
def test_any_subscription_attribute_value_is_accepted_or_an_invalid_parameter(
    name: str, value: str, protocol: str, creating: bool
) -> None:
    try:
        checked = attributes.check_subscription_attribute(name, value, protocol, creating)
    except HeraldError:
        return
    assert isinstance(checked, str)


@FUZZ
@given(text=st.one_of(json_text(), st.text(max_size=300)))
@example(text='{"k":[{"numeric":[">",NaN,"<",1]}]}')
@example(text='{"k":[' + "1" * 5000 + "]}")
@example(text='{"$or":[' * 600 + "{}" + "]}" * 600)
def test_any_filter_policy_text_is_accepted_or_a_filter_policy_error(text: str) -> None:
    try:
        document = filter_policy.check(text)
    except filter_policy.FilterPolicyError:
        return
    assert isinstance(document, dict)


# -- message attributes ----------------------------------------------------------------

DATA_TYPES = st.one_of(
    st.sampled_from(["String", "Number", "Binary", "String.Array", "Number.float", "Binary.x"]),
    st.text(max_size=20),
)
OPTIONAL_TEXT = st.one_of(st.none(), ANY_TEXT)


def test_a_number_past_decimal_range_is_an_invalid_value() -> None:
    with pytest.raises(InvalidParameterValue) as caught:
        validation.message_attribute("n", "Number", "1e1000000", None)
    assert caught.value.message == (
        "Value 1e1000000 for parameter MessageAttributes is invalid. Reason: Number values "
        "can have up to 38 digits of precision and be between -10^128 and 10^126."
    )


@FUZZ
@given(
    name=st.one_of(st.sampled_from(["n", "AWS.x", "a..b"]), st.text(max_size=20)),
    data_type=st.one_of(st.none(), DATA_TYPES),
    string_value=OPTIONAL_TEXT,
    binary_value=st.one_of(
        st.none(),
        st.text(max_size=40),
        st.binary(max_size=30).map(lambda raw: base64.b64encode(raw).decode()),
    ),
)
@example(name="n", data_type="Number", string_value="1e1000000", binary_value=None)
@example(name="n", data_type="Number", string_value="9" * 5000, binary_value=None)
@example(name="n", data_type="Number", string_value="1e999999999999999999", binary_value=None)
def test_any_message_attribute_is_accepted_or_a_herald_error(
    name: str,
    data_type: str | None,
    string_value: str | None,
    binary_value: str | None,
) -> None:
    try:
        validation.message_attribute(name, data_type, string_value, binary_value)
    except HeraldError:
        return


# -- SigV4: parse and verify -----------------------------------------------------------

NOW = time.time()
AMZ_NOW = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(NOW))
# What the edge hands SigV4: header values, path and query decoded as latin-1.
WIRE = st.text(alphabet=st.characters(codec="latin-1"), max_size=60)
HEX64 = st.text(alphabet="0123456789abcdef", min_size=64, max_size=64)


def fuzzed(valid: st.SearchStrategy[str], *odd: str) -> st.SearchStrategy[str]:
    """Mostly a valid part (7 in 8), else an odd one or anything: so that most requests
    get past the early checks and reach the later ones, verify() included."""
    wrong = st.one_of(st.sampled_from(odd), WIRE) if odd else WIRE
    return st.tuples(st.integers(0, 7), valid, wrong).map(lambda t: t[2] if t[0] == 7 else t[1])


AMZ_DATES = fuzzed(
    st.one_of(
        st.just(AMZ_NOW),
        st.datetimes(dt.datetime(1970, 1, 1), dt.datetime(9999, 12, 31)).map(
            lambda d: d.strftime("%Y%m%dT%H%M%SZ")
        ),
    ),
    "00010101T000000Z",
    "20241301T000000Z",
    "20240230T250000Z",
    "20240101T000000Z\n",
)
REGIONS = fuzzed(st.sampled_from(["us-east-1", "eu-west-1", "a"]), "us-east-1\n", "US-EAST-1", "")
SERVICES = fuzzed(st.sampled_from(["sns", "sqs"]), "", "s n s")
SIGNED_HEADERS = fuzzed(
    st.sampled_from(["host", "host;x-amz-date", "content-type;host"]), "", "content-type"
)


@st.composite
def credentials(draw: st.DrawFn, amz_date: str) -> str:
    date = draw(fuzzed(st.just(amz_date[:8])))
    key = draw(fuzzed(st.just("AKIAHERALDTESTROOT01")))
    region, service = draw(REGIONS), draw(SERVICES)
    term = draw(fuzzed(st.just("aws4_request")))
    return f"{key}/{date}/{region}/{service}/{term}"


DATE_PARTS = st.builds(
    lambda day, month, year, clock, zone: f"Mon, {day} {month} {year} {clock} {zone}",
    st.one_of(st.integers(1, 28), st.integers(0, 99)),
    st.sampled_from(["Jan", "Feb", "Dec", "Foo"]),
    st.one_of(st.integers(1970, 2100), st.integers(0, 10**6), st.integers(-(10**25), 10**25)),
    st.sampled_from(["00:00:00", "23:59:60", "99:99:99", "12:00"]),
    st.one_of(
        st.sampled_from(["GMT", "UTC", "-0000", "+0000", "EST", "+99999999999999999999"]),
        st.integers(-(10**25), 10**25).map(lambda offset: f"{offset:+05d}"),
    ),
)
HTTP_DATES = st.one_of(
    DATE_PARTS,
    DATE_PARTS,
    st.just(time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(NOW))),
    WIRE,
)


@st.composite
def header_signed(draw: st.DrawFn) -> sigv4.HTTPRequest:
    amz_date = draw(AMZ_DATES)
    authorization = draw(
        fuzzed(
            st.builds(
                lambda algorithm, credential, signed, signature: (
                    f"{algorithm} Credential={credential}, SignedHeaders={signed}, "
                    f"Signature={signature}"
                ),
                fuzzed(st.just(sigv4.ALGORITHM)),
                credentials(amz_date),
                SIGNED_HEADERS,
                fuzzed(HEX64),
            ),
            f"{sigv4.ALGORITHM} Credential=, SignedHeaders=host",
        )
    )
    headers = [("host", "127.0.0.1:4566"), ("authorization", authorization)]
    # Date alone is read only when X-Amz-Date is absent, so that case comes up most.
    dated = draw(st.sampled_from(["date", "date", "x-amz-date", "both", "neither"]))
    if dated in ("x-amz-date", "both"):
        headers.append(("x-amz-date", amz_date))
    if dated in ("date", "both"):
        headers.append(("date", draw(HTTP_DATES)))
    return draw(requests(headers=headers, query=st.one_of(st.just(""), WIRE)))


@st.composite
def query_signed(draw: st.DrawFn) -> sigv4.HTTPRequest:
    amz_date = draw(AMZ_DATES)
    pairs = {
        "Action": "ListTopics",
        "X-Amz-Algorithm": draw(fuzzed(st.just(sigv4.ALGORITHM))),
        "X-Amz-Credential": draw(credentials(amz_date)),
        "X-Amz-Date": amz_date,
        "X-Amz-Expires": draw(
            fuzzed(st.integers(1, 604800).map(str), "0", "-1", "604801", "9" * 5000, "1\n")
        ),
        "X-Amz-SignedHeaders": draw(SIGNED_HEADERS),
        "X-Amz-Signature": draw(fuzzed(HEX64)),
    }
    dropped = draw(st.sets(st.sampled_from(sorted(pairs)))) if draw(st.booleans()) else set()
    encode = draw(st.booleans())
    query = "&".join(
        f"{quote(k, safe='') if encode else k}={quote(v, safe='') if encode else v}"
        for k, v in pairs.items()
        if k not in dropped
    )
    headers = [("host", "127.0.0.1:4566")]
    return draw(requests(headers=headers, query=st.just(query)))


@st.composite
def requests(
    draw: st.DrawFn, headers: list[tuple[str, str]], query: st.SearchStrategy[str]
) -> sigv4.HTTPRequest:
    if draw(st.booleans()):
        headers = [
            *headers,
            (
                "x-amz-content-sha256",
                draw(fuzzed(st.sampled_from([sigv4.UNSIGNED_PAYLOAD, sigv4.EMPTY_SHA256]))),
            ),
        ]
    body = draw(st.binary(max_size=20))
    return sigv4.HTTPRequest(
        method=draw(st.sampled_from(["GET", "POST", "get", "PUT"])),
        path=draw(st.one_of(st.just("/"), WIRE)),
        query=draw(query),
        headers=headers,
        body_sha256=hashlib.sha256(body).hexdigest(),
    )


def dated(date: str) -> sigv4.HTTPRequest:
    """A header-signed request whose only time is its Date header."""
    return sigv4.HTTPRequest(
        method="POST",
        path="/",
        query="",
        headers=[
            (
                "authorization",
                "AWS4-HMAC-SHA256 Credential=AKIAX/20240501/us-east-1/sns/aws4_request, "
                f"SignedHeaders=host, Signature={'0' * 64}",
            ),
            ("date", date),
        ],
        body_sha256=sigv4.EMPTY_SHA256,
    )


BAD_DATES = {
    "zone offset of 20 digits": "Mon, 01 Jan 2024 00:00:00 +99999999999999999999",
    "year past 9999": "Mon, 01 Jan 99999 00:00:00 GMT",
    "no such day": "Mon, 41 Jan 2024 00:00:00 GMT",
    "not a date": "yesterday",
}


@pytest.mark.parametrize("date", BAD_DATES.values(), ids=BAD_DATES.keys())
def test_a_date_header_that_is_no_time_is_an_incomplete_signature(date: str) -> None:
    with pytest.raises(IncompleteSignature) as caught:
        sigv4.parse(dated(date))
    assert caught.value.message == f"Date must be in ISO-8601 'basic format'. Got '{date}'."


@FUZZ
@given(date=HTTP_DATES)
def test_any_date_header_is_read_or_an_incomplete_signature(date: str) -> None:
    try:
        claims = sigv4.parse(dated(date))
    except HeraldError:
        return
    assert len(claims.amz_date) == 16


@pytest.fixture
def new_york(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The process's local time zone is five hours behind UTC (in winter)."""
    monkeypatch.setenv("TZ", "EST+05EDT,M3.2.0,M11.1.0")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.usefixtures("new_york")
def test_a_date_in_minus_0000_is_utc_whatever_the_local_zone() -> None:
    claims = sigv4.parse(dated("Wed, 01 May 2024 10:00:00 -0000"))
    assert claims.amz_date == "20240501T100000Z"


@FUZZ
@given(
    request=st.one_of(header_signed(), query_signed()),
    secret=st.text(alphabet=st.characters(codec="utf-8"), max_size=40),
)
def test_any_signature_is_parsed_and_verified_or_a_herald_error(
    request: sigv4.HTTPRequest, secret: str
) -> None:
    try:
        claims = sigv4.parse(request)
    except HeraldError:
        return
    try:
        sigv4.verify(request, claims, secret, time.time())
    except HeraldError:
        return
