"""Delivery retry policies and throttling (herald.delivery.retry), checked against AWS's
"Amazon SNS message delivery retries".

The page's rules, as these tests read them:

- A policy has four phases, in order: retries with no delay, retries at minDelayTarget
  (pre-backoff), a backoff phase, retries at maxDelayTarget (post-backoff). numRetries
  counts all of them; the backoff phase has numRetries - numNoDelayRetries -
  numMinDelayRetries - numMaxDelayRetries retries.
- In the backoff phase minDelayTarget "sets the delay for the first retry attempt",
  maxDelayTarget "the delay for the final retry attempt", and the backoff function (linear,
  arithmetic, geometric, exponential) those in between.
- AWS-managed endpoints (SQS, Lambda, Firehose): 3 immediate, 2 at 1 s, 10 backoff from
  1 s to 20 s, 100,000 at 20 s: 100,015 attempts over 23 days. Customer-managed ones
  (email, SMS): 0 immediate, 2 at 10 s, 10 backoff from 10 s to 600 s, 38 at 600 s:
  50 attempts over 6 hours.
- HTTP/S takes the subscription's DeliveryPolicy, else the topic's http defaults, else
  three retries 20 s apart (linear); a topic's disableSubscriptionOverrides makes its own
  policy apply to every subscription. throttlePolicy.maxReceivesPerSecond (1 or greater)
  paces deliveries; requestPolicy.headerContentType sets the Content-Type.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from herald.delivery import retry
from herald.delivery.retry import (
    CUSTOMER_MANAGED,
    DEFAULT_CONTENT_TYPE,
    MANAGED,
    RetryPolicy,
    Throttle,
    for_subscription,
    http_policy,
)
from herald.errors import InvalidParameter
from herald.sns import attributes
from herald.sns.attributes import TopicFacts

HOUR = 3600.0
DAY = 24 * HOUR
FUNCTIONS = ("linear", "arithmetic", "geometric", "exponential")
NOW = 1_700_000_000.0

# The example of "Creating an HTTP/S delivery policy": 3 immediate retries, 2 one second
# apart, 10 with exponential backoff from 1 s to 60 s, 35 at 60 s; 50 in all.
AWS_EXAMPLE_RETRY = {
    "minDelayTarget": 1,
    "maxDelayTarget": 60,
    "numRetries": 50,
    "numNoDelayRetries": 3,
    "numMinDelayRetries": 2,
    "numMaxDelayRetries": 35,
    "backoffFunction": "exponential",
}


def delays(policy: RetryPolicy) -> list[float | None]:
    """delay(n) for n = 1 .. retries + 1: every retry, then the one past the end."""
    return [policy.delay(n) for n in range(1, policy.retries + 2)]


def backoff_delays(policy: RetryPolicy) -> list[float]:
    first = policy.no_delay + policy.min_delay_retries + 1
    found = [policy.delay(n) for n in range(first, first + policy.backoff)]
    assert all(d is not None for d in found)
    return [d for d in found if d is not None]


# -- the four phases ------------------------------------------------------------------

# One policy with every phase two retries long (four in backoff), 5 s to 100 s.
PHASED = {f: RetryPolicy(2, 2, 4, 2, 5.0, 100.0, f) for f in FUNCTIONS}

PHASE_ROWS = {
    # failures: the delay every backoff function gives
    "no failure yet": (0, None),
    "negative": (-1, None),
    "1st failure: no-delay phase": (1, 0.0),
    "2nd failure: last of the no-delay phase": (2, 0.0),
    "3rd failure: first pre-backoff retry": (3, 5.0),
    "4th failure: last pre-backoff retry": (4, 5.0),
    "8th failure: last backoff retry reaches the maximum": (8, 100.0),
    "9th failure: first post-backoff retry": (9, 100.0),
    "10th failure: the last retry (numRetries)": (10, 100.0),
    "11th failure: exhausted": (11, None),
    "far past the end": (10_000, None),
}


@pytest.mark.parametrize("function", FUNCTIONS)
@pytest.mark.parametrize(("failures", "expected"), PHASE_ROWS.values(), ids=PHASE_ROWS.keys())
def test_each_phase_gives_its_delay(function: str, failures: int, expected: float | None) -> None:
    assert PHASED[function].retries == 10
    assert PHASED[function].delay(failures) == pytest.approx(expected)


# Backoff phases of several lengths and spans, including one retry long and min == max.
SHAPES = {
    "1 retry, 5 to 30 s": (1, 5.0, 30.0),
    "2 retries, 1 to 20 s": (2, 1.0, 20.0),
    "3 retries, 20 to 20 s": (3, 20.0, 20.0),
    "10 retries, 5 to 260 s (AWS's chart)": (10, 5.0, 260.0),
    "10 retries, 1 to 3600 s": (10, 1.0, 3600.0),
    "100 retries, 1 to 3600 s": (100, 1.0, 3600.0),
}


@pytest.mark.parametrize("function", FUNCTIONS)
@pytest.mark.parametrize(("k", "low", "high"), SHAPES.values(), ids=SHAPES.keys())
def test_backoff_climbs_from_the_minimum_to_reach_the_maximum_at_its_last_retry(
    function: str, k: int, low: float, high: float
) -> None:
    # Given a policy whose only phase is a backoff of k retries
    policy = RetryPolicy(0, 0, k, 0, low, high, function)
    # When every delay is asked for
    found = backoff_delays(policy)
    # Then the delays never fall, stay between the targets, start on the minimum, end on
    # the maximum (a single backoff retry is the first one: it waits the minimum), and the
    # policy is exhausted after numRetries
    assert found == sorted(found)
    assert all(low <= d <= high for d in found)
    assert found[0] == pytest.approx(low)
    assert found[-1] == pytest.approx(high if k > 1 else low)
    assert policy.delay(k + 1) is None


@pytest.mark.parametrize("function", FUNCTIONS)
def test_the_first_backoff_retry_waits_the_minimum_delay(function: str) -> None:
    # "minDelayTarget - Sets the delay for the first retry attempt in the backoff phase",
    # and maxDelayTarget that of the final one; AWS's chart: 10 retries from 5 s to 260 s.
    policy = RetryPolicy(0, 0, 10, 0, 5.0, 260.0, function)
    found = backoff_delays(policy)
    assert found[0] == pytest.approx(5.0)
    assert found[-1] == pytest.approx(260.0)


def test_a_longer_phase_before_the_backoff_shifts_it_without_changing_it() -> None:
    plain = RetryPolicy(0, 0, 10, 0, 5.0, 260.0, "arithmetic")
    shifted = RetryPolicy(3, 4, 10, 5, 5.0, 260.0, "arithmetic")
    assert backoff_delays(shifted) == backoff_delays(plain)
    assert delays(shifted)[:7] == [0.0] * 3 + [5.0] * 4
    assert delays(shifted)[17:] == [260.0] * 5 + [None]


# -- AWS's fixed policies -------------------------------------------------------------


def test_managed_endpoints_get_100015_retries_over_23_days() -> None:
    # 3 immediate, 2 at 1 s, 10 backoff from 1 s to 20 s, then 20 s apart
    assert MANAGED.retries == 100_015
    assert [MANAGED.delay(n) for n in range(1, 6)] == [0.0, 0.0, 0.0, 1.0, 1.0]
    assert MANAGED.delay(15) == 20.0
    assert MANAGED.delay(100_015) == 20.0
    assert MANAGED.delay(100_016) is None
    total = sum(MANAGED.delay(n) or 0.0 for n in range(1, 100_016))
    assert 23 * DAY <= total <= 23 * DAY + 4 * HOUR


def test_customer_managed_endpoints_get_50_retries_over_6_hours() -> None:
    # No immediate retries, 2 at 10 s, 10 backoff from 10 s to 600 s, 38 at 600 s
    assert CUSTOMER_MANAGED.retries == 50
    assert CUSTOMER_MANAGED.delay(1) == CUSTOMER_MANAGED.delay(2) == 10.0
    assert CUSTOMER_MANAGED.delay(12) == 600.0
    assert CUSTOMER_MANAGED.delay(50) == 600.0
    assert CUSTOMER_MANAGED.delay(51) is None
    total = sum(d or 0.0 for d in delays(CUSTOMER_MANAGED))
    # Every backoff retry waits 10 to 600 s, so the total lies between 6.4 and 8 hours.
    assert 6 * HOUR < total <= 8 * HOUR


# -- HTTP/S policies --------------------------------------------------------------------


def test_the_default_http_policy_is_three_retries_20_seconds_apart() -> None:
    policy = http_policy({})
    assert policy.retries == 3
    assert delays(policy) == [20.0, 20.0, 20.0, None]
    assert policy.function == "linear"


def test_aws_example_policy_has_its_four_phases() -> None:
    # Given the example of "Creating an HTTP/S delivery policy"
    policy = http_policy(AWS_EXAMPLE_RETRY)
    # Then it has 3 + 2 + 10 + 35 = 50 retries in its four phases
    assert (policy.no_delay, policy.min_delay_retries, policy.backoff) == (3, 2, 10)
    assert policy.max_delay_retries == 35
    assert (policy.min_delay, policy.max_delay, policy.function) == (1.0, 60.0, "exponential")
    found = delays(policy)
    assert found[:5] == [0.0, 0.0, 0.0, 1.0, 1.0]
    assert found[14] == 60.0  # the last backoff retry
    assert found[15:] == [60.0] * 35 + [None]


HTTP_ROWS: dict[str, tuple[dict[str, Any], list[float | None]]] = {
    "numRetries only: the rest default": ({"numRetries": 5}, [20.0] * 5 + [None]),
    "no retries at all": ({"numRetries": 0}, [None]),
    "all immediate": ({"numRetries": 2, "numNoDelayRetries": 2}, [0.0, 0.0, None]),
    "immediate, then at the maximum": (
        {"numRetries": 3, "numNoDelayRetries": 1, "numMaxDelayRetries": 2, "maxDelayTarget": 40},
        [0.0, 40.0, 40.0, None],
    ),
    "phases longer than numRetries are cut to it": (
        {"numRetries": 2, "numNoDelayRetries": 1, "numMinDelayRetries": 5},
        [0.0, 20.0, None],
    ),
}


@pytest.mark.parametrize(("given", "expected"), HTTP_ROWS.values(), ids=HTTP_ROWS.keys())
def test_http_policy_from_a_healthy_retry_policy(
    given: dict[str, Any], expected: list[float | None]
) -> None:
    assert delays(http_policy(given)) == expected


# -- which policy an endpoint gets ---------------------------------------------------------

TOPIC_DEFAULTS = {
    "http": {
        "defaultHealthyRetryPolicy": AWS_EXAMPLE_RETRY,
        "defaultThrottlePolicy": {"maxReceivesPerSecond": 10},
        "defaultRequestPolicy": {"headerContentType": "application/json"},
    }
}
SUBSCRIPTION_OWN = {
    "healthyRetryPolicy": {"numRetries": 5, "minDelayTarget": 2, "maxDelayTarget": 2},
    "throttlePolicy": {"maxReceivesPerSecond": 2},
    "requestPolicy": {"headerContentType": "application/xml"},
}


def topic_with(policy: dict[str, Any]) -> dict[str, str]:
    """A topic's attributes holding ``policy`` as the validator stores it."""
    return {"DeliveryPolicy": attributes.topic_delivery_policy(json.dumps(policy))}


