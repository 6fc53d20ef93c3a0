"""The ciphertext format (docs/ciphertext-format.md) against its golden vectors, the AEAD,
the root key, and the key-state table."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from herald.errors import InvalidCiphertext, KeyDisabled, KeyInvalidState
from herald.kms import _aead, ciphertext, rootkey
from herald.kms.keys import KeyState, Use, require_state

VECTORS: list[dict[str, Any]] = json.loads(
    (Path(__file__).parent.parent / "vectors" / "kms_ciphertext_v1.json").read_text()
)["cases"]


@pytest.mark.parametrize("case", VECTORS, ids=[c["name"] for c in VECTORS])
def test_golden_vectors_parse_and_open(case: dict[str, Any]) -> None:
    blob = ciphertext.parse(bytes.fromhex(case["blob_hex"]))
    assert (blob.key_id, blob.key_version) == (case["key_id"], case["key_version"])
    aad = ciphertext.aad(blob.header(), case["encryption_context"])
    assert aad.hex() == case["aad_hex"]
    key = bytes.fromhex(case["backing_key_hex"])
    assert _aead.open_sealed(key, blob.nonce, blob.sealed, aad).hex() == case["plaintext_hex"]
    assert blob.to_bytes().hex() == case["blob_hex"]


def test_the_header_is_laid_out_as_documented() -> None:
    header = ciphertext.header("00000000-0000-4000-8000-000000000001", 258)
    assert header == b"\x01" + bytes.fromhex("00000000000040008000000000000001") + b"\0\0\1\2"


def test_the_context_encoding_is_length_prefixed_and_sorted() -> None:
    assert ciphertext.context_bytes({}) == b"\0\0\0\0"
    assert ciphertext.context_bytes({"b": "2", "a": "1"}) == (
        b"\0\0\0\2" + b"\0\0\0\1a\0\0\0\0011" + b"\0\0\0\1b\0\0\0\0012"
    )
    assert ciphertext.context_bytes({"a": "bc"}) != ciphertext.context_bytes({"ab": "c"})


def test_every_flipped_bit_fails_to_open() -> None:
    case = VECTORS[1]
    data = bytes.fromhex(case["blob_hex"])
    key = bytes.fromhex(case["backing_key_hex"])
    for position in range(len(data)):
        for bit in (0, 7):
            tampered = bytearray(data)
            tampered[position] ^= 1 << bit
            with pytest.raises((InvalidCiphertext, _aead.OpenFailed)):
                blob = ciphertext.parse(bytes(tampered))
                if blob.key_id != case["key_id"] or blob.key_version != case["key_version"]:
                    raise InvalidCiphertext("another key")  # the service would refuse it
                aad = ciphertext.aad(blob.header(), case["encryption_context"])
                _aead.open_sealed(key, blob.nonce, blob.sealed, aad)


def test_another_context_fails_to_open() -> None:
    case = VECTORS[1]
    blob = ciphertext.parse(bytes.fromhex(case["blob_hex"]))
    key = bytes.fromhex(case["backing_key_hex"])
    for context in ({}, {"aws:sns:topicArn": "arn:aws:sns:us-east-1:000000000000:other"}):
        with pytest.raises(_aead.OpenFailed):
            _aead.open_sealed(key, blob.nonce, blob.sealed, ciphertext.aad(blob.header(), context))


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x01" * 48,
        b"\x02" + b"\0" * 60,
        b"\x01" + b"\0" * 16 + b"\0\0\0\0" + b"\0" * 40,  # version 0
        b"\x01" * 6145,
    ],
    ids=["empty", "short", "format 2", "backing key 0", "too long"],
)
def test_malformed_blobs_are_invalid_ciphertext(data: bytes) -> None:
    with pytest.raises(InvalidCiphertext):
        ciphertext.parse(data)


def test_seal_makes_a_fresh_nonce_every_time() -> None:
    key = _aead.new_key()
    first = _aead.seal(key, b"same", b"aad")
    second = _aead.seal(key, b"same", b"aad")
    assert first[0] != second[0] and first[1] != second[1]
    assert _aead.open_sealed(key, *first, b"aad") == b"same"


# -- the root key ------------------------------------------------------------------------


def test_a_wrapped_key_opens_only_under_its_root_key_and_id(tmp_path: Path) -> None:
    root = rootkey.load(None, tmp_path / "root.key")
    other = rootkey.FileRootKey(os.urandom(32))
    wrapped = root.wrap("key-1/1", b"m" * 32)
    assert b"m" * 32 not in wrapped
    assert root.unwrap("key-1/1", wrapped) == b"m" * 32
    with pytest.raises(rootkey.WrongRootKey):
        root.unwrap("key-2/1", wrapped)
    with pytest.raises(rootkey.WrongRootKey):
        other.unwrap("key-1/1", wrapped)
    with pytest.raises(rootkey.WrongRootKey):
        rootkey.verify(other, rootkey.check_value(root))
    rootkey.verify(root, rootkey.check_value(root))


def test_the_root_key_file_is_made_once_with_mode_0600(tmp_path: Path) -> None:
    path = tmp_path / "root.key"
    first = rootkey.load(None, path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(path.read_bytes()) == 32
    again = rootkey.load(None, path)
    assert again.unwrap("k/1", first.wrap("k/1", b"x")) == b"x"
    assert "<hidden>" in repr(first)
    assert path.read_bytes().hex() not in repr(first)


def test_a_root_key_from_the_environment_is_checked(tmp_path: Path) -> None:
    key = os.urandom(32)
    root = rootkey.load(base64.b64encode(key).decode(), tmp_path / "unused")
    assert not (tmp_path / "unused").exists()
    assert rootkey.FileRootKey(key).unwrap("k/1", root.wrap("k/1", b"y")) == b"y"
    with pytest.raises(ValueError, match="base64 of 32 bytes"):
        rootkey.load("not base64!", tmp_path / "unused")
    with pytest.raises(ValueError, match="base64 of 32 bytes"):
        rootkey.load(base64.b64encode(b"short").decode(), tmp_path / "unused")
    (tmp_path / "bad.key").write_bytes(b"x" * 31)
    with pytest.raises(ValueError, match="exactly 32 bytes"):
        rootkey.load(None, tmp_path / "bad.key")


# -- the key-state table -----------------------------------------------------------------

ARN = "arn:aws:kms:us-east-1:000000000000:key/k"


@pytest.mark.parametrize(
    ("use", "state", "error"),
    [
        (Use.CRYPTO, KeyState.ENABLED, None),
        (Use.CRYPTO, KeyState.DISABLED, KeyDisabled),
        (Use.CRYPTO, KeyState.PENDING_DELETION, KeyInvalidState),
        (Use.MANAGE, KeyState.DISABLED, None),
        (Use.MANAGE, KeyState.PENDING_DELETION, KeyInvalidState),
        (Use.ROTATE, KeyState.DISABLED, KeyDisabled),
        (Use.SCHEDULE, KeyState.DISABLED, None),
        (Use.SCHEDULE, KeyState.PENDING_DELETION, KeyInvalidState),
        (Use.CANCEL, KeyState.PENDING_DELETION, None),
        (Use.CANCEL, KeyState.ENABLED, KeyInvalidState),
        (Use.CANCEL, KeyState.DISABLED, KeyInvalidState),
        (Use.READ, KeyState.PENDING_DELETION, None),
    ],
)
def test_key_states(use: Use, state: KeyState, error: type[Exception] | None) -> None:
    if error is None:
        require_state(ARN, state, use)
    else:
        with pytest.raises(error, match=ARN):
            require_state(ARN, state, use)
