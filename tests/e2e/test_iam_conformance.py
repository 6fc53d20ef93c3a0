"""IAM and STS answers where a conformance audit found them to differ from AWS's, end to
end with boto3 against a real server: permissions boundaries refused rather than dropped,
role and user shapes per operation, AWS's words for attach and trust-policy errors, and
AssumeRole's validation.

The expected answers are AWS's as recorded in LocalStack's tests/aws/services/iam and
tests/aws/services/sts snapshots, or as AWS's API reference describes them.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.e2e.harness import REGION, HeraldProcess
from tests.e2e.test_sts import _allow, _client, _role, _trust, _user

ACCOUNT = "000000000000"
BOUNDARY = f"arn:aws:iam::{ACCOUNT}:policy/boundary"


def _error(call: Callable[..., object], /, **params: Any) -> tuple[str, int, str]:
    with pytest.raises(ClientError) as caught:
        call(**params)
    response = caught.value.response
    return (
        response["Error"]["Code"],
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["Error"]["Message"],
    )


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def test_a_permissions_boundary_is_refused_not_dropped(iam: Any) -> None:
    user, role = _name("bounded"), _name("bounded")
    code, status, message = _error(iam.create_user, UserName=user, PermissionsBoundary=BOUNDARY)
    assert (code, status) == ("InvalidInput", 400)
    assert "permissions boundaries" in message
    trust = _trust(f"arn:aws:iam::{ACCOUNT}:root")
    code, status, _ = _error(
        iam.create_role,
        RoleName=role,
        AssumeRolePolicyDocument=trust,
        PermissionsBoundary=BOUNDARY,
    )
    assert (code, status) == ("InvalidInput", 400)
    # Nothing was made
    assert _error(iam.get_user, UserName=user)[0] == "NoSuchEntity"
    assert _error(iam.get_role, RoleName=role)[0] == "NoSuchEntity"


def test_role_shapes_per_operation(iam: Any) -> None:
    name = _name("shaped")
    created = iam.create_role(
        RoleName=name, AssumeRolePolicyDocument=_trust(f"arn:aws:iam::{ACCOUNT}:root")
    )["Role"]
    # AWS's CreateRole answer has no MaxSessionDuration nor RoleLastUsed (create-role
    # snapshots); GetRole has both, RoleLastUsed empty until the role is used.
    assert "MaxSessionDuration" not in created and "RoleLastUsed" not in created
    got = iam.get_role(RoleName=name)["Role"]
    assert (got["MaxSessionDuration"], got["RoleLastUsed"]) == (3600, {})
    (listed,) = [r for r in iam.list_roles()["Roles"] if r["RoleName"] == name]
    assert listed["MaxSessionDuration"] == 3600 and "RoleLastUsed" not in listed


def test_list_users_leaves_tags_out_and_list_user_tags_has_them(iam: Any) -> None:
    name = _name("tagged")
    path = f"/{_name('p')}/"
    tags = [{"Key": "team", "Value": "blue"}, {"Key": "env", "Value": "dev"}]
    iam.create_user(UserName=name, Path=path, Tags=tags)
    assert iam.get_user(UserName=name)["User"]["Tags"] == tags
    (listed,) = iam.list_users(PathPrefix=path)["Users"]
    assert "Tags" not in listed
    assert iam.list_user_tags(UserName=name)["Tags"] == sorted(tags, key=lambda t: t["Key"])
    first = iam.list_user_tags(UserName=name, MaxItems=1)
    assert first["IsTruncated"] and first["Tags"] == [{"Key": "env", "Value": "dev"}]
    assert _error(iam.list_user_tags, UserName=_name("nobody"))[:2] == ("NoSuchEntity", 404)


def test_attach_errors_are_worded_as_aws_words_them(iam: Any) -> None:
    user = _name("attach")
    iam.create_user(UserName=user)
    missing = f"arn:aws:iam::{ACCOUNT}:policy/{_name('missing')}"
    assert _error(iam.attach_user_policy, UserName=user, PolicyArn=missing) == (
        "NoSuchEntity",
        404,
        f"Policy {missing} does not exist or is not attachable.",
    )
    assert _error(iam.attach_user_policy, UserName=user, PolicyArn="longpolicynamebutnoarn") == (
        "ValidationError",
        400,
        "Invalid ARN:  Could not be parsed!",
    )
    # GetPolicy and DeletePolicy keep theirs (delete-non-existent-policy-exc)
    assert _error(iam.get_policy, PolicyArn=missing)[2] == f"Policy {missing} was not found."


def test_a_trust_policy_that_is_not_json_is_invalid_json(iam: Any) -> None:
    assert _error(
        iam.create_role, RoleName=_name("badjson"), AssumeRolePolicyDocument="{not json"
    ) == ("MalformedPolicyDocument", 400, "This policy contains invalid Json")
    # Identity policies keep "Syntax errors in policy."
    user = _name("badjson")
    iam.create_user(UserName=user)
    assert _error(iam.put_user_policy, UserName=user, PolicyName="p", PolicyDocument="{not json")[
        2
    ] == ("Syntax errors in policy.")


@pytest.fixture
def assumer(server: HeraldProcess, iam: Any) -> tuple[Any, str]:
    """An STS client of a user allowed to assume a role, and that role's ARN."""
    arn, key = _user(iam, _name("assumer"), _allow("sts:AssumeRole"))
    role = _role(iam, _name("assumed"), _trust(arn))
    return _client(server, "sts", key), role