def subscription_with(policy: dict[str, Any]) -> dict[str, str]:
    return {"DeliveryPolicy": attributes.subscription_delivery_policy(json.dumps(policy))}


FIXED_ROWS = {
    "sqs": ("sqs", MANAGED),
    "lambda": ("lambda", MANAGED),
    "firehose": ("firehose", MANAGED),
    "email": ("email", CUSTOMER_MANAGED),
    "email-json": ("email-json", CUSTOMER_MANAGED),
    "sms": ("sms", CUSTOMER_MANAGED),
}


@pytest.mark.parametrize(("protocol", "expected"), FIXED_ROWS.values(), ids=FIXED_ROWS.keys())
def test_aws_defined_policies_ignore_the_topics_http_policy(
    protocol: str, expected: RetryPolicy
) -> None:
    # "With the exception of HTTP/S, you can't change Amazon SNS-defined delivery policies."
    endpoint = for_subscription(protocol, topic_with(TOPIC_DEFAULTS), {})
    assert endpoint == retry.EndpointPolicy(expected, None, DEFAULT_CONTENT_TYPE)


@pytest.mark.parametrize("protocol", ["http", "https"])
def test_an_http_subscription_without_policies_gets_aws_defaults(protocol: str) -> None:
    endpoint = for_subscription(protocol, {}, {})
    assert endpoint.retry == http_policy({})
    assert delays(endpoint.retry) == [20.0, 20.0, 20.0, None]
    assert endpoint.max_per_second is None
    assert endpoint.content_type == "text/plain; charset=UTF-8"


