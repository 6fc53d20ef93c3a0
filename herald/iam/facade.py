"""The IAM service as the protocol layer sees it: users (with keys and policies) and
groups, over one store and one identity cache."""

from __future__ import annotations

from collections.abc import Callable

from herald.clock import Clock
from herald.iam.groups import Groups
from herald.iam.identities import Identities
from herald.iam.service import IAMService
from herald.store.base import Store


class IAM:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        identities: Identities,
        on_key_change: Callable[[str], None] = lambda key_id: None,
    ) -> None:
        self.users = IAMService(store, clock, identities, on_key_change)
        self.groups = Groups(store, clock, identities, self.users)
