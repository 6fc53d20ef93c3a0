"""Server-side encryption of topic messages (AWS "Encryption at rest" for SNS).

A topic whose KmsMasterKeyId names a key has every message body sealed before it is
stored: the body is encrypted with a 256-bit data key (``herald.kms.envelope``, version
2), and names the sealing key under which the data key's ciphertext from the key service,
the key's ARN and the publisher are stored, once per data key and publisher. The
encryption context is {"aws:sns:topicArn": TOPIC_ARN}; the body's associated data binds
the topic and the message id. Subject, attributes and ids stay in clear, as in AWS.
Bodies stored by earlier versions (version 1: the data key's ciphertext in each body, the
publisher in each message row) are still opened.

Data keys are reused for at most ``reuse_seconds`` per (topic, key, publisher); the key
service is asked for a new one (GenerateDataKey) only when no fresh one is held, and one
request at a time per such triple. Reuse never skips authorisation: every publish checks,
without a KMS request, that the publisher could get a data key now. Opening a stored body
(delivery) asks the key service to Decrypt a data key only when its own cache lacks it. So
KMS requests per topic follow R = B / D x (2 x P) (B: billing period, D: reuse period,
P: publishers).

A key reference that is not an ARN is read in the topic owner's account and region: a
publisher of another account uses the owner's key, never a key of its own.
"""

from __future__ import annotations

import json
import os
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from herald.clock import Clock
from herald.errors import (
    AccessDenied,
    CallerFault,
    InvalidCiphertext,
    KeyDisabled,
    KeyInvalidState,
    KMSAccessDenied,
    KMSDisabled,
    KMSFault,
    KMSInvalidState,
    KMSNotFound,
    KMSOptInRequired,
    KMSThrottling,
    NotFound,
    OptInRequired,
    Throttled,
)
from herald.kms import envelope
from herald.kms.data_keys import (
    DataKeyLike,
    DataKeyOpener,
    DataKeys,
    Held,
    KeyService,
    Translated,
    key_reference,
)
from herald.store.base import MessageRecord, SealingKeyRecord, TopicRecord
from herald.types import Principal, RequestContext

DEFAULT_REUSE_SECONDS = 300
CACHE_SIZE = 10_000
TOPIC_CONTEXT_KEY = "aws:sns:topicArn"


# The key service's refusals, as SNS reports them to a publisher.
_TRANSLATIONS: tuple[tuple[type[CallerFault], type[KMSFault]], ...] = (
    (NotFound, KMSNotFound),
    (AccessDenied, KMSAccessDenied),
    (KeyDisabled, KMSDisabled),
    (KeyInvalidState, KMSInvalidState),
    (Throttled, KMSThrottling),
    (OptInRequired, KMSOptInRequired),
)


class SealingKeyReader(Protocol):
    async def get_sealing_key(self, sealing_id: bytes) -> SealingKeyRecord | None: ...


class SealingKeys:
    """The sealing keys this node knows, by id: those its publishers seal with, from the
    moment they are made, and those its deliveries have read from the store; each with
    its publisher as a Principal. The least recently used go first when it is full."""

    def __init__(self, store: SealingKeyReader) -> None:
        self._store = store
        self._known: OrderedDict[bytes, tuple[SealingKeyRecord, Principal]] = OrderedDict()

    def remember(self, record: SealingKeyRecord, principal: Principal) -> None:
        self._known[record.sealing_id] = (record, principal)
        while len(self._known) > CACHE_SIZE:
            self._known.popitem(last=False)

    async def get(self, sealing_id: bytes) -> tuple[SealingKeyRecord, Principal] | None:
        known = self._known.get(sealing_id)
        if known is not None:
            self._known.move_to_end(sealing_id)
            return known
        record = await self._store.get_sealing_key(sealing_id)
        if record is None:
            return None
        known = (record, publisher(record.publisher_identity))
        self.remember(*known)
        return known


class Sealing:
    """One data key as one publisher seals with it: the envelope header naming it, and
    its record, which goes with the messages to the store until a commit of it has
    returned (``stored``), and the end of its bodies' associated data."""

    __slots__ = ("aad", "header", "record", "stored")

    def __init__(self, record: SealingKeyRecord) -> None:
        self.record = record
        self.header = envelope.referring_header(record.sealing_id)
        self.aad = _framed_bytes(record.sealing_id)
        self.stored = False


