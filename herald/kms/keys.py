"""Keys as the key service sees them: states, what each operation may do in each state
(AWS KMS "Key states of AWS KMS keys"), and the values that cross layers.

The state table maps an operation group to what happens in a state the group does not
accept: ``None`` allows, an exception class refuses with AWS's error for that state.
"""

from __future__ import annotations

from enum import StrEnum

from herald.errors import CallerFault, KeyDisabled, KeyInvalidState
from herald.store.base_kms import AliasRecord, KeyManager, KeyRecord, KeyState, KeyVersion

__all__ = ["AliasRecord", "KeyManager", "KeyRecord", "KeyState", "KeyVersion", "Use"]


class Use(StrEnum):
    """Operation groups of the key-state table."""

    CRYPTO = "crypto"  # Encrypt, Decrypt, GenerateDataKey*, ReEncrypt, CreateGrant
    MANAGE = "manage"  # Enable/DisableKey, aliases, tags, policy, description
    ROTATE = "rotate"  # Enable/DisableKeyRotation, RotateKeyOnDemand
    SCHEDULE = "schedule"  # ScheduleKeyDeletion
    CANCEL = "cancel"  # CancelKeyDeletion
    READ = "read"  # DescribeKey, Get*, List*


_REFUSED: dict[Use, dict[KeyState, type[CallerFault] | None]] = {
    Use.CRYPTO: {KeyState.DISABLED: KeyDisabled, KeyState.PENDING_DELETION: KeyInvalidState},
    Use.MANAGE: {KeyState.PENDING_DELETION: KeyInvalidState},
    Use.ROTATE: {KeyState.DISABLED: KeyDisabled, KeyState.PENDING_DELETION: KeyInvalidState},
    Use.SCHEDULE: {KeyState.PENDING_DELETION: KeyInvalidState},
    Use.CANCEL: {KeyState.ENABLED: KeyInvalidState, KeyState.DISABLED: KeyInvalidState},
    Use.READ: {},
}

_WORDS = {
    KeyState.ENABLED: "is not pending deletion",
    KeyState.DISABLED: "is disabled",
    KeyState.PENDING_DELETION: "is pending deletion",
}


def require_state(arn: str, state: KeyState, use: Use) -> None:
    """Raise AWS's error when a key in ``state`` cannot serve ``use``."""
    refused = _REFUSED[use].get(state)
    if refused is not None:
        words = _WORDS[state]
        if use is Use.CANCEL:
            words = "is not pending deletion"
        raise refused(f"{arn} {words}.", resource=arn)
