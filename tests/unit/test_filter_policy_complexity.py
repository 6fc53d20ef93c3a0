"""Filter policy complexity: the policies AWS was recorded accepting and refusing
(LocalStack's test_sns_filter_policy.py and its AWS snapshots), and the worked example of
the SNS guide ("Filter policy constraints"). Each array counts its values times the depth
of its key; ``$or`` branches add up."""

from __future__ import annotations

import json
from typing import Any

import pytest

from herald.sns import filter_policy

TOO_COMPLEX = "Filter policy is too complex"

CASES: list[tuple[str, dict[str, Any], bool]] = [
    # The guide's nested example: 3 x 4 x 2 x 3 x 1 x 3 = 216.
    (
        "nested-216",
        {
            "key_a": {"key_b": {"key_c": ["value_one", "value_two", "value_three", "value_four"]}},
            "key_d": {"key_e": ["value_one", "value_two", "value_three"]},
            "key_f": ["value_one", "value_two", "value_three"],
        },
        False,
    ),
    ("one-condition-151", {"key": [f"value{i}" for i in range(151)]}, False),
    (
        "two-conditions-5100",
        {"key1": [f"value{i}" for i in range(100)], "key2": [f"value{i}" for i in range(51)]},
        False,
    ),
    # 4 x (6 + 4 x (4 + 4)) = 152
    (
        "or-flat-152",
        {
            "source": ["aws.cloudwatch", "aws.events", "aws.test", "aws.test2"],
            "$or": [
                {"metricName": ["CPUUtilization", "ReadLatency", "t1", "t2", "t3", "t4"]},
                {
                    "metricType": ["MetricType", "TestType", "TestType2", "TestType3"],
                    "$or": [{"metricId": [1234, 4321, 5678, 9012]}, {"spaceId": [1, 2, 3, 4]}],
                },
            ],
        },
        False,
    ),
    # (3 + 2) x (2 x 2) x (1 x 2 + 3 x 2) = 160
    (
        "or-nested-160",
        {
            "$or": [
                {"metricName": ["CPUUtilization", "ReadLatency", "TestValue"]},
                {"namespace": ["AWS/EC2", "AWS/ES"]},
            ],
            "detail": {
                "scope": ["Service", "Test"],
                "$or": [
                    {"source": ["aws.cloudwatch"]},
                    {"type": ["CloudWatch Alarm State Change", "TestValue", "TestValue2"]},
                ],
            },
        },
        False,
    ),
    # 3 x (6 + 4 x (4 + 7)) = 150, the most AWS accepts
    (
        "or-flat-150",
        {
            "source": ["aws.cloudwatch", "aws.events", "aws.test"],
            "$or": [
                {"metricName": ["CPUUtilization", "ReadLatency", "T1", "T2", "T3", "T4"]},
                {
                    "metricType": ["MetricType", "TestType", "TestType2", "TestType3"],
                    "$or": [
                        {"metricId": [1234, 4321, 5678, 9012]},
                        {"spaceId": [1, 2, 3, 4, 5, 6, 7]},
                    ],
                },
            ],
        },
        True,
    ),
    # (2 + 2) x (1 x 2) x (1 x 2 + 1 x 2) = 32
    (
        "or-nested-32",
        {
            "$or": [
                {"metricName": ["CPUUtilization", "ReadLatency"]},
                {"namespace": ["AWS/EC2", "AWS/ES"]},
            ],
            "detail": {
                "scope": ["Service"],
                "$or": [
                    {"source": ["aws.cloudwatch"]},
                    {"type": ["CloudWatch Alarm State Change"]},
                ],
            },
        },
        True,
    ),
    # 1 x 4 x 1 x 2 = 8
    (
        "nested-8",
        {
            "Records": {
                "s3": {"object": {"key": [{"prefix": "auto-"}]}},
                "eventName": [{"prefix": "ObjectCreated:"}],
            }
        },
        True,
    ),
]


@pytest.mark.parametrize(("policy", "accepted"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_complexity_is_what_aws_recorded(policy: dict[str, Any], accepted: bool) -> None:
    text = json.dumps(policy)
    if accepted:
        assert filter_policy.check(text) == policy
    else:
        with pytest.raises(filter_policy.FilterPolicyError, match=f"^{TOO_COMPLEX}$"):
            filter_policy.check(text)


@pytest.mark.parametrize(("values", "accepted"), [(75, True), (76, False)])
def test_a_nested_array_counts_twice_at_depth_two(values: int, accepted: bool) -> None:
    # 75 values at depth 2 make 150 combinations, 76 make 152.
    text = json.dumps({"outer": {"inner": [str(i) for i in range(values)]}})
    if accepted:
        filter_policy.check(text)
    else:
        with pytest.raises(filter_policy.FilterPolicyError, match=f"^{TOO_COMPLEX}$"):
            filter_policy.check(text)
