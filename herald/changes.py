"""Changes made through other nodes, for the caches of this one.

Every part of Herald that caches what the store holds (topics and their subscriptions,
identity policies and decisions, credentials, keys, aliases and grants, the key service's
per-account switch) already forgets an entry when a change is made through it. With
several nodes sharing one PostgreSQL database, a change made through another node must
reach these caches too: the store announces each committed change by its kind
(``SNS``, ``IAM``, ``KMS``, ``SQS``), other nodes hear it (LISTEN/NOTIFY) and drop every cached
entry of that kind. Dropping a whole kind is coarse, but changes are rare next to the
reads the caches serve, and it cannot miss an entry.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable

log = logging.getLogger("herald.changes")

SNS = "sns"  # topics, their attributes, tags and subscriptions
IAM = "iam"  # principals, access keys, policies, groups, roles, event sources
KMS = "kms"  # keys, key versions, aliases, grants, the per-account switch
SQS = "sqs"  # queues, their attributes (policies included) and tags
KINDS = (SNS, IAM, KMS, SQS)
# Not a cache: messages arrived in a queue (the detail is its ARN), so that long polls
# waiting on this node for that queue look again at once.
ARRIVAL = "sqs-arrival"


class ChangeFeed:
    def __init__(self) -> None:
        self._listeners: dict[str, list[Callable[[], None]]] = defaultdict(list)
        self._arrivals: list[Callable[[str], None]] = []
        self.heard = 0

    def on(self, kind: str, forget: Callable[[], None]) -> None:
        """Call ``forget`` when a change of ``kind`` is made through another node."""
        self._listeners[kind].append(forget)

    def on_arrival(self, wake: Callable[[str], None]) -> None:
        """Call ``wake`` with a queue's ARN when another node put messages in it."""
        self._arrivals.append(wake)

    def hear(self, kind: str, detail: str = "") -> None:
        """Another node changed something of ``kind`` (or, ``ARRIVAL``, put messages in
        the queue ``detail``)."""
        self.heard += 1
        if kind == ARRIVAL:
            for wake in self._arrivals:
                try:
                    wake(detail)
                except Exception:
                    log.exception("a long poll could not be woken (%s)", detail)
            return
        for forget in self._listeners.get(kind, ()):
            try:
                forget()
            except Exception:
                log.exception("a cache could not drop what changed (%s)", kind)
