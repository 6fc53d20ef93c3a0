"""The envelope of an encrypted SNS message (docs/ciphertext-format.md): version 2 as
documented, against a golden vector made independently of Herald's code, and malformed
envelopes refused with InvalidCiphertext."""

from __future__ import annotations

import pytest

from herald.errors import InvalidCiphertext
from herald.kms import envelope
from herald.sns.encryption import body_aad

DATA_KEY = bytes(range(32))
SEALING_ID = bytes.fromhex("0f" * 16)
TOPIC = "arn:aws:sns:us-east-1:000000000000:golden"
MESSAGE_ID = "01890a5d-ac96-774b-bcce-b302099a8057"
# AES-256-GCM of b"golden body" under DATA_KEY with the nonce a1 * 12 and the documented
# associated data (label, topic ARN, message id, sealing id), computed with
# pyca/cryptography directly, laid out as documented.
GOLDEN = bytes.fromhex(
    "02" + "0f" * 16 + "a1" * 12 + "c2af973ab67051b6ab79d87b735ac2c0f0f40eb66b0e5a00466f2b"
)


def test_a_version_2_golden_envelope_reads_and_opens() -> None:
    sealed = envelope.read_referring(GOLDEN)
    assert (sealed.sealing_id, sealed.nonce) == (SEALING_ID, bytes.fromhex("a1" * 12))
    opened = envelope.open_body(DATA_KEY, sealed, body_aad(TOPIC, MESSAGE_ID, SEALING_ID))
    assert opened == b"golden body"


def test_a_sealed_body_is_29_bytes_of_header_and_nonce_then_the_body_and_its_tag() -> None:
    header = envelope.referring_header(SEALING_ID)
    assert header == b"\x02" + SEALING_ID
    stored = envelope.seal(envelope.cipher(DATA_KEY), header, b"body", body_aad(TOPIC, "m"))
    assert len(stored) == 29 + len(b"body") + 16 and stored.startswith(header)
    sealed = envelope.read_referring(stored)
    assert envelope.open_body(DATA_KEY, sealed, body_aad(TOPIC, "m")) == b"body"


@pytest.mark.parametrize(
    "stored",
    [
        b"",
        GOLDEN[:44],  # one byte short of a tag
        b"\x01" + GOLDEN[1:],  # version 1's byte
        b"\x03" + GOLDEN[1:],
    ],
    ids=["empty", "short", "version-1", "unknown-version"],
)
def test_a_malformed_envelope_is_an_invalid_ciphertext(stored: bytes) -> None:
    with pytest.raises(InvalidCiphertext):
        envelope.read_referring(stored)


@pytest.mark.parametrize(
    "aad",
    [
        body_aad(TOPIC, "01890a5d-ac96-774b-bcce-b302099a8058", SEALING_ID),
        body_aad(TOPIC + "x", MESSAGE_ID, SEALING_ID),
        body_aad(TOPIC, MESSAGE_ID, bytes(16)),
        body_aad(TOPIC, MESSAGE_ID),
    ],
    ids=["other-message", "other-topic", "other-sealing-key", "version-1"],
)
def test_a_body_moved_to_another_message_topic_or_sealing_key_does_not_open(aad: bytes) -> None:
    with pytest.raises(InvalidCiphertext):
        envelope.open_body(DATA_KEY, envelope.read_referring(GOLDEN), aad)


def test_a_tampered_body_does_not_open() -> None:
    tampered = GOLDEN[:-1] + bytes([GOLDEN[-1] ^ 1])
    with pytest.raises(InvalidCiphertext):
        envelope.open_body(
            DATA_KEY, envelope.read_referring(tampered), body_aad(TOPIC, MESSAGE_ID, SEALING_ID)
        )


def test_a_sealing_id_is_16_bytes() -> None:
    with pytest.raises(ValueError):
        envelope.referring_header(b"short")
