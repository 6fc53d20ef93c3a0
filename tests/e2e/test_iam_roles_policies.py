"""IAM roles, customer managed policies and their attachments, managed policies enforced on
SNS for users, groups and role sessions, ListGroups, and Marker/MaxItems pagination of IAM
lists, end to end with boto3 and the AWS CLI.

Expected codes, statuses and messages are AWS's documented answers (IAM API reference
2010-05-08, the IAM quotas page, "Policy evaluation logic"); where AWS's wording varies, the
test checks the code and status and that the message names the problem.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import boto3
import pytest
from botocore.config import Config

from tests.e2e.harness import REGION, HeraldProcess
from tests.e2e.test_iam import User, allow, deny, failure, policy

ACCOUNT = "000000000000"
ROLE_ID = re.compile(r"^AROA[A-Z0-9]{16,}$")
POLICY_ID = re.compile(r"^ANPA[A-Z0-9]{16,}$")
GROUP_ID = re.compile(r"^AGPA[A-Z0-9]{16,}$")
SNS_ALL = policy(allow("sns:*", "*"))
SNS_DENY_ALL = policy(deny("sns:*", "*"))


# -- helpers -----------------------------------------------------------------------------


def trust(**statement: Any) -> dict[str, Any]:
    """A trust policy: by default, Lambda may assume the role; a field given as None is
    left out."""
    body = {
        "Effect": "Allow",
        "Principal": {"Service": "lambda.amazonaws.com"},
        "Action": "sts:AssumeRole",
        **statement,
    }
    return {
        "Version": "2012-10-17",
        "Statement": [{k: v for k, v in body.items() if v is not None}],
    }


TRUST = trust()


def document(text: str) -> dict[str, Any]:
    return dict(json.loads(text))


def role_arn(name: str, path: str = "/") -> str:
    return f"arn:aws:iam::{ACCOUNT}:role{path}{name}"


def policy_arn(name: str, path: str = "/") -> str:
    return f"arn:aws:iam::{ACCOUNT}:policy{path}{name}"


def unique_path(unique: Callable[[str], str]) -> str:
    return "/" + unique("path") + "/"


def attached_names(listed: dict[str, Any]) -> list[str]:
    return [p["PolicyName"] for p in listed["AttachedPolicies"]]


def assert_sns_refused(user: User, call: Callable[[], object], action: str) -> None:
    code, status, message = failure(call)
    assert (code, status) == ("AuthorizationError", 403)
    assert message.startswith(
        f"User: {user.arn} is not authorized to perform: SNS:{action} on resource: "
    ), message


@pytest.fixture
def raw_iam(server: HeraldProcess) -> Any:
    """An IAM client that sends parameters boto3 would refuse, so Herald judges them."""
    return server.client("iam", parameter_validation=False)


@pytest.fixture
def make_user(server: HeraldProcess, iam: Any, unique: Callable[[str], str]) -> Callable[..., User]:
    """Create an IAM user (at ``path``) with one access key and no policy."""

    def make(prefix: str = "user", path: str = "/") -> User:
        name = unique(prefix)
        arn = iam.create_user(UserName=name, Path=path)["User"]["Arn"]
        key = iam.create_access_key(UserName=name)["AccessKey"]
        return User(server, name, arn, key["AccessKeyId"], key["SecretAccessKey"])

    return make


@pytest.fixture
def make_role(iam: Any, unique: Callable[[str], str]) -> Callable[..., str]:
    """Create a role Lambda may assume; return its name."""

    def make(prefix: str = "role", **extra: Any) -> str:
        name = unique(prefix)
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST), **extra)
        return name

    return make


@pytest.fixture
def make_policy(iam: Any, unique: Callable[[str], str]) -> Callable[..., str]:
    """Create a customer managed policy (default: sns:* on everything); return its ARN."""

    def make(prefix: str = "pol", text: str = SNS_ALL, **extra: Any) -> str:
        created = iam.create_policy(PolicyName=unique(prefix), PolicyDocument=text, **extra)
        return str(created["Policy"]["Arn"])

    return make


# -- CreateRole / GetRole ----------------------------------------------------------------


def test_create_role_returns_the_role_with_its_trust_policy_and_settings(
    iam: Any, unique: Callable[[str], str]
) -> None:
    # Given a name, a path, a description, a 2-hour session limit and tags
    name, path = unique("builder"), unique_path(unique) + "ci/"
    tags = [{"Key": "team", "Value": "platform"}, {"Key": "env", "Value": "dev"}]
    # When the role is created
    created = iam.create_role(
        RoleName=name,
        Path=path,
        AssumeRolePolicyDocument=json.dumps(TRUST),
        Description="Builds things",
        MaxSessionDuration=7200,
        Tags=tags,
    )["Role"]
    # Then the answer describes it: an AROA id, the path in its ARN, the same trust policy
    assert (created["RoleName"], created["Path"]) == (name, path)
    assert created["Arn"] == role_arn(name, path)
    assert ROLE_ID.fullmatch(created["RoleId"]), created["RoleId"]
    assert created["AssumeRolePolicyDocument"] == TRUST
    # (AWS's CreateRole answer has no MaxSessionDuration; GetRole's has)
    assert created["Description"] == "Builds things" and "MaxSessionDuration" not in created
    assert isinstance(created["CreateDate"], datetime)
    assert sorted(created["Tags"], key=lambda t: t["Key"]) == sorted(tags, key=lambda t: t["Key"])
    # And GetRole reads back the same role
    fetched = iam.get_role(RoleName=name)["Role"]
    fields = ("RoleName", "Path", "Arn", "RoleId", "AssumeRolePolicyDocument")
    assert {k: fetched[k] for k in fields} == {k: created[k] for k in fields}
    assert (fetched["Description"], fetched["MaxSessionDuration"]) == ("Builds things", 7200)


def test_create_role_defaults_to_the_root_path_and_a_one_hour_session(
    iam: Any, unique: Callable[[str], str]
) -> None:
    # When a role is created with only a name and a trust policy
    name = unique("plain")
    role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]
    # Then its path is /, its maximum session is 3600 s and it has no description or tags
    assert (role["Path"], role["Arn"]) == ("/", role_arn(name))
    assert "Description" not in role and "Tags" not in role
    assert iam.get_role(RoleName=name)["Role"]["MaxSessionDuration"] == 3600


def test_create_role_twice_is_entity_already_exists(
    iam: Any, make_role: Callable[..., str]
) -> None:
    # Given a role
    name = make_role("twice")
    # When a role of the same name is created again, Then 409 and the first one is unchanged
    assert failure(
        lambda: iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST))
    ) == ("EntityAlreadyExists", 409, f"Role with name {name} already exists.")
    assert iam.get_role(RoleName=name)["Role"]["Arn"] == role_arn(name)


def test_role_names_differing_only_in_case_collide(iam: Any, make_role: Callable[..., str]) -> None:
    # Given a role named in lower case
    name = make_role("casefold")
    # When a role of the same name in upper case is created, Then EntityAlreadyExists (409):
    # "Names are not distinguished by case" (CreateRole, RoleName)
    code, status, _ = failure(
        lambda: iam.create_role(RoleName=name.upper(), AssumeRolePolicyDocument=json.dumps(TRUST))
    )
    assert (code, status) == ("EntityAlreadyExists", 409)


@pytest.mark.parametrize(
    "call",
    [
        lambda iam, name: iam.get_role(RoleName=name),
        lambda iam, name: iam.delete_role(RoleName=name),
        lambda iam, name: iam.update_role(RoleName=name, Description="x"),
        lambda iam, name: iam.update_assume_role_policy(
            RoleName=name, PolicyDocument=json.dumps(TRUST)
        ),
        lambda iam, name: iam.tag_role(RoleName=name, Tags=[{"Key": "k", "Value": "v"}]),
        lambda iam, name: iam.list_role_tags(RoleName=name),
        lambda iam, name: iam.list_role_policies(RoleName=name),
        lambda iam, name: iam.put_role_policy(
            RoleName=name, PolicyName="p", PolicyDocument=SNS_ALL
        ),
    ],
    ids=["get", "delete", "update", "trust", "tag", "list-tags", "list-policies", "put-policy"],
)
def test_an_unknown_role_is_no_such_entity(
    iam: Any, unique: Callable[[str], str], call: Callable[[Any, str], object]
) -> None:
    # When any role action names a role that does not exist, Then NoSuchEntity (404)
    name = unique("ghost")
    assert failure(lambda: call(iam, name)) == (
        "NoSuchEntity",
        404,
        f"The role with name {name} cannot be found.",
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"Version": "2012-10-17", "Statement": [', ".+"),
        (json.dumps(trust(Resource="*")), "Has prohibited field Resource"),
        (json.dumps(trust(Principal=None)), ".*Principal.*"),
        (json.dumps(trust(Effect="Maybe")), ".+"),
    ],
    ids=["bad-json", "resource", "no-principal", "bad-effect"],
)
def test_create_role_refuses_a_malformed_trust_policy(
    iam: Any, unique: Callable[[str], str], text: str, message: str
) -> None:
    # When a role is created with a malformed trust policy
    name = unique("badtrust")
    code, status, said = failure(
        lambda: iam.create_role(RoleName=name, AssumeRolePolicyDocument=text)
    )
    # Then MalformedPolicyDocument (400), naming the problem, and no role is created
    assert (code, status) == ("MalformedPolicyDocument", 400)
    assert re.fullmatch(message, said), said
    assert failure(lambda: iam.get_role(RoleName=name))[:2] == ("NoSuchEntity", 404)


@pytest.mark.parametrize("seconds", [100, 3599, 43201])
def test_max_session_duration_outside_1_to_12_hours_is_validation_error(
    iam: Any,
    raw_iam: Any,
    make_role: Callable[..., str],
    unique: Callable[[str], str],
    seconds: int,
) -> None:
    # When a role is created with a maximum session outside 3600..43200, Then ValidationError
    name = unique("session")
    code, status, message = failure(
        lambda: raw_iam.create_role(
            RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST), MaxSessionDuration=seconds
        )
    )
    assert (code, status) == ("ValidationError", 400)
    assert f"Value '{seconds}' at 'maxSessionDuration' failed to satisfy constraint" in message
    assert failure(lambda: iam.get_role(RoleName=name))[:2] == ("NoSuchEntity", 404)
    # And UpdateRole refuses the same value and leaves the role's setting as it was
    existing = make_role("keep")
    code, status, _ = failure(
        lambda: raw_iam.update_role(RoleName=existing, MaxSessionDuration=seconds)
    )
    assert (code, status) == ("ValidationError", 400)
    assert iam.get_role(RoleName=existing)["Role"]["MaxSessionDuration"] == 3600


# -- ListRoles / UpdateRole / UpdateAssumeRolePolicy / tags -------------------------------


def test_list_roles_filters_by_path_prefix(
    iam: Any, make_role: Callable[..., str], unique: Callable[[str], str]
) -> None:
    # Given roles under /<base>/a/, /<base>/b/ and one at /
    base = unique_path(unique)
    first, second = make_role("a", Path=base + "a/"), make_role("b", Path=base + "b/")
    top = make_role("top")

    def names(prefix: str | None = None) -> list[str]:
        kwargs = {"PathPrefix": prefix} if prefix else {}
        return [r["RoleName"] for r in iam.list_roles(**kwargs)["Roles"]]

    # When listing by the shared prefix, Then both, in name order; by a deeper one, Then one
    assert names(base) == sorted([first, second])
    listed = iam.list_roles(PathPrefix=base + "a/")
    assert [(r["RoleName"], r["Arn"]) for r in listed["Roles"]] == [
        (first, role_arn(first, base + "a/"))
    ]
    assert listed["Roles"][0]["AssumeRolePolicyDocument"] == TRUST
    assert listed["IsTruncated"] is False
    # When listing without a prefix, Then all three are there
    assert {first, second, top} <= set(names())


def test_update_role_changes_description_and_max_session_duration(
    iam: Any, make_role: Callable[..., str]
) -> None:
    # Given a role with the default settings
    name = make_role("upd")
    # When its description and maximum session are updated
    iam.update_role(RoleName=name, Description="now described", MaxSessionDuration=43200)
    # Then GetRole shows both
    role = iam.get_role(RoleName=name)["Role"]
    assert (role["Description"], role["MaxSessionDuration"]) == ("now described", 43200)
    # When only the description is updated, Then the maximum session is kept
    iam.update_role(RoleName=name, Description="again")
    role = iam.get_role(RoleName=name)["Role"]
    assert (role["Description"], role["MaxSessionDuration"]) == ("again", 43200)


def test_update_assume_role_policy_replaces_the_trust_policy(
    iam: Any, make_role: Callable[..., str]
) -> None:
    # Given a role Lambda may assume
    name = make_role("trust")
    ec2 = trust(Principal={"Service": "ec2.amazonaws.com"})
    # When its trust policy is replaced, Then GetRole returns the new document
    iam.update_assume_role_policy(RoleName=name, PolicyDocument=json.dumps(ec2))
    assert iam.get_role(RoleName=name)["Role"]["AssumeRolePolicyDocument"] == ec2
    # When a trust policy naming a Resource is given, Then it is refused, the old one stays
    bad = json.dumps(trust(Resource="*"))
    assert failure(lambda: iam.update_assume_role_policy(RoleName=name, PolicyDocument=bad)) == (
        "MalformedPolicyDocument",
        400,
        "Has prohibited field Resource",
    )
    assert iam.get_role(RoleName=name)["Role"]["AssumeRolePolicyDocument"] == ec2


def test_tag_role_untag_role_and_list_role_tags(iam: Any, make_role: Callable[..., str]) -> None:
    # Given a role tagged team=a
    name = make_role("tagged", Tags=[{"Key": "team", "Value": "a"}])

    def tags() -> list[dict[str, str]]:
        listed = iam.list_role_tags(RoleName=name)
        assert listed["IsTruncated"] is False
        return list(listed["Tags"])

    assert tags() == [{"Key": "team", "Value": "a"}]
    # When tagged team=b and env=prod, Then team is overwritten and env added
    iam.tag_role(RoleName=name, Tags=[{"Key": "team", "Value": "b"}, {"Key": "env", "Value": "p"}])
    assert sorted(tags(), key=lambda t: t["Key"]) == [
        {"Key": "env", "Value": "p"},
        {"Key": "team", "Value": "b"},
    ]
    assert {t["Key"]: t["Value"] for t in iam.get_role(RoleName=name)["Role"]["Tags"]} == {
        "team": "b",
        "env": "p",
    }
    # When team and a key it never had are untagged, Then only env remains
    iam.untag_role(RoleName=name, TagKeys=["team", "never-set"])
    assert tags() == [{"Key": "env", "Value": "p"}]
    iam.untag_role(RoleName=name, TagKeys=["env"])
    assert tags() == []


def test_list_role_tags_is_authorized_as_iam_list_role_tags(
    iam: Any, make_role: Callable[..., str], make_user: Callable[..., User]
) -> None:
    # Given a tagged role, a user allowed only iam:ListRoleTags on it and one allowed only
    # iam:GetRole on it
    name = make_role("authz", Tags=[{"Key": "team", "Value": "a"}])
    lister, getter = make_user("lister"), make_user("getter")
    for user, action in ((lister, "iam:ListRoleTags"), (getter, "iam:GetRole")):
        iam.put_user_policy(
            UserName=user.name, PolicyName="p", PolicyDocument=policy(allow(action, role_arn(name)))
        )
    # When the iam:ListRoleTags user lists the role's tags, Then it may (the action ListRoleTags
    # is authorized by the permission of the same name, IAM service authorization reference)
    assert lister.client("iam").list_role_tags(RoleName=name)["Tags"] == [
        {"Key": "team", "Value": "a"}
    ]
    # When the iam:GetRole user lists them, Then AccessDenied naming iam:ListRoleTags
    code, status, message = failure(lambda: getter.client("iam").list_role_tags(RoleName=name))
    assert (code, status) == ("AccessDenied", 403)
    assert message.startswith(
        f"User: {getter.arn} is not authorized to perform: iam:ListRoleTags on resource: "
    ), message


def test_the_iam_policy_arn_condition_key_limits_which_policies_may_be_attached(
    iam: Any,
    make_role: Callable[..., str],
    make_user: Callable[..., User],
    make_policy: Callable[..., str],
) -> None:
    # Given a user allowed to attach to roles only one particular managed policy
    role, permitted, other = make_role("cond"), make_policy("ok"), make_policy("notok")
    condition = {"ArnEquals": {"iam:PolicyARN": permitted}}
    user = make_user("attacher")
    iam.put_user_policy(
        UserName=user.name,
        PolicyName="p",
        PolicyDocument=policy(allow("iam:AttachRolePolicy", "*", Condition=condition)),
    )
    attacher = user.client("iam")
    # When it attaches that policy, Then it is attached
    attacher.attach_role_policy(RoleName=role, PolicyArn=permitted)
    assert [
        p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]
    ] == [permitted]
    # When it attaches another, Then AccessDenied and it is not attached
    code, status, message = failure(
        lambda: attacher.attach_role_policy(RoleName=role, PolicyArn=other)
    )
    assert (code, status) == ("AccessDenied", 403)
    assert f"iam:AttachRolePolicy on resource: {role_arn(role)}" in message, message
    assert iam.get_policy(PolicyArn=other)["Policy"]["AttachmentCount"] == 0


# -- role inline policies and DeleteRole --------------------------------------------------


def test_put_get_list_and_delete_role_policy(iam: Any, make_role: Callable[..., str]) -> None:
    # Given a role and two identity policy documents
    name = make_role("inline")
    publish = {"Version": "2012-10-17", "Statement": [allow("sns:Publish", "*")]}
    read = {"Version": "2012-10-17", "Statement": [allow("sns:Get*", "*")]}
    # When both are put
    iam.put_role_policy(RoleName=name, PolicyName="publish", PolicyDocument=json.dumps(publish))
    iam.put_role_policy(RoleName=name, PolicyName="read", PolicyDocument=json.dumps(read))
    # Then GetRolePolicy returns the document and ListRolePolicies names both
    got = iam.get_role_policy(RoleName=name, PolicyName="publish")
    assert (got["RoleName"], got["PolicyName"], got["PolicyDocument"]) == (
        name,
        "publish",
        publish,
    )
    listed = iam.list_role_policies(RoleName=name)
    assert (listed["PolicyNames"], listed["IsTruncated"]) == (["publish", "read"], False)
    # When a policy naming a Principal is put, Then it is refused as for users
    with_principal = policy(allow("sns:Publish", "*", Principal="*"))
    assert failure(
        lambda: iam.put_role_policy(RoleName=name, PolicyName="x", PolicyDocument=with_principal)
    ) == ("MalformedPolicyDocument", 400, "Policy document should not specify a principal.")
    # When one is deleted, Then it is gone, and reading or deleting it again is NoSuchEntity
    iam.delete_role_policy(RoleName=name, PolicyName="publish")
    assert iam.list_role_policies(RoleName=name)["PolicyNames"] == ["read"]
    gone = ("NoSuchEntity", 404, "The role policy with name publish cannot be found.")
    assert failure(lambda: iam.get_role_policy(RoleName=name, PolicyName="publish")) == gone
    assert failure(lambda: iam.delete_role_policy(RoleName=name, PolicyName="publish")) == gone


def test_delete_role_conflicts_while_an_inline_or_attached_policy_remains(
    iam: Any, make_role: Callable[..., str], make_policy: Callable[..., str]
) -> None:
    # Given a role with an inline policy and an attached managed policy
    name = make_role("busy")
    managed = make_policy("busy")
    iam.put_role_policy(RoleName=name, PolicyName="inline", PolicyDocument=SNS_ALL)
    iam.attach_role_policy(RoleName=name, PolicyArn=managed)
    # When it is deleted, Then DeleteConflict (409): the inline policy must go first
    assert failure(lambda: iam.delete_role(RoleName=name)) == (
        "DeleteConflict",
        409,
        "Cannot delete entity, must delete policies first.",
    )
    # When the inline policy is gone, Then DeleteConflict: the managed one must be detached
    iam.delete_role_policy(RoleName=name, PolicyName="inline")
    assert failure(lambda: iam.delete_role(RoleName=name)) == (
        "DeleteConflict",
        409,
        "Cannot delete entity, must detach all policies first.",
    )
    # When that is detached too, Then the role is deleted and can no longer be found
    iam.detach_role_policy(RoleName=name, PolicyArn=managed)
    iam.delete_role(RoleName=name)
    gone = ("NoSuchEntity", 404, f"The role with name {name} cannot be found.")
    assert failure(lambda: iam.get_role(RoleName=name)) == gone
    assert failure(lambda: iam.delete_role(RoleName=name)) == gone
    assert name not in {r["RoleName"] for r in iam.list_roles()["Roles"]}
    # And the policy no longer counts the attachment
    assert iam.get_policy(PolicyArn=managed)["Policy"]["AttachmentCount"] == 0


# -- CreatePolicy / GetPolicy / versions --------------------------------------------------


def test_create_policy_returns_it_with_version_v1_and_get_policy_reads_it(
    iam: Any, unique: Callable[[str], str]
) -> None:
    # Given a name, a path and a document
    name, path = unique("readers"), unique_path(unique)
    text = policy(allow("sns:Get*", "*"))
    # When the policy is created
    created = iam.create_policy(
        PolicyName=name, Path=path, PolicyDocument=text, Description="Read topics"
    )["Policy"]
    # Then it is an attachable ANPA policy at v1, attached to nothing
    assert (created["PolicyName"], created["Path"]) == (name, path)
    assert created["Arn"] == policy_arn(name, path)
    assert POLICY_ID.fullmatch(created["PolicyId"]), created["PolicyId"]
    assert (created["DefaultVersionId"], created["AttachmentCount"]) == ("v1", 0)
    assert created["IsAttachable"] is True
    assert isinstance(created["CreateDate"], datetime)
    # And GetPolicy reads back the same policy
    fetched = iam.get_policy(PolicyArn=created["Arn"])["Policy"]
    fields = ("PolicyName", "PolicyId", "Arn", "Path", "DefaultVersionId", "AttachmentCount")
    assert {k: fetched[k] for k in fields} == {k: created[k] for k in fields}
    assert fetched["Description"] == "Read topics"
    # And its v1 is the document, decoded, and the default version
    version = iam.get_policy_version(PolicyArn=created["Arn"], VersionId="v1")["PolicyVersion"]
    assert (version["VersionId"], version["IsDefaultVersion"]) == ("v1", True)
    assert version["Document"] == document(text)


def test_create_policy_twice_is_entity_already_exists(
    iam: Any, make_policy: Callable[..., str]
) -> None:
    # Given a policy
    arn = make_policy("dup")
    name = arn.rsplit("/", 1)[1]
    # When one of the same name is created again, even at another path, Then 409
    expected = (
        "EntityAlreadyExists",
        409,
        f"A policy called {name} already exists. Duplicate names are not allowed.",
    )
    assert failure(lambda: iam.create_policy(PolicyName=name, PolicyDocument=SNS_ALL)) == expected
    assert (
        failure(lambda: iam.create_policy(PolicyName=name, Path="/other/", PolicyDocument=SNS_ALL))
        == expected
    )


def test_policy_names_differing_only_in_case_collide(
    iam: Any, make_policy: Callable[..., str]
) -> None:
    # Given a policy named in lower case
    name = make_policy("casefold").rsplit("/", 1)[1]
    # When one of the same name in upper case is created, Then EntityAlreadyExists (409):
    # "Names are not distinguished by case" (CreatePolicy, PolicyName)
    code, status, _ = failure(
        lambda: iam.create_policy(PolicyName=name.upper(), PolicyDocument=SNS_ALL)
    )
    assert (code, status) == ("EntityAlreadyExists", 409)


@pytest.mark.parametrize(
    "text",
    ["not json", policy(allow("sns:Publish", "*", Principal="*")), json.dumps({"Version": "x"})],
    ids=["not-json", "principal", "no-statement"],
)
def test_create_policy_refuses_a_malformed_document(
    iam: Any, unique: Callable[[str], str], text: str
) -> None:
    # When a policy is created with a malformed document, Then 400 and nothing is created
    name = unique("malformed")
    code, status, _ = failure(lambda: iam.create_policy(PolicyName=name, PolicyDocument=text))
    assert (code, status) == ("MalformedPolicyDocument", 400)
    assert failure(lambda: iam.get_policy(PolicyArn=policy_arn(name)))[:2] == ("NoSuchEntity", 404)


def test_get_policy_of_an_unknown_arn_is_no_such_entity(
    iam: Any, unique: Callable[[str], str]
) -> None:
    # When an unknown policy is read, Then NoSuchEntity (404)
    arn = policy_arn(unique("nothing"))
    assert failure(lambda: iam.get_policy(PolicyArn=arn)) == (
        "NoSuchEntity",
        404,
        f"Policy {arn} was not found.",
    )


def test_policy_versions_default_switching_listing_and_deleting(
    iam: Any, make_policy: Callable[..., str]
) -> None:
    # Given a policy at v1
    arn = make_policy("versions", text=policy(allow("sns:Publish", "*")))
    v2_text, v3_text = policy(allow("sns:Get*", "*")), policy(allow("sns:List*", "*"))

    def default() -> str:
        return str(iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"])

    # When v2 is created without SetAsDefault, Then v1 stays the default
    v2 = iam.create_policy_version(PolicyArn=arn, PolicyDocument=v2_text, SetAsDefault=False)
    assert (v2["PolicyVersion"]["VersionId"], v2["PolicyVersion"]["IsDefaultVersion"]) == (
        "v2",
        False,
    )
    assert default() == "v1"
    # When v3 is created with SetAsDefault, Then v3 is the default and v1 no longer is
    v3 = iam.create_policy_version(PolicyArn=arn, PolicyDocument=v3_text, SetAsDefault=True)
    assert (v3["PolicyVersion"]["VersionId"], v3["PolicyVersion"]["IsDefaultVersion"]) == (
        "v3",
        True,
    )
    assert default() == "v3"
    v1 = iam.get_policy_version(PolicyArn=arn, VersionId="v1")["PolicyVersion"]
    assert v1["IsDefaultVersion"] is False
    got = iam.get_policy_version(PolicyArn=arn, VersionId="v3")["PolicyVersion"]
    assert (got["Document"], got["IsDefaultVersion"]) == (document(v3_text), True)
    # And ListPolicyVersions lists all three, newest first, with the default marked
    listed = iam.list_policy_versions(PolicyArn=arn)
    assert [(v["VersionId"], v["IsDefaultVersion"]) for v in listed["Versions"]] == [
        ("v3", True),
        ("v2", False),
        ("v1", False),
    ]
    assert listed["IsTruncated"] is False
    # When v2 is made the default, Then it is
    iam.set_default_policy_version(PolicyArn=arn, VersionId="v2")
    assert default() == "v2"
    # When the default version is deleted, Then DeleteConflict (409)
    assert failure(lambda: iam.delete_policy_version(PolicyArn=arn, VersionId="v2")) == (
        "DeleteConflict",
        409,
        "Cannot delete the default version of a policy.",
    )
    # When a non-default version is deleted, Then it is gone
    iam.delete_policy_version(PolicyArn=arn, VersionId="v3")
    listed_ids = [v["VersionId"] for v in iam.list_policy_versions(PolicyArn=arn)["Versions"]]
    assert listed_ids == ["v2", "v1"]
    code, status, _ = failure(lambda: iam.get_policy_version(PolicyArn=arn, VersionId="v3"))
    assert (code, status) == ("NoSuchEntity", 404)
    # And making a version that does not exist the default is NoSuchEntity
    code, status, _ = failure(lambda: iam.set_default_policy_version(PolicyArn=arn, VersionId="v9"))
    assert (code, status) == ("NoSuchEntity", 404)
    assert default() == "v2"


def test_a_sixth_policy_version_is_limit_exceeded(
    iam: Any, make_policy: Callable[..., str]
) -> None:
    # Given a policy with five versions
    arn = make_policy("five")
    for _ in range(4):
        iam.create_policy_version(PolicyArn=arn, PolicyDocument=SNS_ALL)
    # When a sixth is created, Then LimitExceeded (409) and still five
    assert failure(lambda: iam.create_policy_version(PolicyArn=arn, PolicyDocument=SNS_ALL)) == (
        "LimitExceeded",
        409,
        "A managed policy can have up to 5 versions. Before you create a new version, "
        "you must delete an existing version.",
    )
    versions = [v["VersionId"] for v in iam.list_policy_versions(PolicyArn=arn)["Versions"]]
    assert versions == ["v5", "v4", "v3", "v2", "v1"]
    # When one is deleted, Then the next is created, numbered v6 (numbers are not reused)
    iam.delete_policy_version(PolicyArn=arn, VersionId="v2")
    created = iam.create_policy_version(PolicyArn=arn, PolicyDocument=SNS_ALL)["PolicyVersion"]
    assert created["VersionId"] == "v6"


def test_delete_policy_is_refused_while_attached_or_with_other_versions(
    iam: Any, make_policy: Callable[..., str], make_role: Callable[..., str]
) -> None:
    # Given a policy with a second version, attached to a role
    arn = make_policy("deleteme")
    role = make_role("holder")
    iam.create_policy_version(PolicyArn=arn, PolicyDocument=SNS_ALL, SetAsDefault=True)
    iam.attach_role_policy(RoleName=role, PolicyArn=arn)
    # When it is deleted, Then DeleteConflict (409): it is attached
    assert failure(lambda: iam.delete_policy(PolicyArn=arn)) == (
        "DeleteConflict",
        409,
        "Cannot delete a policy attached to entities.",
    )
    # When detached, Then still DeleteConflict: a version besides the default remains
    iam.detach_role_policy(RoleName=role, PolicyArn=arn)
    code, status, message = failure(lambda: iam.delete_policy(PolicyArn=arn))
    assert (code, status) == ("DeleteConflict", 409)
    assert message.startswith("This policy has more than one version."), message
    # When the other version is deleted, Then the policy is deleted with its default
    iam.delete_policy_version(PolicyArn=arn, VersionId="v1")
    iam.delete_policy(PolicyArn=arn)
    gone = ("NoSuchEntity", 404, f"Policy {arn} was not found.")
    assert failure(lambda: iam.get_policy(PolicyArn=arn)) == gone
    assert failure(lambda: iam.delete_policy(PolicyArn=arn)) == gone


def test_list_policies_by_scope_path_prefix_and_only_attached(
    iam: Any,
    make_policy: Callable[..., str],
    make_user: Callable[..., User],
    unique: Callable[[str], str],
) -> None:
    # Given two policies under a fresh path, one attached to a user
    base = unique_path(unique)
    used, idle = make_policy("used", Path=base), make_policy("idle", Path=base)
    user = make_user("lister")
    iam.attach_user_policy(UserName=user.name, PolicyArn=used)

    def arns(**kwargs: Any) -> list[str]:
        listed = iam.list_policies(**kwargs)
        assert listed["IsTruncated"] is False
        return [p["Arn"] for p in listed["Policies"]]

    # When listing the account's (Local) policies under the path, Then both, by name
    assert arns(Scope="Local", PathPrefix=base) == sorted([used, idle])
    assert set(arns(Scope="All", PathPrefix=base)) == {used, idle}
    # When listing only attached ones, Then only the attached one, with its count
    assert arns(Scope="Local", PathPrefix=base, OnlyAttached=True) == [used]
    only = iam.list_policies(Scope="Local", PathPrefix=base, OnlyAttached=True)["Policies"][0]
    assert (only["AttachmentCount"], only["DefaultVersionId"]) == (1, "v1")
    # When listing AWS managed policies, Then none of the account's own
    assert not {used, idle} & set(arns(Scope="AWS"))
    # When the scope is not one of All, AWS, Local, Then ValidationError
    code, status, _ = failure(lambda: iam.list_policies(Scope="Mine"))
    assert (code, status) == ("ValidationError", 400)


# -- attachments -------------------------------------------------------------------------


def test_attach_list_and_detach_for_a_user_a_group_and_a_role(
    iam: Any,
    make_policy: Callable[..., str],
    make_user: Callable[..., User],
    make_role: Callable[..., str],
    unique: Callable[[str], str],
) -> None:
    # Given a policy, a user, a group and a role
    arn = make_policy("shared")
    name = arn.rsplit("/", 1)[1]
    user, role, group = make_user("att").name, make_role("att"), unique("att")
    iam.create_group(GroupName=group)

    def count() -> int:
        return int(iam.get_policy(PolicyArn=arn)["Policy"]["AttachmentCount"])

    # When it is attached to each, Then each lists it and the count grows to 3
    iam.attach_user_policy(UserName=user, PolicyArn=arn)
    assert count() == 1
    iam.attach_group_policy(GroupName=group, PolicyArn=arn)
    iam.attach_role_policy(RoleName=role, PolicyArn=arn)
    assert count() == 3
    expected = [{"PolicyName": name, "PolicyArn": arn}]
    listed = iam.list_attached_user_policies(UserName=user)
    assert (listed["AttachedPolicies"], listed["IsTruncated"]) == (expected, False)
    assert iam.list_attached_group_policies(GroupName=group)["AttachedPolicies"] == expected
    assert iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"] == expected
    # When it is attached to the user again, Then nothing changes
    iam.attach_user_policy(UserName=user, PolicyArn=arn)
    assert count() == 3
    assert attached_names(iam.list_attached_user_policies(UserName=user)) == [name]
    # When it is detached from each, Then the listings are empty and the count back to 0
    iam.detach_user_policy(UserName=user, PolicyArn=arn)
    assert count() == 2
    iam.detach_group_policy(GroupName=group, PolicyArn=arn)
    iam.detach_role_policy(RoleName=role, PolicyArn=arn)
    assert count() == 0
    assert iam.list_attached_user_policies(UserName=user)["AttachedPolicies"] == []
    assert iam.list_attached_group_policies(GroupName=group)["AttachedPolicies"] == []
    assert iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"] == []


def test_list_attached_policies_filters_by_path_prefix(
    iam: Any,
    make_policy: Callable[..., str],
    make_role: Callable[..., str],
    unique: Callable[[str], str],
) -> None:
    # Given a role with one policy under a fresh path and one at /
    base = unique_path(unique)
    deep, top = make_policy("deep", Path=base), make_policy("top")
    role = make_role("prefixed")
    for arn in (deep, top):
        iam.attach_role_policy(RoleName=role, PolicyArn=arn)
    # When its attached policies are listed under the path, Then only that one
    listed = iam.list_attached_role_policies(RoleName=role, PathPrefix=base)
    assert [p["PolicyArn"] for p in listed["AttachedPolicies"]] == [deep]
    assert len(iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]) == 2


def test_detaching_a_policy_that_is_not_attached_is_no_such_entity(
    iam: Any, make_policy: Callable[..., str], make_role: Callable[..., str]
) -> None:
    # Given a policy and a role it is not attached to
    arn, role = make_policy("loose"), make_role("loose")
    # When it is detached, Then NoSuchEntity (404) naming the policy
    code, status, message = failure(lambda: iam.detach_role_policy(RoleName=role, PolicyArn=arn))
    assert (code, status) == ("NoSuchEntity", 404)
    assert arn in message


@pytest.mark.parametrize(
    "arn",
    [
        f"arn:aws:iam::{ACCOUNT}:policy/never-created-policy",
        "arn:aws:iam::aws:policy/AdministratorAccess",
    ],
    ids=["unknown", "aws-managed"],
)
def test_attaching_an_unknown_policy_is_no_such_entity(
    iam: Any, make_user: Callable[..., User], arn: str
) -> None:
    # Given a user
    user = make_user("unknownpol")
    # When a policy that does not exist here is attached, Then NoSuchEntity (404), nothing added
    code, status, message = failure(
        lambda: iam.attach_user_policy(UserName=user.name, PolicyArn=arn)
    )
    assert (code, status) == ("NoSuchEntity", 404)
    assert arn in message
    assert iam.list_attached_user_policies(UserName=user.name)["AttachedPolicies"] == []


def test_attaching_to_an_unknown_holder_is_no_such_entity(
    iam: Any, make_policy: Callable[..., str], unique: Callable[[str], str]
) -> None:
    # Given a policy, When it is attached to a user, group or role that does not exist,
    # Then NoSuchEntity (404) naming the missing entity, and the count stays 0
    arn, name = make_policy("orphan"), unique("nobody")
    assert failure(lambda: iam.attach_user_policy(UserName=name, PolicyArn=arn)) == (
        "NoSuchEntity",
        404,
        f"The user with name {name} cannot be found.",
    )
    assert failure(lambda: iam.attach_role_policy(RoleName=name, PolicyArn=arn)) == (
        "NoSuchEntity",
        404,
        f"The role with name {name} cannot be found.",
    )
    assert failure(lambda: iam.attach_group_policy(GroupName=name, PolicyArn=arn)) == (
        "NoSuchEntity",
        404,
        f"The group with name {name} cannot be found.",
    )
    assert iam.get_policy(PolicyArn=arn)["Policy"]["AttachmentCount"] == 0


@pytest.mark.parametrize("holder", ["User", "Group", "Role"])
def test_an_eleventh_attached_policy_is_limit_exceeded(
    iam: Any,
    make_policy: Callable[..., str],
    make_role: Callable[..., str],
    unique: Callable[[str], str],
    holder: str,
) -> None:
    # Given a user, group or role with ten managed policies attached
    if holder == "User":
        name = unique("ten")
        iam.create_user(UserName=name)
    elif holder == "Group":
        name = unique("ten")
        iam.create_group(GroupName=name)
    else:
        name = make_role("ten")
    attach = getattr(iam, f"attach_{holder.lower()}_policy")
    listing = getattr(iam, f"list_attached_{holder.lower()}_policies")
    for _ in range(10):
        attach(**{f"{holder}Name": name, "PolicyArn": make_policy("many")})
    # When an eleventh is attached, Then LimitExceeded (409) and still ten
    eleventh = make_policy("eleventh")
    assert failure(lambda: attach(**{f"{holder}Name": name, "PolicyArn": eleventh})) == (
        "LimitExceeded",
        409,
        f"Cannot exceed quota for PoliciesPer{holder}: 10",
    )
    assert len(listing(**{f"{holder}Name": name})["AttachedPolicies"]) == 10
    assert iam.get_policy(PolicyArn=eleventh)["Policy"]["AttachmentCount"] == 0


def test_delete_user_and_delete_group_are_refused_while_a_policy_is_attached(
    iam: Any, make_policy: Callable[..., str], unique: Callable[[str], str]
) -> None:
    # Given a user and a group, each with a managed policy attached
    arn, user, group = make_policy("pinned"), unique("pinned"), unique("pinned")
    iam.create_user(UserName=user)
    iam.create_group(GroupName=group)
    iam.attach_user_policy(UserName=user, PolicyArn=arn)
    iam.attach_group_policy(GroupName=group, PolicyArn=arn)
    conflict = ("DeleteConflict", 409, "Cannot delete entity, must detach all policies first.")
    # When either is deleted, Then DeleteConflict (409) and both still exist
    assert failure(lambda: iam.delete_user(UserName=user)) == conflict
    assert failure(lambda: iam.delete_group(GroupName=group)) == conflict
    assert iam.get_user(UserName=user)["User"]["UserName"] == user
    assert iam.get_group(GroupName=group)["Group"]["GroupName"] == group
    # When the policy is detached, Then both can be deleted
    iam.detach_user_policy(UserName=user, PolicyArn=arn)
    iam.detach_group_policy(GroupName=group, PolicyArn=arn)
    iam.delete_user(UserName=user)
    iam.delete_group(GroupName=group)
    assert iam.get_policy(PolicyArn=arn)["Policy"]["AttachmentCount"] == 0


# -- enforcement: managed policies on SNS ---------------------------------------------------


def test_a_managed_policy_attached_to_a_user_applies_at_once_and_follows_its_default_version(
    iam: Any,
    make_user: Callable[..., User],
    make_policy: Callable[..., str],
    unique: Callable[[str], str],
) -> None:
    # Given a user (at a path) with no policy at all
    user = make_user("managed", path=unique_path(unique))
    sns = user.client("sns")
    topic_name = unique("managed-topic")
    assert_sns_refused(user, sns.list_topics, "ListTopics")
    assert_sns_refused(user, lambda: sns.create_topic(Name=topic_name), "CreateTopic")
    # When a managed policy allowing sns:* is attached to it, Then it may act at once
    arn = make_policy("snsall")
    iam.attach_user_policy(UserName=user.name, PolicyArn=arn)
    topic = sns.create_topic(Name=topic_name)["TopicArn"]
    assert topic in {t["TopicArn"] for t in sns.list_topics()["Topics"]}
    # When a new default version denies sns:*, Then it is refused at once
    iam.create_policy_version(PolicyArn=arn, PolicyDocument=SNS_DENY_ALL, SetAsDefault=True)
    assert_sns_refused(user, sns.list_topics, "ListTopics")
    assert_sns_refused(user, lambda: sns.create_topic(Name=topic_name), "CreateTopic")
    # When the allowing v1 is made the default again, Then it is allowed again
    iam.set_default_policy_version(PolicyArn=arn, VersionId="v1")
    assert sns.list_topics()["Topics"]
    # When a non-default version changes, Then nothing changes for the user
    iam.create_policy_version(PolicyArn=arn, PolicyDocument=SNS_DENY_ALL, SetAsDefault=False)
    assert sns.list_topics()["Topics"]
    # When the policy is detached, Then it is refused at once
    iam.detach_user_policy(UserName=user.name, PolicyArn=arn)
    assert_sns_refused(user, sns.list_topics, "ListTopics")


def test_a_managed_policy_attached_to_a_group_grants_its_members(
    iam: Any,
    make_user: Callable[..., User],
    make_policy: Callable[..., str],
    unique: Callable[[str], str],
) -> None:
    # Given a user in a group, neither with any policy
    user = make_user("member", path=unique_path(unique))
    outsider = make_user("outsider")
    group = unique("readers")
    iam.create_group(GroupName=group)
    iam.add_user_to_group(GroupName=group, UserName=user.name)
    sns = user.client("sns")
    assert_sns_refused(user, sns.list_topics, "ListTopics")
    # When a policy allowing sns:ListTopics is attached to the group, Then the member may list
    arn = make_policy("grouppol", text=policy(allow("sns:ListTopics", "*")))
    iam.attach_group_policy(GroupName=group, PolicyArn=arn)
    assert "Topics" in sns.list_topics()
    # And only what the policy allows, and only for members
    assert_sns_refused(user, lambda: sns.create_topic(Name=unique("nope")), "CreateTopic")
    assert_sns_refused(outsider, outsider.client("sns").list_topics, "ListTopics")
    # When the policy is detached from the group, Then the member is refused at once
    iam.detach_group_policy(GroupName=group, PolicyArn=arn)
    assert_sns_refused(user, sns.list_topics, "ListTopics")
    # When it is attached again and the user leaves the group, Then refused at once
    iam.attach_group_policy(GroupName=group, PolicyArn=arn)
    assert "Topics" in sns.list_topics()
    iam.remove_user_from_group(GroupName=group, UserName=user.name)
    assert_sns_refused(user, sns.list_topics, "ListTopics")


def test_a_role_session_has_its_roles_managed_policies(
    server: HeraldProcess,
    iam: Any,
    make_user: Callable[..., User],
    make_policy: Callable[..., str],
    unique: Callable[[str], str],
) -> None:
    # Given a role the user may assume, with no policy of its own
    user = make_user("assumer")
    name = unique("worker")
    arn = iam.create_role(
        RoleName=name,
        AssumeRolePolicyDocument=json.dumps(trust(Principal={"AWS": user.arn})),
    )["Role"]["Arn"]
    iam.put_user_policy(
        UserName=user.name,
        PolicyName="assume",
        PolicyDocument=policy(allow("sts:AssumeRole", arn)),
    )
    credentials = user.client("sts").assume_role(RoleArn=arn, RoleSessionName="s1")["Credentials"]
    session_sns = boto3.client(
        "sns",
        endpoint_url=server.http_url,
        region_name=REGION,
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        config=Config(retries={"total_max_attempts": 1}),
    )
    session = f"arn:aws:sts::{ACCOUNT}:assumed-role/{name}/s1"
    # Then the session may not list topics
    code, status, message = failure(session_sns.list_topics)
    assert (code, status) == ("AuthorizationError", 403)
    assert message.startswith(f"User: {session} is not authorized to perform: SNS:ListTopics")
    # When a policy allowing it is attached to the role, Then the session may, at once
    managed = make_policy("rolepol", text=policy(allow("sns:ListTopics", "*")))
    iam.attach_role_policy(RoleName=name, PolicyArn=managed)
    assert "Topics" in session_sns.list_topics()
    # When it is detached, Then the session is refused at once
    iam.detach_role_policy(RoleName=name, PolicyArn=managed)
    assert failure(session_sns.list_topics)[:2] == ("AuthorizationError", 403)


# -- ListGroups --------------------------------------------------------------------------


def test_list_groups_describes_groups_and_filters_by_path_prefix(
    iam: Any, unique: Callable[[str], str]
) -> None:
    # Given groups under /<base>/x/ and /<base>/y/
    base = unique_path(unique)
    first, second = unique("gx"), unique("gy")
    iam.create_group(GroupName=first, Path=base + "x/")
    created = iam.create_group(GroupName=second, Path=base + "y/")["Group"]
    # When listing by the shared prefix, Then both, by name, each fully described
    listed = iam.list_groups(PathPrefix=base)
    assert listed["IsTruncated"] is False
    assert [g["GroupName"] for g in listed["Groups"]] == sorted([first, second])
    found = next(g for g in listed["Groups"] if g["GroupName"] == second)
    assert (found["Path"], found["Arn"], found["GroupId"]) == (
        base + "y/",
        f"arn:aws:iam::{ACCOUNT}:group{base}y/{second}",
        created["GroupId"],
    )
    assert GROUP_ID.fullmatch(found["GroupId"]), found["GroupId"]
    # When listing by a deeper prefix, Then one; without a prefix, Then both among all
    assert [g["GroupName"] for g in iam.list_groups(PathPrefix=base + "x/")["Groups"]] == [first]
    assert {first, second} <= {g["GroupName"] for g in iam.list_groups()["Groups"]}


# -- pagination --------------------------------------------------------------------------


@pytest.fixture
def five_users(iam: Any, unique: Callable[[str], str]) -> tuple[str, list[str]]:
    """Five users under a fresh path; the path and their names in name order."""
    path = unique_path(unique)
    names = sorted(unique(f"page{i}") for i in range(5))
    for name in names:
        iam.create_user(UserName=name, Path=path)
    return path, names


def follow_markers(call: Callable[..., dict[str, Any]], key: str, **kwargs: Any) -> Iterator[Any]:
    """Every page of ``call`` by hand: yield each page's items, following Marker."""
    marker: str | None = None
    for _ in range(20):
        page = call(**kwargs, **({"Marker": marker} if marker else {}))
        yield page[key]
        if not page["IsTruncated"]:
            assert "Marker" not in page
            return
        marker = page["Marker"]
        assert marker
    raise AssertionError("pagination did not end")


