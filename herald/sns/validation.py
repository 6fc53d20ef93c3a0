"""SNS's input rules, as pure functions that return normalised values or raise.

Rules and messages follow the SNS API reference and the responses AWS gives (as recorded
in LocalStack's snapshot tests). Each function names the field it rejects.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from herald.errors import (
    InvalidBatchEntryId,
    InvalidParameter,
    InvalidParameterValue,
    TagLimitExceeded,
    ValidationFailed,
)

MAX_MESSAGE_BYTES = 262_144
MAX_MESSAGE_SIZE_LIMIT = 1_048_576
MAX_MESSAGE_ATTRIBUTES = 10
MAX_SUBJECT_CHARS = 99
MAX_TAGS = 50
MAX_BATCH_ENTRIES = 10

_TOPIC_NAME = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
_FIFO_TOPIC_NAME = re.compile(r"^[A-Za-z0-9_-]{1,251}\.fifo$")
_DATA_TYPE = re.compile(r"^(String|Number|Binary)(\..+)?$", re.DOTALL)
_BATCH_ID = re.compile(r"^[A-Za-z0-9_-]{1,80}$")
_GROUP_ID = re.compile(r"^[A-Za-z0-9!\"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~]{1,128}$")
_TAG_CHARS = re.compile(r"^[\w\s.:/=+\-@]*$", re.UNICODE)
# Control characters and every line break (also U+0085, U+2028, U+2029).
_CONTROL = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]")
_LABEL = re.compile(r"^[A-Za-z0-9_-]{1,255}$")
_SMALL_INT = re.compile(r"[0-9]+")
_NUMBER_MAX = Decimal("1e126")
_NUMBER_MIN = Decimal("-1e128")
_PHONE = re.compile(r"^\+[1-9][0-9]{4,14}$")
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def topic_name(name: str, fifo: bool) -> str:
    """Check a topic name against SNS's rules for standard and FIFO topics."""
    if fifo:
        if not _FIFO_TOPIC_NAME.fullmatch(name):
            raise InvalidParameter(
                "Invalid parameter: Fifo Topic names must end with .fifo and must be made up "
                "of only uppercase and lowercase ASCII letters, numbers, underscores, and "
                "hyphens, and must be between 1 and 256 characters long."
            )
        return name
    if not _TOPIC_NAME.fullmatch(name):
        raise InvalidParameter("Invalid parameter: Topic Name")
    return name


def boolean_attribute(name: str, value: str) -> str:
    """SNS accepts true/false in any case and stores them in lower case."""
    if value.lower() not in ("true", "false"):
        raise InvalidParameter(
            f"Invalid parameter: Attributes Reason: {name}: Invalid value [{value}]"
        )
    return value.lower()


def required(field: str, value: str | None) -> str:
    """``value``, which the caller had to give."""
    if not value:
        raise InvalidParameter(
            f"Invalid parameter: {field} Reason: no value for required parameter"
        )
    return value


def small_int(value: str, max_digits: int = 9) -> int | None:
    """``value`` as an int if it is a plain ASCII decimal of at most ``max_digits`` digits.

    ``str.isdigit`` accepts other scripts' digits (and ``int`` then refuses some), and
    ``int`` refuses strings of more than 4300 digits: neither may reach a caller as a 500.
    """
    if not _SMALL_INT.fullmatch(value) or len(value) > max_digits:
        return None
    return int(value)


def is_phone_number(value: str) -> bool:
    """E.164: a plus sign, then up to 15 digits."""
    return _PHONE.fullmatch(value) is not None


# -- publish ---------------------------------------------------------------------------


def subject(value: str | None) -> str | None:
    """Subjects: UTF-8 without line breaks or control characters, under 100 characters."""
    if value is None:
        return None
    if not value.strip() or len(value) > MAX_SUBJECT_CHARS or _CONTROL.search(value):
        raise InvalidParameter("Invalid parameter: Subject")
    return value


def message_body(message: str, structure: str | None) -> str:
    if not message:
        raise InvalidParameter("Invalid parameter: Empty message")
    if structure is None:
        return message
    if structure != "json":
        raise InvalidParameter("Invalid parameter: MessageStructure")
    try:
        parsed = json.loads(message)
    except (ValueError, RecursionError) as exc:
        raise InvalidParameter(
            "Invalid parameter: Message Structure - JSON message body failed to parse"
        ) from exc
    if not isinstance(parsed, dict) or not isinstance(parsed.get("default"), str):
        raise InvalidParameter(
            "Invalid parameter: Message Structure - No default entry in JSON message body"
        )
    return message