@pytest.mark.parametrize(
    "arn",
    [
        "nothing-valid-in-here",
        "arn::iam::000000000000:role/some-role",
        "arn:aws:::000000000000:role/some-role",
        "arn:aws:iam:000000000000:role/some-role",
        "arn:aws:iam::000000000000:",
    ],
    ids=["malformed", "no-partition", "no-service", "not-enough-colons", "no-resource"],
)
def test_assume_role_with_a_malformed_arn_is_a_validation_error(
    assumer: tuple[Any, str], arn: str
) -> None:
    sts, _ = assumer
    assert _error(sts.assume_role, RoleArn=arn, RoleSessionName="s1") == (
        "ValidationError",
        400,
        f"{arn} is invalid",
    )


def test_assume_role_of_a_well_formed_arn_that_is_no_role_is_denied(
    assumer: tuple[Any, str],
) -> None:
    sts, _ = assumer
    arn = f"arn:aws:iam::{ACCOUNT}:user/not-a-role"
    assert _error(sts.assume_role, RoleArn=arn, RoleSessionName="s1")[:2] == (
        "AccessDenied",
        403,
    )


def test_assume_role_session_names_are_checked_as_the_model_says(
    server: HeraldProcess, iam: Any
) -> None:
    arn, key = _user(iam, _name("assumer"), _allow("sts:AssumeRole"))
    role = _role(iam, _name("assumed"), _trust(arn))
    sts: Any = boto3.client(
        "sts",
        endpoint_url=server.http_url,
        region_name=REGION,
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
        config=Config(retries={"total_max_attempts": 1}, parameter_validation=False),
    )
    pattern = _error(sts.assume_role, RoleArn=role, RoleSessionName="not allowed")
    assert pattern[:2] == ("ValidationError", 400)
    assert pattern[2].endswith(r"Member must satisfy regular expression pattern: [\w+=,.@-]*")
    short = _error(sts.assume_role, RoleArn=role, RoleSessionName="x")
    assert short[2].endswith("Member must have length greater than or equal to 2")
    assert sts.assume_role(RoleArn=role, RoleSessionName="ok")["AssumedRoleUser"]


def test_assume_role_refuses_what_it_cannot_honour(assumer: tuple[Any, str]) -> None:
    sts, role = assumer
    mfa = _error(
        sts.assume_role,
        RoleArn=role,
        RoleSessionName="s1",
        SerialNumber=f"arn:aws:iam::{ACCOUNT}:mfa/device",
        TokenCode="123456",
    )
    assert mfa[:2] == ("AccessDenied", 403)
    source = _error(sts.assume_role, RoleArn=role, RoleSessionName="s1", SourceIdentity="me")
    assert source[:2] == ("InvalidParameterValue", 400)
    assert json.dumps(sts.assume_role(RoleArn=role, RoleSessionName="s1")["AssumedRoleUser"])


def test_a_trust_policy_naming_a_user_or_role_that_does_not_exist_is_refused(iam: Any) -> None:
    missing = f"arn:aws:iam::{ACCOUNT}:user/{_name('doesnotexist')}"
    assert _error(
        iam.create_role, RoleName=_name("trusting"), AssumeRolePolicyDocument=_trust(missing)
    ) == ("MalformedPolicyDocument", 400, f'Invalid principal in policy: "AWS":"{missing}"')
    # A user that exists, under its path, and an account root are fine; so is the same
    # check on UpdateAssumeRolePolicy
    user = _name("trusted")
    arn = iam.create_user(UserName=user, Path="/team/")["User"]["Arn"]
    role = _name("trusting")
    iam.create_role(
        RoleName=role, AssumeRolePolicyDocument=_trust(arn, f"arn:aws:iam::{ACCOUNT}:root")
    )
    wrong_path = f"arn:aws:iam::{ACCOUNT}:user/{user}"
    assert _error(iam.update_assume_role_policy, RoleName=role, PolicyDocument=_trust(wrong_path))[
        :2
    ] == ("MalformedPolicyDocument", 400)
    missing_role = f"arn:aws:iam::{ACCOUNT}:role/{_name('norole')}"
    assert (
        _error(iam.update_assume_role_policy, RoleName=role, PolicyDocument=_trust(missing_role))[2]
        == f'Invalid principal in policy: "AWS":"{missing_role}"'
    )


def test_update_role_description_answers_the_role(server: HeraldProcess, iam: Any) -> None:
    name = _name("described")
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=_trust(f"arn:aws:iam::{ACCOUNT}:root"))
    role = iam.update_role_description(RoleName=name, Description="now described")["Role"]
    assert (role["RoleName"], role["Description"]) == (name, "now described")
    assert iam.get_role(RoleName=name)["Role"]["Description"] == "now described"
    assert _error(iam.update_role_description, RoleName=_name("none"), Description="x")[:2] == (
        "NoSuchEntity",
        404,
    )
    # It is its own action: a user allowed iam:UpdateRole alone may not
    _, key = _user(iam, _name("updater"), _allow("iam:UpdateRole"))
    updater = _client(server, "iam", key)
    assert _error(updater.update_role_description, RoleName=name, Description="y")[:2] == (
        "AccessDenied",
        403,
    )
    updater.update_role(RoleName=name, Description="by UpdateRole")
    assert iam.get_role(RoleName=name)["Role"]["Description"] == "by UpdateRole"