@dataclass(frozen=True)
class Sealed:
    records: list[MessageRecord]
    sealings: tuple[Sealing, ...] = ()  # those to store with the records

    @property
    def sealing_keys(self) -> list[SealingKeyRecord]:
        return [s.record for s in self.sealings]

    def stored(self) -> None:
        """The records were committed: later messages need not write the keys again."""
        for sealing in self.sealings:
            sealing.stored = True


class TopicEncryption:
    def __init__(
        self,
        keys: KeyService,
        clock: Clock,
        sealing_keys: SealingKeys,
        reuse_seconds: float = DEFAULT_REUSE_SECONDS,
    ) -> None:
        self._data_keys = DataKeys(keys, clock)
        self._clock = clock
        self._sealing_keys = sealing_keys
        self._reuse = reuse_seconds
        self._sealings: dict[tuple[bytes, Principal], Sealing] = {}
        self._topics: dict[tuple[str, str | None], _TopicKey | None] = {}

    async def seal(
        self, ctx: RequestContext, topic: TopicRecord, records: Sequence[MessageRecord]
    ) -> Sealed:
        """``records`` with their bodies sealed, if the topic is encrypted, and the
        sealing key to store with them if it may not be stored yet.

        Raises KMSNotFound, KMSAccessDenied, KMSDisabled, KMSInvalidState,
        KMSThrottling, KMSOptInRequired.
        """
        key = self._topic_key(topic)
        if key is None:
            return Sealed(list(records))
        with Translated(_TRANSLATIONS, KMSInvalidState):
            held = await self._data_keys.get(
                ctx, topic.arn, key.reference, key.context, self._reuse
            )
        sealing = self._sealing(held, ctx.principal, topic.arn)
        sealed = [
            _sealed(
                record,
                envelope.seal(
                    held.cipher,
                    sealing.header,
                    record.body,
                    key.aad + _framed(record.message_id) + sealing.aad,
                ),
            )
            for record in records
        ]
        return Sealed(sealed, () if sealing.stored else (sealing,))

    def _sealing(self, held: Held, principal: Principal, topic_arn: str) -> Sealing:
        """The sealing key of ``held`` for this publisher (sessions of one role share a
        data key, not an identity), made once."""
        slot = (held.blob, principal)
        sealing = self._sealings.get(slot)
        if sealing is None:
            record = SealingKeyRecord(
                sealing_id=os.urandom(envelope.SEALING_ID_BYTES),
                topic_arn=topic_arn,
                key_arn=held.key_arn,
                data_key=held.blob,
                publisher_identity=publisher_identity(principal),
                created_at=held.made_at,
                sealing_until=held.made_at + self._reuse,
            )
            if len(self._sealings) >= CACHE_SIZE:
                self._forget_ended()
            sealing = self._sealings[slot] = Sealing(record)
            self._sealing_keys.remember(record, principal)
        return sealing

    def _forget_ended(self) -> None:
        """Room for a sealing: those that seal no more go, and all if none has ended (a
        sealing forgotten while its data key is held gets a new id and record)."""
        now = self._clock.now()
        ended = [k for k, s in self._sealings.items() if s.record.sealing_until <= now]
        for slot in ended:
            del self._sealings[slot]
        if not ended:
            self._sealings.clear()

    def _topic_key(self, topic: TopicRecord) -> _TopicKey | None:
        """What sealing needs of the topic, read once per topic and key setting."""
        setting = topic.attributes.get("KmsMasterKeyId")
        slot = (topic.arn, setting)
        if slot in self._topics:
            return self._topics[slot]
        reference = key_reference(setting, topic.region, topic.account_id)
        key = (
            None
            if reference is None
            else _TopicKey(reference, {TOPIC_CONTEXT_KEY: topic.arn}, _aad_prefix(topic.arn))
        )
        if len(self._topics) >= CACHE_SIZE:
            self._topics.clear()
        self._topics[slot] = key
        return key