@dataclass(frozen=True)
class MessageAttribute:
    data_type: str
    string_value: str | None
    binary_value: bytes | None

    def size(self, name: str) -> int:
        value = (
            self.binary_value
            if self.binary_value is not None
            else ((self.string_value or "").encode())
        )
        return len(name.encode()) + len(self.data_type.encode()) + len(value)

    def to_json(self) -> dict[str, str]:
        if self.binary_value is not None:
            return {
                "Type": self.data_type,
                "Value": base64.b64encode(self.binary_value).decode("ascii"),
            }
        return {"Type": self.data_type, "Value": self.string_value or ""}


def message_attribute(
    name: str,
    data_type: str | None,
    string_value: str | None,
    binary_value: str | None,
    location: str = "messageAttributes",
) -> MessageAttribute:
    """Validate one message attribute as published (BinaryValue still base64).

    Checks run in the order AWS reports them: name, type, which value field, emptiness.
    """
    _attribute_name(name)
    if data_type is None:
        raise ValidationFailed(
            f"1 validation error detected: Value null at '{location}.{name}.member."
            "dataType' failed to satisfy constraint: Member must not be null"
        )
    if not _DATA_TYPE.fullmatch(data_type) or len(data_type) > 256:
        raise InvalidParameterValue(
            f"The message attribute '{name}' has an invalid message attribute type, the set "
            "of supported type prefixes is Binary, Number, and String."
        )
    base = data_type.partition(".")[0]
    if base == "Binary":
        if binary_value is None:
            if string_value is not None:
                raise InvalidParameterValue(
                    f"The message attribute '{name}' with type 'Binary' must use field 'Binary'."
                )
            raise _empty_value(name, data_type)
        try:
            raw = base64.b64decode(binary_value, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise InvalidParameterValue(
                f"The message attribute '{name}' has an invalid binary value."
            ) from exc
        if not raw:
            raise _empty_value(name, data_type)
        return MessageAttribute(data_type, None, raw)
    if string_value is None and binary_value is not None:
        raise InvalidParameterValue(
            f"The message attribute '{name}' with type '{base}' must use field 'String'."
        )
    if not string_value:
        raise _empty_value(name, data_type)
    if base == "Number":
        _number(name, string_value)
    if data_type == "String.Array":
        _string_array(name, string_value)
    return MessageAttribute(data_type, string_value, None)


def _empty_value(name: str, data_type: str) -> InvalidParameterValue:
    return InvalidParameterValue(
        f"The message attribute '{name}' must contain non-empty message attribute value "
        f"for message attribute type '{data_type}'."
    )


def message_attributes(
    raw: list[tuple[str | None, str | None, str | None, str | None]],
    location: str = "messageAttributes",
) -> dict[str, MessageAttribute]:
    """Validate the published attributes: (name, DataType, StringValue, BinaryValue).

    ``location`` is where the attributes sit in the request, as AWS names it in
    validation errors.
    """
    result: dict[str, MessageAttribute] = {}
    for name, data_type, string_value, binary_value in raw:
        if name is None:
            raise InvalidParameterValue("The message attribute name must not be empty.")
        if name in result:
            raise InvalidParameterValue(f"Message attribute name '{name}' is duplicated.")
        result[name] = message_attribute(name, data_type, string_value, binary_value, location)
    if len(result) > MAX_MESSAGE_ATTRIBUTES:
        raise InvalidParameterValue(
            f"Number of message attributes [{len(result)}] exceeds the allowed maximum "
            f"[{MAX_MESSAGE_ATTRIBUTES}]."
        )
    return result


def _attribute_name(name: str) -> None:
    if len(name.encode()) > 256:
        raise InvalidParameterValue("Length of message attribute name must be less than 256 bytes.")
    if not name:
        raise InvalidParameterValue("The message attribute name must not be empty.")
    for char in name:
        if not (char.isascii() and (char.isalnum() or char in "-_.")):
            raise InvalidParameterValue(
                f"Invalid non-alphanumeric character '#x{ord(char):X}' was found in the message "
                "attribute name. Can only include alphanumeric characters, hyphens, "
                "underscores, or dots."
            )
    if name.startswith("."):
        raise InvalidParameterValue(
            "Invalid message attribute name starting with character '.' was found."
        )
    if name.endswith("."):
        raise InvalidParameterValue(
            "Invalid message attribute name ending with character '.' was found."
        )
    if ".." in name:
        raise InvalidParameterValue("Message attribute name can not have successive '.' character.")
    lowered = name.lower()
    if lowered.startswith(("aws.", "amazon.")):
        raise InvalidParameterValue(
            f"The message attribute name '{name}' uses a reserved prefix (AWS. or Amazon.)."
        )


def _number(name: str, value: str) -> None:
    if len(value) > 1000 or not _NUMBER.fullmatch(value.strip()):
        raise InvalidParameterValue(f"Could not cast message attribute '{name}' value to number.")
    try:
        number = Decimal(value)
    except InvalidOperation as exc:
        raise InvalidParameterValue(
            f"Could not cast message attribute '{name}' value to number."
        ) from exc
    # Counted on the digit tuple, not with normalize(), which overflows past 10**999999.
    digits = "".join(map(str, number.as_tuple().digits)).strip("0")
    if len(digits) > 38 or number > _NUMBER_MAX or number < _NUMBER_MIN:
        raise InvalidParameterValue(
            f"Value {value} for parameter MessageAttributes is invalid. Reason: Number values "
            "can have up to 38 digits of precision and be between -10^128 and 10^126."
        )


def _string_array(name: str, value: str) -> None:
    try:
        parsed = json.loads(value)
    except (ValueError, RecursionError):
        parsed = None
    if not isinstance(parsed, list) or any(isinstance(item, (list, dict)) for item in parsed):
        raise InvalidParameterValue(
            f"Invalid value for message attribute '{name}' of type String.Array: the value "
            "must be a JSON array of strings, numbers, true, false or null."
        )


def message_size(body: bytes, attributes: Mapping[str, MessageAttribute], limit: int) -> int:
    """Bytes of the UTF-8 body and the attributes, as SNS counts them; over ``limit``
    raises InvalidParameter."""
    size = len(body) + sum(a.size(n) for n, a in attributes.items())
    if size > limit:
        raise InvalidParameter("Invalid parameter: Message too long")
    return size


def fifo_id(field: str, value: str) -> str:
    if not _GROUP_ID.fullmatch(value):
        raise InvalidParameter(
            f"Invalid parameter: {field} Reason: {field} can only contain alphanumeric "
            "characters and punctuation, and can be at most 128 characters long."
        )
    return value


def batch_entry_id(value: str) -> str:
    if len(value) > 80:
        raise InvalidBatchEntryId(
            f"The Id of a batch entry in the batch request is too long: {value}"
        )
    if not _BATCH_ID.fullmatch(value):
        raise InvalidBatchEntryId(
            "The Id of a batch entry in the batch request contains an impermissible "
            f"character: {value}"
        )
    return value


# -- tags and permissions --------------------------------------------------------------


def tags(pairs: list[tuple[str | None, str | None]]) -> dict[str, str]:
    result: dict[str, str] = {}
    for key, value in pairs:
        if key is not None and len(key) > 128:
            raise ValidationFailed(
                f"1 validation error detected: Value '{key}' at "
                f"'tags.{len(result) + 1}.member.key' "
                "failed to satisfy constraint: Member must have length less than or equal to 128"
            )
        if key is None or not key or not _TAG_CHARS.fullmatch(key):
            raise InvalidParameter(
                "Invalid parameter: Tags Reason: Tag keys must be between 1 and 128 "
                "characters and contain only Unicode letters, digits, white space, and "
                "_ . : / = + - @"
            )
        if key.lower().startswith("aws:"):
            raise InvalidParameter(
                "Invalid parameter: Tags Reason: Tag keys cannot start with the reserved "
                "prefix aws:"
            )
        if value is None or len(value) > 256 or not _TAG_CHARS.fullmatch(value):
            raise InvalidParameter(
                "Invalid parameter: Tags Reason: Tag values must be at most 256 characters "
                "and contain only Unicode letters, digits, white space, and _ . : / = + - @"
            )
        if key in result:
            raise InvalidParameter("Invalid parameter: Duplicated keys are not allowed.")
        result[key] = value
    if len(result) > MAX_TAGS:
        raise TagLimitExceeded("Could not complete request: tag quota of per resource exceeded")
    return result


def tag_keys(keys: list[str]) -> list[str]:
    for key in keys:
        if not 1 <= len(key) <= 128:
            raise InvalidParameter(
                "Invalid parameter: TagKeys Reason: Tag keys must be between 1 and 128 characters"
            )
    return keys


def permission_label(label: str) -> str:
    if not _LABEL.fullmatch(label):
        raise InvalidParameter(
            "Invalid parameter: Label Reason: Label can contain alphanumeric characters, "
            "hyphens and underscores, and can be up to 255 characters long."
        )
    return label
