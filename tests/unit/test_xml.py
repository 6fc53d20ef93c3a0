"""XML rendering of Query responses (herald.protocols.xml).

Escaping tables, then the documents themselves read back with ElementTree, the way
botocore reads them: whatever a value holds, the response parses and returns that value
(characters XML 1.0 cannot carry come back as U+FFFD).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from herald.protocols import xml

NS = "http://sns.amazonaws.com/doc/2010-03-31/"
Q = f"{{{NS}}}"
REQUEST_ID = "4a1c8f4e-0000-4000-8000-000000000000"
PROPERTY = settings(max_examples=300, deadline=None, database=None)

# XML 1.0 section 2.2: Char ::= #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] |
# [#x10000-#x10FFFF]. Everything else cannot appear in a document, escaped or not.
NOT_XML_CHAR = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def rendered(value: str) -> str | None:
    """``value`` sent as an element of a response, read back with ElementTree."""
    document = xml.response("Publish", NS, [xml.el("Message", value)], REQUEST_ID)
    found = ET.fromstring(document).find(f"{Q}PublishResult/{Q}Message")
    assert found is not None
    return found.text


# -- escaping --------------------------------------------------------------------------

ESCAPES = {
    "ampersand": ("a & b", "a &amp; b"),
    "less than": ("<tag>", "&lt;tag&gt;"),
    "greater than": ("a > b", "a &gt; b"),
    "double quote": ('say "hi"', "say &quot;hi&quot;"),
    "single quote is safe in content": ("it's", "it's"),
    "carriage return survives parsing": ("a\r\nb", "a&#13;\nb"),
    "tab and newline kept": ("a\tb\nc", "a\tb\nc"),
    "an entity is escaped, not trusted": ("&amp;", "&amp;amp;"),
    "CDATA end": ("]]>", "]]&gt;"),
    "non-ASCII kept": ("ሴ €😀", "ሴ €😀"),
    "empty": ("", ""),
}


@pytest.mark.parametrize(("value", "expected"), ESCAPES.values(), ids=ESCAPES.keys())
def test_text_is_escaped_for_xml(value: str, expected: str) -> None:
    assert xml.text(value) == expected


INVALID = {
    "NUL": "\x00",
    "backspace": "\x08",
    "vertical tab": "\x0b",
    "form feed": "\x0c",
    "shift out": "\x0e",
    "unit separator": "\x1f",
    "U+FFFE": "\ufffe",
    "U+FFFF": "\uffff",
    "lone high surrogate": "\ud800",
    "lone low surrogate": "\udfff",
}


@pytest.mark.parametrize("char", INVALID.values(), ids=INVALID.keys())
def test_a_character_xml_cannot_carry_is_replaced(char: str) -> None:
    # Given a value holding a character that no XML 1.0 document may contain
    value = f"a{char}b"
    # When it is rendered, Then it is replaced with U+FFFD
    assert xml.text(value) == "a\ufffdb"
    # And the whole response still encodes and parses
    assert rendered(value) == "a\ufffdb"


ALLOWED = {"DEL": "\x7f", "NEL": "\x85", "line separator": "\u2028", "U+FFFD": "\ufffd"}


@pytest.mark.parametrize("char", ALLOWED.values(), ids=ALLOWED.keys())
def test_unusual_but_legal_characters_are_kept(char: str) -> None:
    assert xml.text(char) == char
    assert rendered(char) == char


# -- elements --------------------------------------------------------------------------


def test_an_absent_value_renders_nothing() -> None:
    assert xml.el("NextToken", None) == ""


def test_an_empty_value_renders_an_empty_element() -> None:
    assert xml.el("DisplayName", "") == "<DisplayName></DisplayName>"


def test_a_map_renders_as_entries_in_order() -> None:
    assert xml.entries("Attributes", {"b": "2", "a": "<1>"}) == (
        "<Attributes><entry><key>b</key><value>2</value></entry>"
        "<entry><key>a</key><value>&lt;1&gt;</value></entry></Attributes>"
    )


# -- whole documents -------------------------------------------------------------------


def test_a_response_document_parses_with_its_result_and_request_id() -> None:
    # Given a ListTopics result with a topic and a next token
    result = [
        xml.node("Topics", [xml.node("member", [xml.el("TopicArn", "arn:aws:sns:a:1:t")])]),
        xml.el("NextToken", "abc=="),
    ]
    # When the document is rendered and parsed
    root = ET.fromstring(xml.response("ListTopics", NS, result, REQUEST_ID))
    # Then it has the Query protocol's shape
    assert root.tag == f"{Q}ListTopicsResponse"
    assert root.findtext(f"{Q}ListTopicsResult/{Q}Topics/{Q}member/{Q}TopicArn") == (
        "arn:aws:sns:a:1:t"
    )
    assert root.findtext(f"{Q}ListTopicsResult/{Q}NextToken") == "abc=="
    assert root.findtext(f"{Q}ResponseMetadata/{Q}RequestId") == REQUEST_ID


def test_a_response_without_a_result_has_only_metadata() -> None:
    root = ET.fromstring(xml.response("DeleteTopic", NS, None, REQUEST_ID))
    assert [child.tag for child in root] == [f"{Q}ResponseMetadata"]


def test_an_error_document_parses_with_type_code_message_and_request_id() -> None:
    # Given an error whose message holds markup and a control character
    message = 'Invalid parameter: Name Reason: "<&>"\x01'
    # When the error document is rendered and parsed
    root = ET.fromstring(xml.error(NS, "Sender", "InvalidParameter", message, REQUEST_ID))
    # Then it has the shape botocore reads, and the message survives (minus the control)
    assert root.tag == f"{Q}ErrorResponse"
    assert root.findtext(f"{Q}Error/{Q}Type") == "Sender"
    assert root.findtext(f"{Q}Error/{Q}Code") == "InvalidParameter"
    assert root.findtext(f"{Q}Error/{Q}Message") == 'Invalid parameter: Name Reason: "<&>"\ufffd'
    assert root.findtext(f"{Q}RequestId") == REQUEST_ID


# -- properties ------------------------------------------------------------------------

XML_TEXT = st.text(
    st.characters(
        exclude_categories=["Cs"],
        exclude_characters="".join(map(chr, [*range(0x09), 0x0B, 0x0C, *range(0x0E, 0x20)]))
        + "\ufffe\uffff",
    )
)


@PROPERTY
@given(value=XML_TEXT)
def test_any_xml_text_round_trips_through_a_response(value: str) -> None:
    assert (rendered(value) or "") == value


@PROPERTY
@given(mapping=st.dictionaries(XML_TEXT, XML_TEXT, max_size=5))
def test_any_map_round_trips_through_a_response(mapping: dict[str, str]) -> None:
    # Given attributes rendered as a Query map
    document = xml.response("GetTopicAttributes", NS, [xml.entries("Attributes", mapping)], "r")
    # When parsed, Then every key and value comes back, in order
    entries = ET.fromstring(document).iterfind(
        f"{Q}GetTopicAttributesResult/{Q}Attributes/{Q}entry"
    )
    back = [(e.findtext(f"{Q}key"), e.findtext(f"{Q}value")) for e in entries]
    assert back == list(mapping.items())


@PROPERTY
@given(message=XML_TEXT, request_id=XML_TEXT)
def test_any_error_message_round_trips_through_an_error_document(
    message: str, request_id: str
) -> None:
    root = ET.fromstring(xml.error(NS, "Sender", "InvalidParameter", message, request_id))
    assert root.findtext(f"{Q}Error/{Q}Message") == message
    assert root.findtext(f"{Q}RequestId") == request_id


ANY_TEXT = st.text(st.one_of(st.characters(), st.characters(categories=["Cs"])))


@PROPERTY
@given(value=ANY_TEXT)
@example(value="lone \ud800 surrogate")
def test_any_text_at_all_renders_a_document_that_parses(value: str) -> None:
    # Given any text, including characters XML cannot carry
    # When rendered and parsed, Then each such character became U+FFFD and the rest is kept
    assert (rendered(value) or "") == NOT_XML_CHAR.sub("\ufffd", value)
