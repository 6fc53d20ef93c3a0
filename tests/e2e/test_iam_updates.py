"""UpdateUser, UpdateGroup, ListEntitiesForPolicy and GetAccessKeyLastUsed, end to end with
boto3 against a real server (and, for what several nodes must agree on, two nodes sharing
one PostgreSQL database).

Expected names, shapes, codes and statuses are those of botocore's IAM model and AWS's
API reference; renaming follows the IAM User Guide ("Renaming an IAM user", "Renaming an
IAM group"): the unique id, groups, policies, tags and keys follow the entity, policies
that name it as a principal (resource policies, grants) follow it too; identity policies
that name its old ARN as a resource do not.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.e2e.harness import REGION, HeraldProcess, postgres_nodes

ACCOUNT = "000000000000"
Unique = Callable[[str], str]


# -- helpers -----------------------------------------------------------------------------


def _failure(call: Callable[[], object]) -> tuple[str, int, str]:
    """Call; expect a ClientError; return its (code, HTTP status, message)."""
    with pytest.raises(ClientError) as caught:
        call()
    response = caught.value.response
    return (
        response["Error"]["Code"],
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["Error"]["Message"],
    )


def _allow(action: str | list[str], resource: str | list[str] = "*") -> str:
    statement = {"Effect": "Allow", "Action": action, "Resource": resource}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def _signing_as(
    server: HeraldProcess, service: str, key: dict[str, str], region: str = REGION
) -> Any:
    """A boto3 client signing with ``key`` (an AccessKey as CreateAccessKey returns it)."""
    return boto3.client(
        service,
        endpoint_url=server.http_url,
        region_name=region,
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
        aws_session_token=key.get("SessionToken"),
        config=Config(retries={"total_max_attempts": 1}),
    )


def _user_arn(path: str, name: str) -> str:
    return f"arn:aws:iam::{ACCOUNT}:user{path}{name}"


def _until(check: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "not within the time allowed"
        time.sleep(0.02)


# -- UpdateUser --------------------------------------------------------------------------


def test_a_renamed_user_keeps_its_key_groups_policies_and_tags_under_its_new_arn(
    server: HeraldProcess, iam: Any, unique: Unique
) -> None:
    # Given a user with tags, an inline policy, a group (with its own policy), an attached
    # managed policy and a key it has signed with (its principal and policies are cached)
    name, path = unique("ren"), f"/{unique('p')}/"
    iam.create_user(UserName=name, Path=path, Tags=[{"Key": "team", "Value": "blue"}])
    iam.put_user_policy(UserName=name, PolicyName="list", PolicyDocument=_allow("sns:ListTopics"))
    group = unique("ren-group")
    iam.create_group(GroupName=group)
    iam.add_user_to_group(GroupName=group, UserName=name)
    iam.put_group_policy(GroupName=group, PolicyName="get", PolicyDocument=_allow("iam:GetUser"))
    managed = iam.create_policy(
        PolicyName=unique("ren-mp"), PolicyDocument=_allow("sns:CreateTopic")
    )["Policy"]["Arn"]
    iam.attach_user_policy(UserName=name, PolicyArn=managed)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    sts, sns = _signing_as(server, "sts", key), _signing_as(server, "sns", key)
    before = sts.get_caller_identity()
    assert before["Arn"] == _user_arn(path, name)
    sns.list_topics()

    # When it is renamed and moved to another path
    new_name, new_path = unique("renamed"), f"/{unique('q')}/"
    iam.update_user(UserName=name, NewUserName=new_name, NewPath=new_path)

    # Then its old key signs as the new ARN, with the same unique id
    after = sts.get_caller_identity()
    assert (after["Arn"], after["UserId"]) == (_user_arn(new_path, new_name), before["UserId"])
    # And the old name is no user any more
    assert _failure(lambda: iam.get_user(UserName=name)) == (
        "NoSuchEntity",
        404,
        f"The user with name {name} cannot be found.",
    )
    # And everything that was the user's is the renamed user's
    user = iam.get_user(UserName=new_name)["User"]
    assert (user["Path"], user["Arn"], user["UserId"]) == (
        new_path,
        _user_arn(new_path, new_name),
        before["UserId"],
    )
    assert user["Tags"] == [{"Key": "team", "Value": "blue"}]
    assert [g["GroupName"] for g in iam.list_groups_for_user(UserName=new_name)["Groups"]] == [
        group
    ]
    assert [u["UserName"] for u in iam.get_group(GroupName=group)["Users"]] == [new_name]
    assert iam.list_user_policies(UserName=new_name)["PolicyNames"] == ["list"]
    attached = iam.list_attached_user_policies(UserName=new_name)["AttachedPolicies"]
    assert [p["PolicyArn"] for p in attached] == [managed]
    keys = iam.list_access_keys(UserName=new_name)["AccessKeyMetadata"]
    assert [(k["UserName"], k["AccessKeyId"]) for k in keys] == [(new_name, key["AccessKeyId"])]
    used = iam.get_access_key_last_used(AccessKeyId=key["AccessKeyId"])
    assert used["UserName"] == new_name
    # And its policies still apply: inline, managed, and its group's
    sns.list_topics()
    sns.create_topic(Name=unique("ren-topic"))
    assert _signing_as(server, "iam", key).get_user(UserName=new_name)["User"]["UserName"] == (
        new_name
    )


def test_update_user_with_only_a_new_path_moves_the_user(
    server: HeraldProcess, iam: Any, unique: Unique
) -> None:
    # Given a user at the root path that has signed with its key
    name = unique("mover")
    iam.create_user(UserName=name)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    sts = _signing_as(server, "sts", key)
    assert sts.get_caller_identity()["Arn"] == _user_arn("/", name)
    # When only its path changes, Then its ARN does, and its key signs as that ARN
    path = f"/{unique('moved')}/"
    iam.update_user(UserName=name, NewPath=path)
    assert iam.get_user(UserName=name)["User"]["Arn"] == _user_arn(path, name)
    assert sts.get_caller_identity()["Arn"] == _user_arn(path, name)


def test_update_user_refuses_a_taken_name_a_missing_user_and_bad_values(
    iam: Any, unique: Unique
) -> None:
    # Given two users
    first, second = unique("first"), unique("second")
    iam.create_user(UserName=first)
    iam.create_user(UserName=second)
    # When one is renamed onto the other's name (in any case), Then EntityAlreadyExists
    for taken in (second, second.upper()):
        assert _failure(lambda t=taken: iam.update_user(UserName=first, NewUserName=t)) == (
            "EntityAlreadyExists",
            409,
            f"User with name {taken} already exists.",
        )
    # When the user does not exist, Then NoSuchEntity
    missing = unique("missing")
    assert _failure(lambda: iam.update_user(UserName=missing, NewUserName=unique("x"))) == (
        "NoSuchEntity",
        404,
        f"The user with name {missing} cannot be found.",
    )
    # When the new name or path breaks CreateUser's rules, Then ValidationError
    code, status, message = _failure(
        lambda: iam.update_user(UserName=first, NewUserName="has space")
    )
    assert (code, status) == ("ValidationError", 400)
    assert "Value 'has space' at 'newUserName' failed to satisfy constraint" in message
    long = "y" * 65
    assert _failure(lambda: iam.update_user(UserName=first, NewUserName=long)) == (
        "ValidationError",
        400,
        f"1 validation error detected: Value '{long}' at 'newUserName' failed to satisfy "
        "constraint: Member must have length less than or equal to 64",
    )
    code, status, message = _failure(lambda: iam.update_user(UserName=first, NewPath="no-slash"))
    assert (code, status) == ("ValidationError", 400)
    assert "Value 'no-slash' at 'newPath' failed to satisfy constraint" in message
    # And both users are as they were
    assert iam.get_user(UserName=first)["User"]["Arn"] == _user_arn("/", first)
    assert iam.get_user(UserName=second)["User"]["Arn"] == _user_arn("/", second)


def test_resource_policies_and_grants_follow_a_renamed_user(
    server: HeraldProcess, iam: Any, sns: Any, unique: Unique
) -> None:
    # Given a user with no policies of its own, whom a topic's policy lets publish by
    # ARN, a key's policy names, and a grant is for
    name = unique("named")
    arn = iam.create_user(UserName=name)["User"]["Arn"]
    key = iam.create_access_key(UserName=name)["AccessKey"]
    topic = sns.create_topic(Name=unique("named-topic"))["TopicArn"]
    statement = {
        "Effect": "Allow",
        "Principal": {"AWS": [arn, "arn:aws:iam::000000000000:root"]},
        "Action": "sns:Publish",
        "Resource": topic,
    }
    document = json.dumps({"Version": "2012-10-17", "Statement": [statement]})
    sns.set_topic_attributes(TopicArn=topic, AttributeName="Policy", AttributeValue=document)
    kms: Any = server.client("kms")
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    key_statement = {"Effect": "Allow", "Principal": {"AWS": arn}, "Action": "kms:Encrypt"}
    key_policy = json.loads(kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"])
    key_policy["Statement"].append({**key_statement, "Resource": "*"})
    kms.put_key_policy(KeyId=key_id, PolicyName="default", Policy=json.dumps(key_policy))
    kms.create_grant(KeyId=key_id, GranteePrincipal=arn, Operations=["Decrypt"])
    publisher = _signing_as(server, "sns", key)
    publisher.publish(TopicArn=topic, Message="before")
    # When the user is renamed
    new_name = unique("renamed")
    new_arn = _user_arn("/", new_name)
    iam.update_user(UserName=name, NewUserName=new_name)
    # Then the topic's policy names it by its new ARN, and it still may publish
    publisher.publish(TopicArn=topic, Message="after")
    attributes = sns.get_topic_attributes(TopicArn=topic)["Attributes"]
    principal = json.loads(attributes["Policy"])["Statement"][0]["Principal"]["AWS"]
    assert principal == [new_arn, "arn:aws:iam::000000000000:root"]
    # And so do the key's policy and the grant
    key_policy = json.loads(kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"])
    assert key_policy["Statement"][-1]["Principal"]["AWS"] == new_arn
    (grant,) = kms.list_grants(KeyId=key_id)["Grants"]
    assert grant["GranteePrincipal"] == new_arn
    # And a new user given the old name gains nothing the policy gave the renamed one
    iam.create_user(UserName=name)
    impostor = _signing_as(server, "sns", iam.create_access_key(UserName=name)["AccessKey"])
    code, status, _ = _failure(lambda: impostor.publish(TopicArn=topic, Message="mine"))
    assert (code, status) == ("AuthorizationError", 403)


def test_update_user_needs_the_action_on_the_old_and_the_new_arn(
    server: HeraldProcess, iam: Any, unique: Unique
) -> None:
    # Given an administrator allowed iam:UpdateUser on one user's ARN only
    old, new = unique("old"), unique("new")
    iam.create_user(UserName=old)
    admin = unique("admin")
    iam.create_user(UserName=admin)
    iam.put_user_policy(
        UserName=admin, PolicyName="p", PolicyDocument=_allow("iam:UpdateUser", _user_arn("/", old))
    )
    client = _signing_as(server, "iam", iam.create_access_key(UserName=admin)["AccessKey"])
    # When it renames that user, Then it is refused on the new ARN
    code, status, message = _failure(lambda: client.update_user(UserName=old, NewUserName=new))
    assert (code, status) == ("AccessDenied", 403)
    assert f"iam:UpdateUser on resource: {_user_arn('/', new)}" in message
    assert iam.get_user(UserName=old)["User"]["UserName"] == old
    # When it is allowed both ARNs, Then the rename is made
    both = _allow("iam:UpdateUser", [_user_arn("/", old), _user_arn("/", new)])
    iam.put_user_policy(UserName=admin, PolicyName="p", PolicyDocument=both)
    client.update_user(UserName=old, NewUserName=new)
    assert iam.get_user(UserName=new)["User"]["Arn"] == _user_arn("/", new)


# -- UpdateGroup -------------------------------------------------------------------------


def test_a_renamed_group_keeps_its_members_and_policies(
    server: HeraldProcess, iam: Any, unique: Unique
) -> None:
    # Given a group with a member, an inline policy and an attached managed policy, whose
    # member has signed (its policies, which come through the group, are cached)
    group, path = unique("grp"), f"/{unique('gp')}/"
    created = iam.create_group(GroupName=group, Path=path)["Group"]
    member = unique("member")
    iam.create_user(UserName=member)
    iam.add_user_to_group(GroupName=group, UserName=member)
    iam.put_group_policy(
        GroupName=group, PolicyName="list", PolicyDocument=_allow("sns:ListTopics")
    )
    managed = iam.create_policy(
        PolicyName=unique("grp-mp"), PolicyDocument=_allow("sns:CreateTopic")
    )["Policy"]["Arn"]
    iam.attach_group_policy(GroupName=group, PolicyArn=managed)
    sns = _signing_as(server, "sns", iam.create_access_key(UserName=member)["AccessKey"])
    sns.list_topics()
    # When the group is renamed and moved
    new_group, new_path = unique("grp-renamed"), f"/{unique('gq')}/"
    iam.update_group(GroupName=group, NewGroupName=new_group, NewPath=new_path)
    # Then the old name is no group, and the new one is the same group with its member
    assert _failure(lambda: iam.get_group(GroupName=group)) == (
        "NoSuchEntity",
        404,
        f"The group with name {group} cannot be found.",
    )
    got = iam.get_group(GroupName=new_group)
    assert (got["Group"]["Path"], got["Group"]["Arn"], got["Group"]["GroupId"]) == (
        new_path,
        f"arn:aws:iam::{ACCOUNT}:group{new_path}{new_group}",
        created["GroupId"],
    )
    assert [u["UserName"] for u in got["Users"]] == [member]
    groups = iam.list_groups_for_user(UserName=member)["Groups"]
    assert [g["GroupName"] for g in groups] == [new_group]
    # And its policies followed it, and still apply to its member
    assert iam.list_group_policies(GroupName=new_group)["PolicyNames"] == ["list"]
    attached = iam.list_attached_group_policies(GroupName=new_group)["AttachedPolicies"]
    assert [p["PolicyArn"] for p in attached] == [managed]
    entities = iam.list_entities_for_policy(PolicyArn=managed)["PolicyGroups"]
    assert entities == [{"GroupName": new_group, "GroupId": created["GroupId"]}]
    sns.list_topics()
    sns.create_topic(Name=unique("grp-topic"))


def test_update_group_refuses_a_taken_name_a_missing_group_and_bad_values(
    iam: Any, unique: Unique
) -> None:
    first, second = unique("gfirst"), unique("gsecond")
    iam.create_group(GroupName=first)
    iam.create_group(GroupName=second)
    assert _failure(lambda: iam.update_group(GroupName=first, NewGroupName=second.upper())) == (
        "EntityAlreadyExists",
        409,
        f"Group with name {second.upper()} already exists.",
    )
    missing = unique("gmissing")
    assert _failure(lambda: iam.update_group(GroupName=missing, NewGroupName=unique("x"))) == (
        "NoSuchEntity",
        404,
        f"The group with name {missing} cannot be found.",
    )
    code, status, message = _failure(
        lambda: iam.update_group(GroupName=first, NewGroupName="bad/name")
    )
    assert (code, status) == ("ValidationError", 400)
    assert "Value 'bad/name' at 'newGroupName' failed to satisfy constraint" in message
    code, status, message = _failure(lambda: iam.update_group(GroupName=first, NewPath="/x"))
    assert (code, status) == ("ValidationError", 400)
    assert "at 'newPath'" in message
    assert iam.get_group(GroupName=first)["Group"]["GroupName"] == first


# -- ListEntitiesForPolicy ---------------------------------------------------------------


@pytest.fixture
def attached(iam: Any, unique: Unique) -> dict[str, Any]:
    """A managed policy attached to two users (one at its own path), two groups and two
    roles, and another policy attached to one of those users only."""
    policy = iam.create_policy(PolicyName=unique("lep"), PolicyDocument=_allow("sns:ListTopics"))
    other = iam.create_policy(PolicyName=unique("lep"), PolicyDocument=_allow("sns:ListTopics"))
    arn, path = policy["Policy"]["Arn"], f"/{unique('lep')}/"
    trust = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
    )
    users, groups, roles = [], [], []
    for n in range(2):
        user = iam.create_user(UserName=unique(f"u{n}"), Path=path if n else "/")["User"]
        iam.attach_user_policy(UserName=user["UserName"], PolicyArn=arn)
        users.append({"UserName": user["UserName"], "UserId": user["UserId"]})
        group = iam.create_group(GroupName=unique(f"g{n}"))["Group"]
        iam.attach_group_policy(GroupName=group["GroupName"], PolicyArn=arn)
        groups.append({"GroupName": group["GroupName"], "GroupId": group["GroupId"]})
        role = iam.create_role(RoleName=unique(f"r{n}"), AssumeRolePolicyDocument=trust)["Role"]
        iam.attach_role_policy(RoleName=role["RoleName"], PolicyArn=arn)
        roles.append({"RoleName": role["RoleName"], "RoleId": role["RoleId"]})
    iam.attach_user_policy(UserName=users[0]["UserName"], PolicyArn=other["Policy"]["Arn"])
    return {
        "arn": arn,
        "path": path,
        "under_path": users[1],
        "users": sorted(users, key=lambda u: u["UserName"]),
        "groups": sorted(groups, key=lambda g: g["GroupName"]),
        "roles": sorted(roles, key=lambda r: r["RoleName"]),
    }


def _lists(answer: dict[str, Any]) -> tuple[Any, Any, Any]:
    return answer["PolicyUsers"], answer["PolicyGroups"], answer["PolicyRoles"]


def test_list_entities_for_policy_lists_users_groups_and_roles_by_filter(
    iam: Any, attached: dict[str, Any]
) -> None:
    arn = attached["arn"]
    users, groups, roles = attached["users"], attached["groups"], attached["roles"]
    # When every entity is asked for, Then each list holds its kind, by name
    everything = iam.list_entities_for_policy(PolicyArn=arn)
    assert _lists(everything) == (users, groups, roles)
    assert everything["IsTruncated"] is False
    # When one kind is asked for, Then the other lists are empty
    assert _lists(iam.list_entities_for_policy(PolicyArn=arn, EntityFilter="User")) == (
        users,
        [],
        [],
    )
    assert _lists(iam.list_entities_for_policy(PolicyArn=arn, EntityFilter="Group")) == (
        [],
        groups,
        [],
    )
    assert _lists(iam.list_entities_for_policy(PolicyArn=arn, EntityFilter="Role")) == (
        [],
        [],
        roles,
    )
    for kind in ("LocalManagedPolicy", "AWSManagedPolicy"):
        assert _lists(iam.list_entities_for_policy(PolicyArn=arn, EntityFilter=kind)) == (
            [],
            [],
            [],
        )
    # When a path prefix is given, Then only the entities under it
    under = iam.list_entities_for_policy(PolicyArn=arn, PathPrefix=attached["path"])
    assert _lists(under) == ([attached["under_path"]], [], [])
    # When the usage filter asks for permissions policies, Then all; boundaries, none
    permissions = iam.list_entities_for_policy(PolicyArn=arn, PolicyUsageFilter="PermissionsPolicy")
    assert _lists(permissions) == (users, groups, roles)
    boundaries = iam.list_entities_for_policy(
        PolicyArn=arn, PolicyUsageFilter="PermissionsBoundary"
    )
    assert _lists(boundaries) == ([], [], [])
    # When an entity is detached, Then it is no longer listed
    iam.detach_role_policy(RoleName=roles[0]["RoleName"], PolicyArn=arn)
    assert _lists(iam.list_entities_for_policy(PolicyArn=arn))[2] == roles[1:]


def test_list_entities_for_policy_pages_across_the_three_lists(
    iam: Any, attached: dict[str, Any]
) -> None:
    arn = attached["arn"]
    # When one entity is asked for, Then the answer is truncated with a Marker
    first = iam.list_entities_for_policy(PolicyArn=arn, MaxItems=1)
    assert first["IsTruncated"] is True and first["Marker"]
    assert sum(len(x) for x in _lists(first)) == 1
    # When the SDK's paginator pages two at a time, Then the pages add up to everything
    pages = iam.get_paginator("list_entities_for_policy").paginate(
        PolicyArn=arn, PaginationConfig={"PageSize": 2}
    )
    listed = [_lists(page) for page in pages]
    assert [sum(len(x) for x in page) for page in listed] == [2, 2, 2]
    users, groups, roles = ([e for page in listed for e in page[i]] for i in range(3))
    assert (users, groups, roles) == (attached["users"], attached["groups"], attached["roles"])


def test_list_entities_for_policy_errors(iam: Any, unique: Unique) -> None:
    # When the policy does not exist, Then NoSuchEntity
    missing = f"arn:aws:iam::{ACCOUNT}:policy/{unique('missing')}"
    assert _failure(lambda: iam.list_entities_for_policy(PolicyArn=missing)) == (
        "NoSuchEntity",
        404,
        f"Policy {missing} was not found.",
    )
    # When the ARN is not an ARN, Then InvalidInput
    assert _failure(lambda: iam.list_entities_for_policy(PolicyArn="longpolicynamebutnoarn")) == (
        "InvalidInput",
        400,
        "Invalid ARN:  Could not be parsed!",
    )
    # When a filter is outside its enum, Then ValidationError naming the values
    policy = iam.create_policy(PolicyName=unique("lep"), PolicyDocument=_allow("sns:ListTopics"))
    arn = policy["Policy"]["Arn"]
    assert _failure(lambda: iam.list_entities_for_policy(PolicyArn=arn, EntityFilter="Users")) == (
        "ValidationError",
        400,
        "1 validation error detected: Value 'Users' at 'entityFilter' failed to satisfy "
        "constraint: Member must satisfy enum value set: [User, Role, Group, "
        "LocalManagedPolicy, AWSManagedPolicy]",
    )
    code, status, _ = _failure(
        lambda: iam.list_entities_for_policy(PolicyArn=arn, PolicyUsageFilter="Boundary")
    )
    assert (code, status) == ("ValidationError", 400)
    # And a policy attached to nothing lists nothing
    assert _lists(iam.list_entities_for_policy(PolicyArn=arn)) == ([], [], [])


# -- GetAccessKeyLastUsed ----------------------------------------------------------------


def test_get_access_key_last_used_before_and_after_the_key_is_used(
    server: HeraldProcess, iam: Any, unique: Unique
) -> None:
    # Given a user's key that has never signed a request
    name = unique("lastused")
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=_allow("sns:ListTopics"))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    key_id = key["AccessKeyId"]
    # Then AWS's never-used answer: N/A and no date
    never = iam.get_access_key_last_used(AccessKeyId=key_id)
    assert never["UserName"] == name
    assert never["AccessKeyLastUsed"] == {"ServiceName": "N/A", "Region": "N/A"}
    # When the key signs an SNS request in another region
    start = datetime.now().astimezone()
    _signing_as(server, "sns", key, region="eu-west-2").list_topics()

    # Then (the write is off the request's path) the use is recorded: service, region, time
    def recorded() -> dict[str, Any]:
        return dict(iam.get_access_key_last_used(AccessKeyId=key_id)["AccessKeyLastUsed"])

    _until(lambda: recorded()["ServiceName"] != "N/A")
    used = recorded()
    assert (used["ServiceName"], used["Region"]) == ("sns", "eu-west-2")
    assert abs((used["LastUsedDate"] - start).total_seconds()) < 5


def test_get_access_key_last_used_knows_only_iam_users_keys(
    server: HeraldProcess, iam: Any, unique: Unique
) -> None:
    # Given a user with a key, and temporary credentials of that user
    name = unique("keyed")
    iam.create_user(UserName=name)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    session = _signing_as(server, "sts", key).get_session_token()["Credentials"]
    # When asked about an unknown key or a session's key, Then NoSuchEntity
    for key_id in ("AKIA" + uuid.uuid4().hex[:16].upper(), session["AccessKeyId"]):
        assert _failure(lambda k=key_id: iam.get_access_key_last_used(AccessKeyId=k)) == (
            "NoSuchEntity",
            404,
            f"The Access Key with id {key_id} cannot be found.",
        )
    # When the user, with no policy, asks about its own key, Then AccessDenied
    own = _signing_as(server, "iam", key)
    code, status, message = _failure(
        lambda: own.get_access_key_last_used(AccessKeyId=key["AccessKeyId"])
    )
    assert (code, status) == ("AccessDenied", 403)
    assert "iam:GetAccessKeyLastUsed" in message


# -- several nodes -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[HeraldProcess, ...]]:
    """Two nodes: one PostgreSQL database, one root key and root credentials."""
    with postgres_nodes(tmp_path_factory.mktemp("iam-nodes")) as (a, b):
        yield a, b


def test_a_rename_through_one_node_reaches_the_other_nodes_cached_principal(
    nodes: tuple[HeraldProcess, HeraldProcess],
) -> None:
    a, b = nodes
    iam: Any = a.client("iam")
    # Given a user whose key node B has verified (B caches its principal for 30 s)
    name = f"nodes-{uuid.uuid4().hex[:8]}"
    iam.create_user(UserName=name)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    on_b = _signing_as(b, "sts", key)
    _until(lambda: _caller(on_b) == _user_arn("/", name))
    # When the user is renamed through node A
    new_name = f"renamed-{uuid.uuid4().hex[:8]}"
    iam.update_user(UserName=name, NewUserName=new_name)
    # Then node B signs the key as the new ARN within a second
    _until(lambda: _caller(on_b) == _user_arn("/", new_name), timeout=1.0)
    # And the use B recorded is what A reads
    _until(
        lambda: (
            iam.get_access_key_last_used(AccessKeyId=key["AccessKeyId"])["AccessKeyLastUsed"][
                "ServiceName"
            ]
            == "sts"
        )
    )


def _caller(sts: Any) -> str | None:
    try:
        return str(sts.get_caller_identity()["Arn"])
    except ClientError:
        return None  # the key is not yet known to that node