def test_an_http_subscription_takes_the_topics_defaults() -> None:
    endpoint = for_subscription("https", topic_with(TOPIC_DEFAULTS), {})
    assert endpoint.retry == http_policy(AWS_EXAMPLE_RETRY)
    assert endpoint.retry.retries == 50
    assert endpoint.max_per_second == 10
    assert endpoint.content_type == "application/json"


def test_a_subscriptions_own_policy_overrides_the_topics() -> None:
    endpoint = for_subscription(
        "http", topic_with(TOPIC_DEFAULTS), subscription_with(SUBSCRIPTION_OWN)
    )
    assert delays(endpoint.retry) == [2.0] * 5 + [None]
    assert endpoint.max_per_second == 2
    assert endpoint.content_type == "application/xml"


def test_a_subscription_overrides_only_the_parts_it_sets() -> None:
    own = subscription_with({"throttlePolicy": {"maxReceivesPerSecond": 3}})
    endpoint = for_subscription("http", topic_with(TOPIC_DEFAULTS), own)
    assert endpoint.retry == http_policy(AWS_EXAMPLE_RETRY)
    assert endpoint.max_per_second == 3
    assert endpoint.content_type == "application/json"


def test_disable_subscription_overrides_makes_the_topics_policy_apply() -> None:
    # Given a topic whose http policy disables subscription overrides
    topic = topic_with({"http": {**TOPIC_DEFAULTS["http"], "disableSubscriptionOverrides": True}})
    # When a subscription with its own policy is delivered to
    endpoint = for_subscription("http", topic, subscription_with(SUBSCRIPTION_OWN))
    # Then the topic's policy applies, every part of it
    assert endpoint.retry == http_policy(AWS_EXAMPLE_RETRY)
    assert endpoint.max_per_second == 10
    assert endpoint.content_type == "application/json"


