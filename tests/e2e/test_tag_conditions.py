"""Tag-based access control on SNS: aws:RequestTag/*, aws:TagKeys and aws:ResourceTag/*
in identity policies, as AWS's "Controlling access using tags" describes them for SNS."""

from __future__ import annotations

import json
import uuid
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.e2e.harness import REGION, HeraldProcess


def _user_client(server: HeraldProcess, statements: list[dict[str, Any]]) -> Any:
    iam = server.client("iam")
    name = f"abac-{uuid.uuid4().hex[:10]}"
    iam.create_user(UserName=name)
    iam.put_user_policy(
        UserName=name,
        PolicyName="abac",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": statements}),
    )
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return boto3.client(
        "sns",
        endpoint_url=server.http_url,
        region_name=REGION,
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
        config=Config(retries={"total_max_attempts": 1}),
    )


def _code(call: Any) -> str:
    with pytest.raises(ClientError) as caught:
        call()
    return str(caught.value.response["Error"]["Code"])


def test_create_topic_only_with_the_required_request_tag(server: HeraldProcess) -> None:
    sns = _user_client(
        server,
        [
            {
                "Effect": "Allow",
                "Action": "sns:CreateTopic",
                "Resource": "*",
                "Condition": {
                    "StringEquals": {"aws:RequestTag/team": "blue"},
                    "ForAllValues:StringEquals": {"aws:TagKeys": ["team", "cost"]},
                },
            }
        ],
    )
    name = f"abac-{uuid.uuid4().hex[:8]}"
    assert _code(lambda: sns.create_topic(Name=name)) == "AuthorizationError"
    red = [{"Key": "team", "Value": "red"}]
    assert _code(lambda: sns.create_topic(Name=name, Tags=red)) == "AuthorizationError"
    extra = [{"Key": "team", "Value": "blue"}, {"Key": "owner", "Value": "x"}]
    assert _code(lambda: sns.create_topic(Name=name, Tags=extra)) == "AuthorizationError"
    blue = [{"Key": "team", "Value": "blue"}, {"Key": "cost", "Value": "42"}]
    assert sns.create_topic(Name=name, Tags=blue)["TopicArn"].endswith(name)


def test_publish_only_to_topics_tagged_for_the_team(server: HeraldProcess) -> None:
    owner = server.client("sns")
    blue = owner.create_topic(
        Name=f"abac-{uuid.uuid4().hex[:8]}", Tags=[{"Key": "team", "Value": "blue"}]
    )["TopicArn"]
    red = owner.create_topic(
        Name=f"abac-{uuid.uuid4().hex[:8]}", Tags=[{"Key": "team", "Value": "red"}]
    )["TopicArn"]
    sns = _user_client(
        server,
        [
            {
                "Effect": "Allow",
                "Action": ["sns:Publish", "sns:UntagResource", "sns:TagResource"],
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:ResourceTag/team": "blue"}},
            },
            {
                "Effect": "Deny",
                "Action": "sns:UntagResource",
                "Resource": "*",
                "Condition": {"ForAnyValue:StringEquals": {"aws:TagKeys": ["team"]}},
            },
        ],
    )
    assert sns.publish(TopicArn=blue, Message="m")["MessageId"]
    assert _code(lambda: sns.publish(TopicArn=red, Message="m")) == "AuthorizationError"
    # The user may not take the tag away that grants it access ...
    assert _code(lambda: sns.untag_resource(ResourceArn=blue, TagKeys=["team"])) == (
        "AuthorizationError"
    )
    # ... but when the owner retags the topic, the next publish is refused.
    owner.tag_resource(ResourceArn=blue, Tags=[{"Key": "team", "Value": "red"}])
    assert _code(lambda: sns.publish(TopicArn=blue, Message="m")) == "AuthorizationError"


def _iam_as(server: HeraldProcess, statements: list[dict[str, Any]]) -> Any:
    iam = server.client("iam")
    name = f"abac-{uuid.uuid4().hex[:10]}"
    iam.create_user(UserName=name)
    iam.put_user_policy(
        UserName=name,
        PolicyName="abac",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": statements}),
    )
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return boto3.client(
        "iam",
        endpoint_url=server.http_url,
        region_name=REGION,
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
        config=Config(retries={"total_max_attempts": 1}),
    )


def test_iam_decisions_see_the_tags_of_roles_and_of_the_request(server: HeraldProcess) -> None:
    trust = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": "000000000000"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
    )
    owner = server.client("iam")
    protected = f"abac-{uuid.uuid4().hex[:8]}"
    owner.create_role(
        RoleName=protected,
        AssumeRolePolicyDocument=trust,
        Tags=[{"Key": "protected", "Value": "true"}],
    )
    plain = f"abac-{uuid.uuid4().hex[:8]}"
    owner.create_role(RoleName=plain, AssumeRolePolicyDocument=trust)
    iam = _iam_as(
        server,
        [
            {"Effect": "Allow", "Action": "iam:*", "Resource": "*"},
            {
                "Effect": "Deny",
                "Action": "iam:*",
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:ResourceTag/protected": "true"}},
            },
            {
                "Effect": "Deny",
                "Action": ["iam:TagRole", "iam:CreateRole"],
                "Resource": "*",
                "Condition": {"ForAnyValue:StringEquals": {"aws:TagKeys": ["protected"]}},
            },
        ],
    )
    iam.update_role(RoleName=plain, Description="changed")
    assert _code(lambda: iam.update_role(RoleName=protected, Description="x")) == "AccessDenied"
    tag = [{"Key": "protected", "Value": "true"}]
    assert _code(lambda: iam.tag_role(RoleName=plain, Tags=tag)) == "AccessDenied"
    iam.tag_role(RoleName=plain, Tags=[{"Key": "team", "Value": "blue"}])
    assert owner.list_role_tags(RoleName=plain)["Tags"] == [{"Key": "team", "Value": "blue"}]
    fresh = f"abac-{uuid.uuid4().hex[:8]}"
    code = _code(lambda: iam.create_role(RoleName=fresh, AssumeRolePolicyDocument=trust, Tags=tag))
    assert code == "AccessDenied"