class MessageOpener:
    """Reads stored bodies for delivery: a sealed body is opened with its data key, which
    the key service decrypts for the publisher only when this cache lacks it."""

    def __init__(
        self,
        keys: KeyService,
        clock: Clock,
        sealing_keys: SealingKeys,
        reuse_seconds: float = DEFAULT_REUSE_SECONDS,
    ) -> None:
        self._opener = DataKeyOpener(keys, clock)
        self._sealing_keys = sealing_keys
        self._reuse = reuse_seconds

    async def body(self, record: MessageRecord, region: str) -> bytes:
        """The message body in clear. Raises the KMS* errors, InvalidCiphertext."""
        sealed: envelope.Envelope | envelope.Referring
        if record.body_format == envelope.FORMAT_V2:
            sealed = envelope.read_referring(record.body)
            known = await self._sealing_keys.get(sealed.sealing_id)
            if known is None or known[0].topic_arn != record.topic_arn:
                raise InvalidCiphertext("The stored body's sealing key is not in the store.")
            principal, blob = known[1], known[0].data_key
            aad = body_aad(record.topic_arn, record.message_id, sealed.sealing_id)
        elif record.body_format == envelope.FORMAT:
            sealed = envelope.read(record.body)
            principal, blob = publisher(record.publisher_identity), sealed.data_key_blob
            aad = body_aad(record.topic_arn, record.message_id)
        else:
            return record.body
        ctx = RequestContext(
            principal=principal,
            region=region,
            request_id=f"delivery-{record.message_id}",
            secure_transport=True,
            sigv4=True,
        )
        with Translated(_TRANSLATIONS, KMSInvalidState):
            data_key = await self._opener.plaintext(
                ctx, blob, {TOPIC_CONTEXT_KEY: record.topic_arn}, self._reuse
            )
        return envelope.open_body(data_key, sealed, aad)


def _sealed(record: MessageRecord, body: bytes) -> MessageRecord:
    """``record`` with its body sealed. Built by copying the fields, as ``copy.copy``
    would: the frozen dataclass's ``__init__`` (or ``dataclasses.replace``) costs four
    times as much, on every message of an encrypted topic, and checks nothing here."""
    sealed = object.__new__(MessageRecord)
    fields = sealed.__dict__
    fields.update(record.__dict__)
    fields["body"] = body
    fields["body_format"] = envelope.FORMAT_V2
    return sealed


def body_aad(topic_arn: str, message_id: str, sealing_id: bytes | None = None) -> bytes:
    """Length-prefixed: the label, the topic ARN, the message id and, in a version 2
    envelope, the sealing id (a body names one sealing key, never a sibling sharing its
    data key with another publisher)."""
    aad = _aad_prefix(topic_arn) + _framed(message_id)
    return aad if sealing_id is None else aad + _framed_bytes(sealing_id)


def _aad_prefix(topic_arn: str) -> bytes:
    return _framed("herald-sns-body-v1") + _framed(topic_arn)


def _framed(part: str) -> bytes:
    return _framed_bytes(part.encode())


def _framed_bytes(data: bytes) -> bytes:
    return len(data).to_bytes(4, "big") + data


@dataclass(frozen=True)
class _TopicKey:
    reference: str  # the key as key_reference reads the topic's KmsMasterKeyId
    context: Mapping[str, str]  # the encryption context, shared by the topic's publishes
    aad: bytes  # the start of every body's associated data


def publisher_identity(principal: Principal) -> str:
    """The publisher, kept with a sealing key for the Decrypt made at delivery."""
    fields = {
        "account": principal.account_id,
        "arn": principal.arn,
        "user_id": principal.user_id,
        "access_key_id": principal.access_key_id,
        "session": principal.session,
        "role_arn": principal.role_arn,
        "session_policies": list(principal.session_policies) or None,
        "service": principal.service,
        "source_arn": principal.source_arn,
    }
    return json.dumps({k: v for k, v in fields.items() if v is not None}, separators=(",", ":"))


def publisher(identity: str) -> Principal:
    data = json.loads(identity)
    return Principal(
        account_id=data["account"],
        arn=data["arn"],
        user_id=data["user_id"],
        access_key_id=data["access_key_id"],
        session=data.get("session"),
        role_arn=data.get("role_arn"),
        session_policies=tuple(data.get("session_policies") or ()),
        service=data.get("service"),
        source_arn=data.get("source_arn"),
    )


__all__ = [
    "DataKeyLike",
    "KeyService",
    "MessageOpener",
    "Sealed",
    "SealingKeys",
    "TopicEncryption",
]
