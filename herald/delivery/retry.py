"""Delivery retry policies and throttling ("Amazon SNS message delivery retries").
Sans-IO: a policy maps the number of failed attempts to the delay before the next one.

A policy has four phases, run in order: retries with no delay, retries at the minimum
delay, a backoff phase from the minimum to the maximum delay, and retries at the maximum
delay. AWS fixes the policy of its managed endpoints (SQS, Lambda, Firehose) and of
customer-managed ones (email, SMS); HTTP/S endpoints take the subscription's (or topic's)
DeliveryPolicy, by default three retries 20 seconds apart.

The first backoff retry waits minDelayTarget and the last maxDelayTarget, as AWS defines
them. Between, the curves are Herald's reading of AWS's chart (which gives no formulas):
linear climbs evenly; arithmetic, geometric and exponential rise early and level off,
each faster than the one before, exponential reaching the maximum the quickest.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from herald.sns import attributes

MANAGED_PROTOCOLS = frozenset({"sqs", "lambda", "firehose"})
HTTP_PROTOCOLS = frozenset({"http", "https"})
DEFAULT_CONTENT_TYPE = "text/plain; charset=UTF-8"


@dataclass(frozen=True)
class RetryPolicy:
    no_delay: int
    min_delay_retries: int
    backoff: int
    max_delay_retries: int
    min_delay: float
    max_delay: float
    function: str = "exponential"

    @property
    def retries(self) -> int:
        return self.no_delay + self.min_delay_retries + self.backoff + self.max_delay_retries

    def delay(self, failures: int) -> float | None:
        """Seconds to wait after the ``failures``-th failed attempt, or None once the
        policy is exhausted (the message is then dropped or dead-lettered)."""
        n = failures
        if n < 1 or n > self.retries:
            return None
        if n <= self.no_delay:
            return 0.0
        n -= self.no_delay
        if n <= self.min_delay_retries:
            return self.min_delay
        n -= self.min_delay_retries
        if n <= self.backoff:
            return _backoff(self.function, n, self.backoff, self.min_delay, self.max_delay)
        return self.max_delay


def _backoff(function: str, i: int, k: int, low: float, high: float) -> float:
    """The delay of backoff retry ``i`` of ``k``: the first waits ``low``, the last
    ``high``; in between, linear climbs evenly and the others rise early and level off,
    arithmetic least, exponential most (it "reaches the maximum delay the quickest")."""
    if k <= 1:
        return low
    x = (i - 1) / (k - 1)
    if function == "arithmetic":
        x = 1 - (1 - x) ** 2
    elif function == "geometric":
        x = 1 - (1 - x) ** 3
    elif function == "exponential":
        x = (1 - 2.0 ** (-10 * x)) / (1 - 2.0**-10)
    return low + (high - low) * x


# AWS's fixed policies (the table in "Amazon SNS message delivery retries").
MANAGED = RetryPolicy(3, 2, 10, 100_000, 1, 20)  # 100,015 attempts over 23 days
CUSTOMER_MANAGED = RetryPolicy(0, 2, 10, 38, 10, 600)  # 50 attempts over 6 hours


def http_policy(retry: Mapping[str, Any]) -> RetryPolicy:
    """The RetryPolicy of an HTTP/S healthyRetryPolicy document."""
    merged = {**attributes.DEFAULT_HTTP_RETRY, **retry}
    total = int(merged["numRetries"])
    no_delay = min(int(merged["numNoDelayRetries"]), total)
    min_retries = min(int(merged["numMinDelayRetries"]), total - no_delay)
    max_retries = min(int(merged["numMaxDelayRetries"]), total - no_delay - min_retries)
    return RetryPolicy(
        no_delay=no_delay,
        min_delay_retries=min_retries,
        backoff=total - no_delay - min_retries - max_retries,
        max_delay_retries=max_retries,
        min_delay=float(merged["minDelayTarget"]),
        max_delay=float(merged["maxDelayTarget"]),
        function=str(merged["backoffFunction"]),
    )


@dataclass(frozen=True)
class EndpointPolicy:
    """How one subscription's deliveries are retried, paced and sent."""

    retry: RetryPolicy
    max_per_second: int | None = None
    content_type: str = DEFAULT_CONTENT_TYPE


def for_subscription(
    protocol: str, topic_attributes: Mapping[str, str], subscription_attributes: Mapping[str, str]
) -> EndpointPolicy:
    if protocol in MANAGED_PROTOCOLS:
        return EndpointPolicy(MANAGED)
    if protocol not in HTTP_PROTOCOLS:
        return EndpointPolicy(CUSTOMER_MANAGED)
    effective = json.loads(
        attributes.effective_subscription_delivery_policy(
            topic_attributes, subscription_attributes.get("DeliveryPolicy")
        )
    )
    throttle = effective.get("throttlePolicy") or {}
    rate = throttle.get("maxReceivesPerSecond")
    request = effective.get("requestPolicy") or {}
    return EndpointPolicy(
        retry=http_policy(effective.get("healthyRetryPolicy") or {}),
        max_per_second=int(rate) if isinstance(rate, int) and rate >= 1 else None,
        content_type=str(request.get("headerContentType") or DEFAULT_CONTENT_TYPE),
    )


class Throttle:
    """maxReceivesPerSecond per subscription. Sends to one subscription are spaced 1/rate
    seconds apart: each delivery is given the next free slot, and one whose slot lies
    ahead is held back until then (keeping its slot, so held deliveries go in order)."""

    def __init__(self, max_entries: int = 100_000) -> None:
        self._next: dict[str, float] = {}
        self._held: dict[str, float] = {}
        self._max = max_entries

    def admit(self, key: str, delivery_id: str, rate: int | None, now: float) -> float:
        """When the delivery may be sent: ``now`` to send it at once, else later."""
        if rate is None:
            return now
        held = self._held.pop(delivery_id, None)
        if held is not None and held <= now:
            return now
        if len(self._next) >= self._max or len(self._held) >= self._max:
            self._next = {k: v for k, v in self._next.items() if v > now}
            self._held = {k: v for k, v in self._held.items() if v > now - 60}
        slot = max(self._next.get(key, now), now)
        self._next[key] = slot + 1.0 / rate
        if slot > now:
            self._held[delivery_id] = slot
        return slot