def test_disable_subscription_overrides_without_topic_defaults_gives_aws_defaults() -> None:
    topic = topic_with({"http": {"disableSubscriptionOverrides": True}})
    endpoint = for_subscription("http", topic, subscription_with(SUBSCRIPTION_OWN))
    assert endpoint == retry.EndpointPolicy(http_policy({}), None, DEFAULT_CONTENT_TYPE)


def test_the_effective_subscription_policy_layers_own_over_topic_over_defaults() -> None:
    own = subscription_with({"requestPolicy": {"headerContentType": "text/plain"}})
    effective = json.loads(
        attributes.effective_subscription_delivery_policy(
            topic_with(TOPIC_DEFAULTS), own["DeliveryPolicy"]
        )
    )
    assert effective == {
        "healthyRetryPolicy": AWS_EXAMPLE_RETRY,
        "sicklyRetryPolicy": None,
        "throttlePolicy": {"maxReceivesPerSecond": 10},
        "requestPolicy": {"headerContentType": "text/plain"},
        "guaranteed": False,
    }


# -- the DeliveryPolicy validators ---------------------------------------------------------

SET = attributes.SET_PREFIX + "DeliveryPolicy: "
SUBSCRIPTION_REFUSALS = {
    "numRetries over 100": (
        {"healthyRetryPolicy": {"numRetries": 101}},
        "healthyRetryPolicy.numRetries must be less than or equal to 100",
    ),
    "minDelayTarget under 1": (
        {"healthyRetryPolicy": {"minDelayTarget": 0}},
        "healthyRetryPolicy.minDelayTarget must be greater than or equal to 1",
    ),
    "maxDelayTarget over 3600": (
        {"healthyRetryPolicy": {"maxDelayTarget": 3601}},
        "healthyRetryPolicy.maxDelayTarget must be less than or equal to 3600",
    ),
    "minimum above maximum": (
        {"healthyRetryPolicy": {"minDelayTarget": 30, "maxDelayTarget": 20}},
        "healthyRetryPolicy.minDelayTarget must be less than or equal to maxDelayTarget",
    ),
    "minimum above the default maximum": (
        {"healthyRetryPolicy": {"minDelayTarget": 21}},
        "healthyRetryPolicy.minDelayTarget must be less than or equal to maxDelayTarget",
    ),
    "unknown backoff function": (
        {"healthyRetryPolicy": {"backoffFunction": "cubic"}},
        "healthyRetryPolicy.backoffFunction must be one of linear, arithmetic, geometric, "
        "exponential",
    ),
    "count as a string": (
        {"healthyRetryPolicy": {"numRetries": "3"}},
        "healthyRetryPolicy.numRetries must be an integer",
    ),
    "count as a boolean": (
        {"healthyRetryPolicy": {"numNoDelayRetries": True}},
        "healthyRetryPolicy.numNoDelayRetries must be an integer",
    ),
    "unknown field": (
        {"healthyRetryPolicy": {"numSlowRetries": 1}},
        "healthyRetryPolicy.numSlowRetries is not a valid field",
    ),
    "maxReceivesPerSecond 0": (
        {"throttlePolicy": {"maxReceivesPerSecond": 0}},
        "throttlePolicy.maxReceivesPerSecond must be greater than or equal to 1",
    ),
    "maxReceivesPerSecond as a string": (
        {"throttlePolicy": {"maxReceivesPerSecond": "10"}},
        "throttlePolicy.maxReceivesPerSecond must be greater than or equal to 1",
    ),
}