def test_list_users_max_items_truncates_and_markers_walk_every_user_once(
    iam: Any, five_users: tuple[str, list[str]]
) -> None:
    path, names = five_users
    # When the first page of two is asked for, Then two users, IsTruncated and a Marker
    first = iam.list_users(PathPrefix=path, MaxItems=2)
    assert [u["UserName"] for u in first["Users"]] == names[:2]
    assert first["IsTruncated"] is True and first["Marker"]
    # When the markers are followed, Then pages of 2, 2 and 1 hold all five, once each
    pages = list(follow_markers(iam.list_users, "Users", PathPrefix=path, MaxItems=2))
    assert [len(p) for p in pages] == [2, 2, 1]
    assert [u["UserName"] for page in pages for u in page] == names
    # When MaxItems covers them all, Then one untruncated page
    whole = iam.list_users(PathPrefix=path, MaxItems=5)
    assert ([u["UserName"] for u in whole["Users"]], whole["IsTruncated"]) == (names, False)
    assert "Marker" not in whole


def test_the_boto3_paginator_yields_every_user(iam: Any, five_users: tuple[str, list[str]]) -> None:
    path, names = five_users
    # When boto3's paginator lists in pages of two, Then three pages holding all five
    pages = list(
        iam.get_paginator("list_users").paginate(PathPrefix=path, PaginationConfig={"PageSize": 2})
    )
    assert [len(p["Users"]) for p in pages] == [2, 2, 1]
    assert [u["UserName"] for p in pages for u in p["Users"]] == names
    # And with MaxItems 3 it stops after three, offering a token to resume with
    first = (
        iam.get_paginator("list_users")
        .paginate(PathPrefix=path, PaginationConfig={"PageSize": 2, "MaxItems": 3})
        .build_full_result()
    )
    assert [u["UserName"] for u in first["Users"]] == names[:3]
    rest = (
        iam.get_paginator("list_users")
        .paginate(
            PathPrefix=path, PaginationConfig={"PageSize": 2, "StartingToken": first["NextToken"]}
        )
        .build_full_result()
    )
    assert [u["UserName"] for u in rest["Users"]] == names[3:]


