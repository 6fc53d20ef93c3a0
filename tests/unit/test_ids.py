"""Identifiers: version 4 and time-ordered version 7 UUIDs in canonical form."""

from __future__ import annotations

import uuid

from herald import ids


def test_uuid7_is_a_canonical_version_7_uuid_with_the_time_in_milliseconds() -> None:
    made = ids.uuid7(1_700_000_000.123)
    parsed = uuid.UUID(made)
    assert str(parsed) == made
    assert parsed.version == 7
    assert parsed.variant == uuid.RFC_4122
    assert parsed.int >> 80 == 1_700_000_000_123


def test_uuid7_ids_sort_by_time_and_never_repeat() -> None:
    early = [ids.uuid7(1_700_000_000.0 + n / 1000) for n in range(0, 5000, 7)]
    assert early == sorted(early)
    many = {ids.uuid7(1_700_000_000.0) for _ in range(10_000)}
    assert len(many) == 10_000  # 74 random bits within one millisecond


def test_uuid4_is_random_version_4() -> None:
    made = {ids.uuid4() for _ in range(1000)}
    assert len(made) == 1000
    assert all(uuid.UUID(m).version == 4 for m in made)