@pytest.mark.parametrize(
    ("policy", "reason"), SUBSCRIPTION_REFUSALS.values(), ids=SUBSCRIPTION_REFUSALS.keys()
)
def test_a_subscription_delivery_policy_out_of_bounds_is_refused(
    policy: dict[str, Any], reason: str
) -> None:
    with pytest.raises(InvalidParameter) as caught:
        attributes.check_subscription_attribute(
            "DeliveryPolicy", json.dumps(policy), "https", creating=False
        )
    assert caught.value.message == SET + reason


def test_a_subscription_delivery_policy_is_stored_with_the_defaults_filled_in() -> None:
    given = {"healthyRetryPolicy": {"numRetries": 5}, "throttlePolicy": {"maxReceivesPerSecond": 1}}
    stored = attributes.check_subscription_attribute(
        "DeliveryPolicy", json.dumps(given), "http", creating=True
    )
    assert json.loads(stored) == {
        "healthyRetryPolicy": {**attributes.DEFAULT_HTTP_RETRY, "numRetries": 5},
        "sicklyRetryPolicy": None,
        "throttlePolicy": {"maxReceivesPerSecond": 1},
        "requestPolicy": None,
        "guaranteed": False,
    }


@pytest.mark.parametrize("protocol", ["sqs", "email", "lambda"])
def test_only_http_subscriptions_take_a_delivery_policy(protocol: str) -> None:
    with pytest.raises(InvalidParameter) as caught:
        attributes.check_subscription_attribute(
            "DeliveryPolicy", json.dumps({"healthyRetryPolicy": {}}), protocol, creating=True
        )
    assert caught.value.message == (
        attributes.CREATE_PREFIX
        + f"DeliveryPolicy: Delivery protocol [{protocol}] does not support delivery policies"
    )


TOPIC_REFUSALS = {
    "numRetries over 100": (
        {"http": {"defaultHealthyRetryPolicy": {"numRetries": 101}}},
        "http.defaultHealthyRetryPolicy.numRetries must be less than or equal to 100",
    ),
    "minimum above maximum": (
        {"http": {"defaultHealthyRetryPolicy": {"minDelayTarget": 50, "maxDelayTarget": 40}}},
        "http.defaultHealthyRetryPolicy.minDelayTarget must be less than or equal to "
        "maxDelayTarget",
    ),
    "disableSubscriptionOverrides as a number": (
        {"http": {"disableSubscriptionOverrides": 1}},
        "http.disableSubscriptionOverrides must be true or false",
    ),
}