@pytest.mark.parametrize(
    ("action", "kwargs"),
    [
        ("list_users", {}),
        ("list_roles", {}),
        ("list_groups", {}),
        ("list_policies", {"Scope": "Local"}),
    ],
)
@pytest.mark.parametrize("max_items", [0, 1001])
def test_max_items_outside_1_to_1000_is_validation_error(
    raw_iam: Any, action: str, kwargs: dict[str, Any], max_items: int
) -> None:
    # When a list is asked for with MaxItems outside 1..1000, Then ValidationError (400)
    code, status, message = failure(lambda: getattr(raw_iam, action)(MaxItems=max_items, **kwargs))
    assert (code, status) == ("ValidationError", 400)
    assert f"Value '{max_items}' at 'maxItems' failed to satisfy constraint" in message


@pytest.mark.parametrize("marker", ["garbage", "not-a-marker", "!!!!", "\u00e9t\u00e9"])
@pytest.mark.parametrize("action", ["list_users", "list_roles", "list_groups"])
def test_a_garbage_marker_is_a_client_error(iam: Any, action: str, marker: str) -> None:
    # When a list is asked to continue from a marker Herald never gave, Then a 400, not a 500
    # and not a silent restart from the beginning
    code, status, _ = failure(lambda: getattr(iam, action)(Marker=marker))
    assert status == 400, (code, status)
    assert code in ("InvalidInput", "ValidationError"), code


