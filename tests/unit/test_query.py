"""The AWS Query request codec (herald.protocols.query).

Tables of flattened forms and the shapes read back from them, the same shapes as botocore's
own query serializer writes them, and fuzzing: whatever bytes arrive, the codec answers
with values or a HeraldError, never with any other exception (which would be a 500).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import botocore.session
import pytest
from botocore.serialize import create_serializer
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from herald.errors import HeraldError, InvalidParameter, MalformedRequest
from herald.protocols.query import MAX_FIELDS, QueryParams, parse_form

FUZZ = settings(
    max_examples=300,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)

TOPIC = "arn:aws:sns:us-east-1:000000000000:orders"


def form(pairs: list[tuple[str, str]]) -> bytes:
    return urlencode(pairs).encode("utf-8")


def params(*pairs: tuple[str, str]) -> QueryParams:
    return parse_form(form(list(pairs)))


def flat(view: QueryParams) -> dict[str, str | None]:
    return {name: view.get(name) for name in view.names()}


# -- flattened lists -------------------------------------------------------------------

SCALAR_LISTS = {
    "in order": (
        [("AWSAccountId.member.1", "111"), ("AWSAccountId.member.2", "222")],
        ["111", "222"],
    ),
    "ordered by index, not by arrival": (
        [
            ("AWSAccountId.member.10", "j"),
            ("AWSAccountId.member.2", "b"),
            ("AWSAccountId.member.1", "a"),
        ],
        ["a", "b", "j"],
    ),
    "a gap in the indices is closed": (
        [("AWSAccountId.member.3", "c"), ("AWSAccountId.member.1", "a")],
        ["a", "c"],
    ),
    "absent list": ([("Action", "AddPermission")], []),
    "other lists are not read": (
        [("ActionName.member.1", "Publish"), ("AWSAccountId.member.1", "111")],
        ["111"],
    ),
    "a longer name sharing the prefix is not a member": (
        [("AWSAccountId.memberX.1", "no"), ("AWSAccountId.member.1", "yes")],
        ["yes"],
    ),
    "blank value kept": ([("AWSAccountId.member.1", "")], [""]),
}


@pytest.mark.parametrize(("pairs", "expected"), SCALAR_LISTS.values(), ids=SCALAR_LISTS.keys())
def test_a_flattened_list_of_strings_reads_back_in_index_order(
    pairs: list[tuple[str, str]], expected: list[str]
) -> None:
    # Given a form with AWSAccountId.member.N fields
    query = params(*pairs)
    # When the list is read, Then its values come back ordered by N
    assert query.scalars("AWSAccountId.member") == expected


STRUCTURE_LISTS = {
    "two tags": (
        [
            ("Tags.member.1.Key", "team"),
            ("Tags.member.1.Value", "core"),
            ("Tags.member.2.Key", "env"),
            ("Tags.member.2.Value", "prod"),
        ],
        [{"Key": "team", "Value": "core"}, {"Key": "env", "Value": "prod"}],
    ),
    "members ordered by index, fields kept together": (
        [
            ("Tags.member.11.Value", "eleven"),
            ("Tags.member.2.Key", "k2"),
            ("Tags.member.11.Key", "k11"),
            ("Tags.member.2.Value", "two"),
        ],
        [{"Key": "k2", "Value": "two"}, {"Key": "k11", "Value": "eleven"}],
    ),
    "a member with one field": ([("Tags.member.1.Key", "only")], [{"Key": "only"}]),
    "no members": ([("Name", "orders")], []),
}


@pytest.mark.parametrize(
    ("pairs", "expected"), STRUCTURE_LISTS.values(), ids=STRUCTURE_LISTS.keys()
)
def test_a_flattened_list_of_structures_reads_back_member_by_member(
    pairs: list[tuple[str, str]], expected: list[dict[str, str]]
) -> None:
    # Given a form with Tags.member.N.Field fields
    query = params(*pairs)
    # When the members are read
    members = query.members("Tags.member")
    # Then each member holds its own fields, ordered by N
    assert [flat(m) for m in members] == expected


# -- maps ------------------------------------------------------------------------------

MAPS = {
    "one entry": (
        [("Attributes.entry.1.key", "DisplayName"), ("Attributes.entry.1.value", "Orders")],
        {"DisplayName": "Orders"},
    ),
    "entries in index order": (
        [
            ("Attributes.entry.2.key", "Policy"),
            ("Attributes.entry.2.value", "{}"),
            ("Attributes.entry.1.key", "DisplayName"),
            ("Attributes.entry.1.value", "Orders"),
        ],
        {"DisplayName": "Orders", "Policy": "{}"},
    ),
    "an entry without a value is empty": (
        [("Attributes.entry.1.key", "DisplayName")],
        {"DisplayName": ""},
    ),
    "no entries": ([("Name", "orders")], {}),
}


@pytest.mark.parametrize(("pairs", "expected"), MAPS.values(), ids=MAPS.keys())
def test_a_flattened_map_reads_back_as_a_dict(
    pairs: list[tuple[str, str]], expected: dict[str, str]
) -> None:
    # Given a form with Attributes.entry.N.key / .value fields
    query = params(*pairs)
    # When the map is read
    mapping = query.string_map("Attributes")
    # Then it holds every entry, in index order
    assert mapping == expected
    assert list(mapping) == list(expected)


def test_a_map_entry_without_a_key_is_an_invalid_parameter() -> None:
    # Given a map entry that has a value but no key
    query = params(("Attributes.entry.1.value", "Orders"))
    # When the map is read, Then the caller is told
    with pytest.raises(InvalidParameter, match="map entry without a key"):
        query.string_map("Attributes")


# -- nested shapes, checked against botocore's own serializer --------------------------

SNS_MODEL = botocore.session.get_session().get_service_model("sns")


def botocore_form(operation: str, call: dict[str, Any]) -> QueryParams:
    """The form botocore sends for ``operation``, parsed as Herald parses it."""
    serializer = create_serializer("query")
    request = serializer.serialize_to_request(call, SNS_MODEL.operation_model(operation))
    return parse_form(form(list(request["body"].items())))


def test_publish_batch_entries_with_message_attributes_read_back_nested() -> None:
    # Given a PublishBatch of two entries with message attributes, as botocore sends it
    query = botocore_form(
        "PublishBatch",
        {
            "TopicArn": TOPIC,
            "PublishBatchRequestEntries": [
                {
                    "Id": "first",
                    "Message": "one",
                    "MessageAttributes": {
                        "colour": {"DataType": "String", "StringValue": "red"},
                        "size": {"DataType": "Number", "StringValue": "3"},
                    },
                },
                {
                    "Id": "second",
                    "Message": "two",
                    "MessageAttributes": {"blob": {"DataType": "Binary", "BinaryValue": b"\0"}},
                },
            ],
        },
    )
    # When the entries and their attributes are read
    entries = query.members("PublishBatchRequestEntries.member")
    attributes = [
        [
            (a.get("Name"), a.get("Value.DataType"), a.get("Value.StringValue"))
            for a in entry.members("MessageAttributes.entry")
        ]
        for entry in entries
    ]
    # Then every level keeps its order and its own fields
    assert [(e.get("Id"), e.get("Message")) for e in entries] == [
        ("first", "one"),
        ("second", "two"),
    ]
    assert attributes == [
        [("colour", "String", "red"), ("size", "Number", "3")],
        [("blob", "Binary", None)],
    ]
    assert entries[1].members("MessageAttributes.entry")[0].get("Value.BinaryValue") == "AA=="


def test_create_topic_attributes_and_tags_read_back_as_botocore_sent_them() -> None:
    # Given a CreateTopic with a map and a list, as botocore sends it
    query = botocore_form(
        "CreateTopic",
        {
            "Name": "orders",
            "Attributes": {"DisplayName": "Orders & co", "FifoTopic": "false"},
            "Tags": [{"Key": "team", "Value": "a b+c"}, {"Key": "env", "Value": "ሴ"}],
        },
    )
    # When read, Then each value is what the caller gave
    assert query.get("Action") == "CreateTopic"
    assert query.string_map("Attributes") == {"DisplayName": "Orders & co", "FifoTopic": "false"}
    assert [flat(t) for t in query.members("Tags.member")] == [
        {"Key": "team", "Value": "a b+c"},
        {"Key": "env", "Value": "ሴ"},
    ]


# -- bad indices -----------------------------------------------------------------------

BAD_INDICES = {
    "zero": "0",
    "negative": "-1",
    "word": "first",
    "empty": "",
    "digits then letters": "1a",
    "leading space": " 1",
    "plus sign": "+1",
    "superscript two": "\u00b2",
    "arabic-indic one": "\u0661",
    "fullwidth one": "\uff11",
    "5000 digits": "9" * 5000,
}


@pytest.mark.parametrize("index", BAD_INDICES.values(), ids=BAD_INDICES.keys())
def test_a_bad_index_in_a_list_of_structures_is_an_invalid_parameter(index: str) -> None:
    # Given a structure member whose index is not a positive ASCII number
    query = QueryParams([(f"Tags.member.{index}.Key", "team")])
    # When the list is read, Then the caller is told (and it is not a server error)
    with pytest.raises(InvalidParameter, match="bad list index"):
        query.members("Tags.member")


@pytest.mark.parametrize("index", BAD_INDICES.values(), ids=BAD_INDICES.keys())
def test_a_bad_index_in_a_list_of_strings_is_an_invalid_parameter(index: str) -> None:
    # Given a string member whose index is not a positive ASCII number
    query = QueryParams([(f"TagKeys.member.{index}", "team")])
    # When the list is read, Then the caller is told (and it is not a server error)
    with pytest.raises(InvalidParameter, match="bad list index"):
        query.scalars("TagKeys.member")


# -- duplicates, decoding, limits ------------------------------------------------------

DUPLICATES = {
    "twice in the body": (b"Action=Publish&Action=DeleteTopic", "", "Publish"),
    "in the query string and the body": (b"Action=DeleteTopic", "Action=Publish", "Publish"),
    "twice in the query string": (b"", "Action=Publish&Action=DeleteTopic", "Publish"),
}


@pytest.mark.parametrize(("body", "query", "expected"), DUPLICATES.values(), ids=DUPLICATES.keys())
def test_the_first_of_duplicate_names_wins(body: bytes, query: str, expected: str) -> None:
    # Given a form naming the same field twice (the query string is read first)
    parsed = parse_form(body, query)
    # When the field is read, Then the first occurrence is the value
    assert parsed.get("Action") == expected
    assert parsed.names() == ["Action"]


DECODING = {
    "plus is a space": (b"Message=a+b", "a b"),
    "percent-encoded plus": (b"Message=a%2Bb", "a+b"),
    "percent-encoded UTF-8": (b"Message=%E1%88%B4", "ሴ"),
    "raw UTF-8": ("Message=ሴ".encode(), "ሴ"),
    "blank value kept": (b"Message=", ""),
    "name without =": (b"Message", ""),
    "bad percent escape kept as is": (b"Message=%ZZ", "%ZZ"),
    "= inside the value": (b"Message=a=b", "a=b"),
    "semicolon is not a separator": (b"Message=a;b=c", "a;b=c"),
}


@pytest.mark.parametrize(("body", "expected"), DECODING.values(), ids=DECODING.keys())
def test_form_values_decode_as_aws_query_encodes_them(body: bytes, expected: str) -> None:
    assert parse_form(body).get("Message") == expected


NOT_UTF8 = {
    "raw 0xff byte": (b"Message=\xff", ""),
    "raw latin-1 byte": (b"Message=caf\xe9", ""),
    "percent-encoded 0xff": (b"Message=%FF", ""),
    "truncated sequence": (b"Message=%C3", ""),
    "overlong encoding": (b"Message=%C0%AF", ""),
    "encoded surrogate": (b"Message=%ED%A0%80", ""),
    "in the name": (b"%FF=x", ""),
    "in the query string": (b"", "Message=%FF"),
}


@pytest.mark.parametrize(("body", "query"), NOT_UTF8.values(), ids=NOT_UTF8.keys())
def test_a_form_that_is_not_utf8_is_malformed(body: bytes, query: str) -> None:
    with pytest.raises(MalformedRequest, match="not valid UTF-8"):
        parse_form(body, query)


def fields(count: int, name: str = "f") -> str:
    return "&".join(f"{name}{i}=v" for i in range(count))


def test_a_form_of_exactly_the_field_limit_is_read() -> None:
    # Given a body of MAX_FIELDS distinct fields
    body = fields(MAX_FIELDS).encode()
    # When parsed, Then every field is there
    assert len(parse_form(body)) == MAX_FIELDS


TOO_MANY = {
    "body": (fields(MAX_FIELDS + 1).encode(), ""),
    "query string": (b"", fields(MAX_FIELDS + 1)),
    "body of empty fields": (b"&" * (MAX_FIELDS + 1), ""),
    "one name repeated": (b"&".join([b"f=v"] * (MAX_FIELDS + 1)), ""),
}


@pytest.mark.parametrize(("body", "query"), TOO_MANY.values(), ids=TOO_MANY.keys())
def test_a_form_over_the_field_limit_is_malformed(body: bytes, query: str) -> None:
    with pytest.raises(MalformedRequest, match=f"more than {MAX_FIELDS} fields"):
        parse_form(body, query)


# -- typed reads -----------------------------------------------------------------------

BOOLEANS = {"true": True, "TRUE": True, "false": False, "False": False}


@pytest.mark.parametrize(("raw", "expected"), BOOLEANS.items(), ids=BOOLEANS.keys())
def test_a_boolean_parameter_reads_true_or_false(raw: str, expected: bool) -> None:
    assert params(("ReturnSubscriptionArn", raw)).boolean("ReturnSubscriptionArn") is expected


@pytest.mark.parametrize("raw", ["yes", "1", "", "truee"])
def test_a_boolean_parameter_that_is_neither_is_an_invalid_parameter(raw: str) -> None:
    with pytest.raises(InvalidParameter, match="ReturnSubscriptionArn"):
        params(("ReturnSubscriptionArn", raw)).boolean("ReturnSubscriptionArn")


def test_an_absent_boolean_parameter_takes_its_default() -> None:
    assert params().boolean("ReturnSubscriptionArn", default=True) is True


def test_a_missing_required_parameter_is_named() -> None:
    with pytest.raises(InvalidParameter, match="Invalid parameter: Name Reason: no value"):
        params(("Action", "CreateTopic")).required("Name")


# -- fuzzing: HeraldError or values, nothing else --------------------------------------


def read_everything(query: QueryParams, depth: int = 3) -> None:
    """Every read an action handler might make, on every prefix of every name."""
    for name in query.names():
        query.get(name)
        parts = name.split(".")
        for end in range(1, len(parts) + 1):
            prefix = ".".join(parts[:end])
            for read in (query.scalars, query.string_map, query.boolean, query.required):
                try:
                    read(prefix)
                except HeraldError:
                    pass
            try:
                members = query.members(prefix)
            except HeraldError:
                continue
            if depth:
                for member in members:
                    read_everything(member, depth - 1)


def parse_and_read(body: bytes, query: str = "") -> None:
    try:
        parsed = parse_form(body, query)
    except HeraldError:
        return
    read_everything(parsed)


WORDS = st.sampled_from(
    [
        "Tags",
        "member",
        "entry",
        "Attributes",
        "key",
        "value",
        "Key",
        "Value",
        "PublishBatchRequestEntries",
        "MessageAttributes",
        "DataType",
        "Name",
    ]
)
INDICES = st.one_of(
    st.integers(-2, 12).map(str),
    st.text(st.characters(categories=("Nd", "No")), min_size=1, max_size=3),
)
SEGMENTS = st.one_of(WORDS, INDICES, st.text(max_size=4))
NAMES = st.lists(SEGMENTS, min_size=1, max_size=6).map(".".join)
FORMS = st.lists(st.tuples(NAMES, st.text(max_size=8)), max_size=12)


@FUZZ
@given(body=st.binary(max_size=512), query=st.text(max_size=128))
@example(body=b"Tags.member.\xc2\xb2.Key=k", query="")
@example(body=b"Message=%FF", query="Action=Publish&%C3=")
def test_arbitrary_bytes_never_raise_anything_but_herald_errors(body: bytes, query: str) -> None:
    parse_and_read(body, query)


@FUZZ
@given(pairs=FORMS)
@example(pairs=[("Tags.member.\u00b2.Key", "k")])
@example(pairs=[("PublishBatchRequestEntries.member.1.MessageAttributes.entry.\u2463.Name", "")])
def test_arbitrary_text_forms_never_raise_anything_but_herald_errors(
    pairs: list[tuple[str, str]],
) -> None:
    parse_and_read(form(pairs))