@pytest.mark.parametrize(("policy", "reason"), TOPIC_REFUSALS.values(), ids=TOPIC_REFUSALS.keys())
def test_a_topic_delivery_policy_out_of_bounds_is_refused(
    policy: dict[str, Any], reason: str
) -> None:
    with pytest.raises(InvalidParameter) as caught:
        attributes.check_topic_attribute(
            "DeliveryPolicy", json.dumps(policy), TopicFacts(fifo=False, creating=False)
        )
    assert caught.value.message == SET + reason


@pytest.mark.parametrize("rate", [0, "10"])
def test_a_topic_default_throttle_policy_under_one_per_second_is_refused(rate: object) -> None:
    # maxReceivesPerSecond: "1 or greater", at the topic level as at the subscription's.
    policy = {"http": {"defaultThrottlePolicy": {"maxReceivesPerSecond": rate}}}
    with pytest.raises(InvalidParameter, match="maxReceivesPerSecond"):
        attributes.check_topic_attribute(
            "DeliveryPolicy", json.dumps(policy), TopicFacts(fifo=False, creating=False)
        )


# -- throttling -------------------------------------------------------------------------


def test_deliveries_at_one_instant_are_spaced_one_over_the_rate_apart() -> None:
    # Given a subscription throttled to 2 deliveries a second
    throttle = Throttle()
    # When five deliveries are admitted at the same instant
    slots = [throttle.admit("sub", f"d{i}", 2, NOW) for i in range(5)]
    # Then the first goes now and each next one half a second later
    assert slots == [NOW, NOW + 0.5, NOW + 1.0, NOW + 1.5, NOW + 2.0]


def test_a_held_delivery_coming_back_at_its_slot_is_admitted_without_a_new_slot() -> None:
    # Given three deliveries at 2 a second: the second and third are held back
    throttle = Throttle()
    assert [throttle.admit("sub", d, 2, NOW) for d in ("a", "b", "c")] == [
        NOW,
        NOW + 0.5,
        NOW + 1.0,
    ]
    # When the second comes back at its slot, Then it goes at once
    assert throttle.admit("sub", "b", 2, NOW + 0.5) == NOW + 0.5
    # And a new delivery then queues behind the third, not behind a second slot for "b"
    assert throttle.admit("sub", "d", 2, NOW + 0.5) == NOW + 1.5
    # And the third, coming back later than its slot, goes at once too
    assert throttle.admit("sub", "c", 2, NOW + 3.0) == NOW + 3.0


def test_without_a_rate_every_delivery_goes_at_once() -> None:
    throttle = Throttle()
    assert {throttle.admit("sub", f"d{i}", None, NOW) for i in range(100)} == {NOW}


def test_each_subscription_has_its_own_pace() -> None:
    throttle = Throttle()
    assert throttle.admit("one", "a", 1, NOW) == NOW
    assert throttle.admit("two", "b", 1, NOW) == NOW
    assert throttle.admit("one", "c", 1, NOW) == NOW + 1.0


def test_after_a_quiet_spell_the_next_delivery_goes_at_once() -> None:
    throttle = Throttle()
    assert throttle.admit("sub", "a", 1, NOW) == NOW
    assert throttle.admit("sub", "b", 1, NOW + 60) == NOW + 60
    assert throttle.admit("sub", "c", 1, NOW + 60) == NOW + 61


def test_between_the_targets_exponential_rises_quickest_and_linear_slowest() -> None:
    # Given AWS's chart: 10 backoff retries from 5 to 260 s
    at_fourth = {f: RetryPolicy(0, 0, 10, 0, 5, 260, f).delay(4) for f in FUNCTIONS}
    # Then, part way, the curves are ordered as the chart draws them
    order = ["linear", "arithmetic", "geometric", "exponential"]
    values = [at_fourth[f] for f in order]
    assert values == sorted(values) and len(set(values)) == 4