def test_list_roles_pages_with_markers_and_the_paginator(
    iam: Any, make_role: Callable[..., str], unique: Callable[[str], str]
) -> None:
    # Given three roles under a fresh path
    path = unique_path(unique)
    names = sorted(make_role("paged", Path=path) for _ in range(3))
    # When the first page of two is asked for, Then truncated with a Marker
    first = iam.list_roles(PathPrefix=path, MaxItems=2)
    assert [r["RoleName"] for r in first["Roles"]] == names[:2]
    assert first["IsTruncated"] is True
    # When the marker is followed, Then the last role, and the listing ends
    rest = iam.list_roles(PathPrefix=path, MaxItems=2, Marker=first["Marker"])
    assert ([r["RoleName"] for r in rest["Roles"]], rest["IsTruncated"]) == (names[2:], False)
    # And the paginator with pages of one yields all three in three pages
    pages = list(
        iam.get_paginator("list_roles").paginate(PathPrefix=path, PaginationConfig={"PageSize": 1})
    )
    assert [r["RoleName"] for p in pages for r in p["Roles"]] == names
    assert len(pages) == 3


def test_list_groups_and_policies_page_with_markers(
    iam: Any, make_policy: Callable[..., str], unique: Callable[[str], str]
) -> None:
    # Given three groups and three policies under a fresh path
    path = unique_path(unique)
    groups = sorted(unique("pg") for _ in range(3))
    for group in groups:
        iam.create_group(GroupName=group, Path=path)
    policies = sorted(make_policy("pp", Path=path).rsplit("/", 1)[1] for _ in range(3))
    # When their markers are followed two at a time, Then each listing yields all, once
    group_pages = list(follow_markers(iam.list_groups, "Groups", PathPrefix=path, MaxItems=2))
    assert [g["GroupName"] for page in group_pages for g in page] == groups
    assert len(group_pages) == 2
    policy_pages = list(
        follow_markers(iam.list_policies, "Policies", Scope="Local", PathPrefix=path, MaxItems=2)
    )
    assert [p["PolicyName"] for page in policy_pages for p in page] == policies
    assert len(policy_pages) == 2


def test_list_policy_versions_pages_newest_first(iam: Any, make_policy: Callable[..., str]) -> None:
    # Given a policy with four versions
    arn = make_policy("vpages")
    for _ in range(3):
        iam.create_policy_version(PolicyArn=arn, PolicyDocument=SNS_ALL)
    # When its versions are listed two at a time, Then v4 v3, then v2 v1
    pages = list(follow_markers(iam.list_policy_versions, "Versions", PolicyArn=arn, MaxItems=2))
    assert [[v["VersionId"] for v in page] for page in pages] == [["v4", "v3"], ["v2", "v1"]]


# -- the AWS CLI -------------------------------------------------------------------------


def test_cli_creates_a_role_and_lists_its_attached_policies(
    aws: Callable[..., Any], iam: Any, make_policy: Callable[..., str], unique: Callable[[str], str]
) -> None:
    def cli(*args: str, check: bool = True) -> Any:
        return aws("iam", *args, check=check)

    # Given a name, a path and a managed policy
    name, path = unique("clirole"), unique_path(unique)
    arn = make_policy("clipol")
    # When the CLI creates the role, Then it is described with its trust policy decoded
    role = cli(
        "create-role",
        "--role-name",
        name,
        "--path",
        path,
        "--assume-role-policy-document",
        json.dumps(TRUST),
        "--description",
        "from the CLI",
        "--max-session-duration",
        "5400",
    )["Role"]
    assert (role["RoleName"], role["Path"], role["Arn"]) == (name, path, role_arn(name, path))
    assert ROLE_ID.fullmatch(role["RoleId"])
    assert role["AssumeRolePolicyDocument"] == TRUST
    assert role["Description"] == "from the CLI"
    assert iam.get_role(RoleName=name)["Role"]["MaxSessionDuration"] == 5400
    # When the CLI attaches a policy, Then list-attached-role-policies shows it
    cli("attach-role-policy", "--role-name", name, "--policy-arn", arn)
    listed = cli("list-attached-role-policies", "--role-name", name)
    assert listed["AttachedPolicies"] == [{"PolicyName": arn.rsplit("/", 1)[1], "PolicyArn": arn}]
    assert iam.get_policy(PolicyArn=arn)["Policy"]["AttachmentCount"] == 1
    # When the CLI deletes the role while the policy is attached, Then DeleteConflict
    done = cli("delete-role", "--role-name", name, check=False)
    assert done.returncode != 0
    assert (
        "An error occurred (DeleteConflict) when calling the DeleteRole operation: "
        "Cannot delete entity, must detach all policies first."
    ) in done.stderr
    # When it detaches and deletes, Then the role is gone
    cli("detach-role-policy", "--role-name", name, "--policy-arn", arn)
    cli("delete-role", "--role-name", name)
    done = cli("get-role", "--role-name", name, check=False)
    assert done.returncode != 0
    assert f"(NoSuchEntity) when calling the GetRole operation: The role with name {name}" in (
        done.stderr
    )


def test_cli_list_users_follows_markers_across_small_pages(
    aws: Callable[..., Any], five_users: tuple[str, list[str]]
) -> None:
    path, names = five_users
    # When the CLI lists in pages of two, Then it follows the markers and prints all five
    listed = aws("iam", "list-users", "--path-prefix", path, "--page-size", "2")
    assert [u["UserName"] for u in listed["Users"]] == names
    # And with --max-items 2 it prints two and a token to continue from
    first = aws("iam", "list-users", "--path-prefix", path, "--max-items", "2")
    assert [u["UserName"] for u in first["Users"]] == names[:2]
    rest = aws("iam", "list-users", "--path-prefix", path, "--starting-token", first["NextToken"])
    assert [u["UserName"] for u in rest["Users"]] == names[2:]
