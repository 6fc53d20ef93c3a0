"""IAM users, access keys and user inline policies, STS GetCallerIdentity for a user, and
identity policies enforced on SNS and IAM, end to end with boto3 and the AWS CLI.

Expected codes, statuses and messages are AWS's documented answers (IAM 2010-05-08, the IAM
quotas page, the SNS and IAM authorization messages); where AWS's wording varies, the test
checks the code and status and that the message names the problem.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.e2e.harness import REGION, HeraldProcess

ACCOUNT = "000000000000"
USER_ID = re.compile(r"^AIDA[A-Z0-9]{16,}$")
ACCESS_KEY_ID = re.compile(r"^AKIA[A-Z0-9]{16}$")
INVALID_TOKEN = "The security token included in the request is invalid."
INLINE_LIMIT = 2048


# -- helpers -----------------------------------------------------------------------------


@dataclass(frozen=True)
class User:
    """An IAM user of account 000000000000 with one access key, and clients signing as it."""

    server: HeraldProcess
    name: str
    arn: str
    key_id: str
    secret: str

    def client(self, service: str, tls: bool = False) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.server.https_url if tls else self.server.http_url,
            verify=self.server.ca_bundle if tls else None,
            region_name=REGION,
            aws_access_key_id=self.key_id,
            aws_secret_access_key=self.secret,
            config=Config(retries={"total_max_attempts": 1}),
        )


def failure(call: Callable[[], object]) -> tuple[str, int, str]:
    """Call; expect a ClientError; return its (code, HTTP status, message)."""
    with pytest.raises(ClientError) as caught:
        call()
    response = caught.value.response
    return (
        response["Error"]["Code"],
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["Error"]["Message"],
    )


def policy(*statements: dict[str, Any], version: str = "2012-10-17") -> str:
    return json.dumps({"Version": version, "Statement": list(statements)})


def allow(action: str | list[str], resource: str | list[str], **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action: str | list[str], resource: str | list[str]) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource}


def sns_refusal(user: User, action: str, resource: str) -> re.Pattern[str]:
    """AWS's AuthorizationError message: the caller, the action, the resource, and (in newer
    answers) the reason after "because" or "with"."""
    return re.compile(
        rf"User: {re.escape(user.arn)} is not authorized to perform: SNS:{action} "
        rf"on resource: {re.escape(resource)}( (because|with) .+)?"
    )


def assert_refused_publish(user: User, sns: Any, topic: str) -> None:
    code, status, message = failure(lambda: sns.publish(TopicArn=topic, Message="no"))
    assert (code, status) == ("AuthorizationError", 403)
    assert sns_refusal(user, "Publish", topic).fullmatch(message), message


def unique_path(unique: Callable[[str], str]) -> str:
    return "/" + unique("path") + "/"


@pytest.fixture
def make_user(server: HeraldProcess, iam: Any, unique: Callable[[str], str]) -> Callable[..., User]:
    """Create an IAM user with one access key, optionally with inline policies."""

    def make(prefix: str = "user", **policies: str) -> User:
        name = unique(prefix)
        arn = iam.create_user(UserName=name)["User"]["Arn"]
        key = iam.create_access_key(UserName=name)["AccessKey"]
        for policy_name, document in policies.items():
            iam.put_user_policy(UserName=name, PolicyName=policy_name, PolicyDocument=document)
        return User(server, name, arn, key["AccessKeyId"], key["SecretAccessKey"])

    return make


@pytest.fixture
def new_topic(sns: Any, unique: Callable[[str], str]) -> Callable[[str], str]:
    """Create a standard topic named ``unique(prefix)``; return its ARN."""

    def make(prefix: str) -> str:
        return str(sns.create_topic(Name=unique(prefix))["TopicArn"])

    return make


# -- CreateUser --------------------------------------------------------------------------


def test_create_user_returns_it_with_its_path_tags_and_a_user_id(
    iam: Any, unique: Callable[[str], str]
) -> None:
    # Given a name, a path and tags
    name, path = unique("carol"), unique_path(unique) + "eng/"
    tags = [{"Key": "team", "Value": "platform"}, {"Key": "cost-centre", "Value": "42"}]
    # When the user is created
    created = iam.create_user(UserName=name, Path=path, Tags=tags)["User"]
    # Then the answer describes it, with the path in its ARN and an AIDA user id
    assert created["UserName"] == name
    assert created["Path"] == path
    assert created["Arn"] == f"arn:aws:iam::{ACCOUNT}:user{path}{name}"
    assert USER_ID.fullmatch(created["UserId"]), created["UserId"]
    assert isinstance(created["CreateDate"], datetime)
    assert sorted(created["Tags"], key=lambda t: t["Key"]) == sorted(tags, key=lambda t: t["Key"])
    # And GetUser reads back the same user
    fetched = iam.get_user(UserName=name)["User"]
    assert {k: fetched[k] for k in ("UserName", "Path", "Arn", "UserId")} == {
        k: created[k] for k in ("UserName", "Path", "Arn", "UserId")
    }


def test_create_user_without_a_path_puts_it_at_the_root_path(
    iam: Any, unique: Callable[[str], str]
) -> None:
    # When a user is created with no path, Then its path is / and it has no tags
    name = unique("dave")
    user = iam.create_user(UserName=name)["User"]
    assert (user["Path"], user["Arn"]) == ("/", f"arn:aws:iam::{ACCOUNT}:user/{name}")
    assert "Tags" not in user


def test_create_user_twice_is_entity_already_exists(iam: Any, unique: Callable[[str], str]) -> None:
    # Given a user
    name = unique("erin")
    iam.create_user(UserName=name)
    # When a user of the same name is created again, Then IAM refuses with 409
    assert failure(lambda: iam.create_user(UserName=name)) == (
        "EntityAlreadyExists",
        409,
        f"User with name {name} already exists.",
    )


@pytest.mark.parametrize(
    "name",
    ["has space", "slash/name", "star*", "colon:name", "x" * 65],
    ids=["space", "slash", "star", "colon", "65-chars"],
)
def test_create_user_refuses_a_bad_name_with_validation_error(iam: Any, name: str) -> None:
    # When a user is created with a name outside [\w+=,.@-]{1,64}, Then ValidationError (400)
    code, status, message = failure(lambda: iam.create_user(UserName=name))
    assert (code, status) == ("ValidationError", 400)
    assert f"Value '{name}' at 'userName' failed to satisfy constraint" in message


def test_create_user_name_over_64_characters_names_the_length_constraint(iam: Any) -> None:
    # When a name of allowed characters is one too long, Then the length constraint is named
    name = "y" * 65
    assert failure(lambda: iam.create_user(UserName=name)) == (
        "ValidationError",
        400,
        f"1 validation error detected: Value '{name}' at 'userName' failed to satisfy "
        "constraint: Member must have length less than or equal to 64",
    )


@pytest.mark.parametrize("path", ["no-leading-slash/", "/no-trailing-slash", "/two//bad\x7f/"])
def test_create_user_refuses_a_bad_path_with_validation_error(
    iam: Any, unique: Callable[[str], str], path: str
) -> None:
    # When a user is created with a path not of the form /.../, Then ValidationError (400)
    code, status, message = failure(lambda: iam.create_user(UserName=unique("u"), Path=path))
    assert (code, status) == ("ValidationError", 400)
    assert "at 'path' failed to satisfy constraint" in message


# -- GetUser -----------------------------------------------------------------------------


def test_get_user_of_an_unknown_name_is_no_such_entity(
    iam: Any, unique: Callable[[str], str]
) -> None:
    # When a name no user has is read, Then NoSuchEntity (404)
    name = unique("nobody")
    assert failure(lambda: iam.get_user(UserName=name)) == (
        "NoSuchEntity",
        404,
        f"The user with name {name} cannot be found.",
    )


def test_get_user_without_a_name_as_root_describes_the_root(iam: Any) -> None:
    # When the account root asks for its own user, Then it is the root: account id, root ARN
    user = iam.get_user()["User"]
    assert (user["UserId"], user["Arn"]) == (ACCOUNT, f"arn:aws:iam::{ACCOUNT}:root")
    assert "UserName" not in user


def test_get_user_without_a_name_describes_the_calling_user(
    make_user: Callable[..., User],
) -> None:
    # Given a user allowed to read only its own user
    own = allow("iam:GetUser", f"arn:aws:iam::{ACCOUNT}:user/${{aws:username}}")
    user = make_user("self", self=policy(own))
    # When it asks GetUser with no name, Then it gets its own user
    described = user.client("iam").get_user()["User"]
    assert (described["UserName"], described["Arn"]) == (user.name, user.arn)
    assert USER_ID.fullmatch(described["UserId"])


# -- ListUsers ---------------------------------------------------------------------------


def test_list_users_filters_by_path_prefix(iam: Any, unique: Callable[[str], str]) -> None:
    # Given users under /<prefix>/eng/, /<prefix>/ops/ and one at /
    base = unique_path(unique)
    eng, ops, top = unique("eng"), unique("ops"), unique("top")
    iam.create_user(UserName=eng, Path=base + "eng/")
    iam.create_user(UserName=ops, Path=base + "ops/")
    iam.create_user(UserName=top)

    def names(prefix: str | None = None) -> set[str]:
        kwargs = {"PathPrefix": prefix} if prefix else {}
        return {u["UserName"] for u in iam.list_users(**kwargs)["Users"]}

    # When listing by the shared prefix, Then both users under it, not the one at /
    assert names(base) == {eng, ops}
    # When listing by a deeper prefix, Then only that user
    assert names(base + "eng/") == {eng}
    listed = iam.list_users(PathPrefix=base + "eng/")
    assert listed["IsTruncated"] is False
    assert listed["Users"][0]["Arn"] == f"arn:aws:iam::{ACCOUNT}:user{base}eng/{eng}"
    # When listing without a prefix, Then all three are there
    assert {eng, ops, top} <= names()


# -- DeleteUser --------------------------------------------------------------------------


def test_delete_user_conflicts_while_keys_or_policies_remain(
    iam: Any, unique: Callable[[str], str]
) -> None:
    # Given a user with an access key and an inline policy
    name = unique("frank")
    iam.create_user(UserName=name)
    key = iam.create_access_key(UserName=name)["AccessKey"]["AccessKeyId"]
    iam.put_user_policy(
        UserName=name, PolicyName="p", PolicyDocument=policy(allow("sns:ListTopics", "*"))
    )
    # When it is deleted, Then DeleteConflict: the key must go first
    assert failure(lambda: iam.delete_user(UserName=name)) == (
        "DeleteConflict",
        409,
        "Cannot delete entity, must delete access keys first.",
    )
    # When the key is gone, Then DeleteConflict: the policy must go first
    iam.delete_access_key(UserName=name, AccessKeyId=key)
    assert failure(lambda: iam.delete_user(UserName=name)) == (
        "DeleteConflict",
        409,
        "Cannot delete entity, must delete policies first.",
    )
    # When the policy is gone too, Then the user is deleted
    iam.delete_user_policy(UserName=name, PolicyName="p")
    iam.delete_user(UserName=name)
    # And afterwards it cannot be found, read or deleted again
    gone = ("NoSuchEntity", 404, f"The user with name {name} cannot be found.")
    assert failure(lambda: iam.get_user(UserName=name)) == gone
    assert failure(lambda: iam.delete_user(UserName=name)) == gone
    assert name not in {u["UserName"] for u in iam.list_users()["Users"]}


def test_a_deleted_user_name_can_be_created_again(iam: Any, unique: Callable[[str], str]) -> None:
    # Given a user that was deleted
    name = unique("gina")
    first = iam.create_user(UserName=name)["User"]["UserId"]
    iam.delete_user(UserName=name)
    # When the name is used again, Then it is a new user with a new id
    second = iam.create_user(UserName=name)["User"]["UserId"]
    assert first != second


# -- TagUser / UntagUser -----------------------------------------------------------------


def test_tag_user_adds_and_overwrites_and_untag_user_removes(
    iam: Any, unique: Callable[[str], str]
) -> None:
    # Given a user tagged team=a
    name = unique("hank")
    iam.create_user(UserName=name, Tags=[{"Key": "team", "Value": "a"}])

    def tags() -> dict[str, str]:
        return {t["Key"]: t["Value"] for t in iam.get_user(UserName=name)["User"].get("Tags", [])}

    # When tagged team=b and env=prod, Then team is overwritten and env added
    iam.tag_user(UserName=name, Tags=[{"Key": "team", "Value": "b"}, {"Key": "env", "Value": "p"}])
    assert tags() == {"team": "b", "env": "p"}
    # When team and a key it never had are untagged, Then only env remains
    iam.untag_user(UserName=name, TagKeys=["team", "never-set"])
    assert tags() == {"env": "p"}
    # When the last tag is removed, Then the user has none
    iam.untag_user(UserName=name, TagKeys=["env"])
    assert tags() == {}


def test_tag_user_of_an_unknown_user_is_no_such_entity(
    iam: Any, unique: Callable[[str], str]
) -> None:
    # When an unknown user is tagged or untagged, Then NoSuchEntity (404)
    name = unique("ghost")
    tags = [{"Key": "k", "Value": "v"}]
    assert failure(lambda: iam.tag_user(UserName=name, Tags=tags))[:2] == ("NoSuchEntity", 404)
    assert failure(lambda: iam.untag_user(UserName=name, TagKeys=["k"]))[:2] == (
        "NoSuchEntity",
        404,
    )


# -- access keys -------------------------------------------------------------------------


def test_create_access_key_shows_the_secret_once_and_the_key_signs_requests(
    server: HeraldProcess, iam: Any, unique: Callable[[str], str]
) -> None:
    # Given a user
    name = unique("ivan")
    user_id = iam.create_user(UserName=name)["User"]["UserId"]
    # When a key is created, Then it is active, AKIA-prefixed, with a 40-character secret
    key = iam.create_access_key(UserName=name)["AccessKey"]
    assert (key["UserName"], key["Status"]) == (name, "Active")
    assert ACCESS_KEY_ID.fullmatch(key["AccessKeyId"]), key["AccessKeyId"]
    assert len(key["SecretAccessKey"]) == 40
    assert isinstance(key["CreateDate"], datetime)
    # And ListAccessKeys shows it without its secret
    listed = iam.list_access_keys(UserName=name)
    assert listed["AccessKeyMetadata"] == [
        {
            "UserName": name,
            "AccessKeyId": key["AccessKeyId"],
            "Status": "Active",
            "CreateDate": key["CreateDate"],
        }
    ]
    assert listed["IsTruncated"] is False
    # And the key signs requests as the user (STS GetCallerIdentity needs no permission)
    arn = f"arn:aws:iam::{ACCOUNT}:user/{name}"
    user = User(server, name, arn, key["AccessKeyId"], key["SecretAccessKey"])
    identity = user.client("sts").get_caller_identity()
    assert (identity["Account"], identity["Arn"], identity["UserId"]) == (ACCOUNT, arn, user_id)


def test_get_caller_identity_of_a_user_names_its_arn_and_user_id(
    iam: Any, make_user: Callable[..., User]
) -> None:
    # Given a user, When its key asks STS who it is, Then its ARN and AIDA user id
    user = make_user("whoami")
    identity = user.client("sts").get_caller_identity()
    assert identity["Account"] == ACCOUNT
    assert identity["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/{user.name}"
    assert identity["UserId"] == iam.get_user(UserName=user.name)["User"]["UserId"]
    assert USER_ID.fullmatch(identity["UserId"])


def test_a_user_may_have_two_access_keys_and_no_third(
    iam: Any, unique: Callable[[str], str]
) -> None:
    # Given a user with two keys
    name = unique("judy")
    iam.create_user(UserName=name)
    first = iam.create_access_key(UserName=name)["AccessKey"]["AccessKeyId"]
    second = iam.create_access_key(UserName=name)["AccessKey"]["AccessKeyId"]
    # When a third is created, Then LimitExceeded (409) and still two keys
    assert failure(lambda: iam.create_access_key(UserName=name)) == (
        "LimitExceeded",
        409,
        "Cannot exceed quota for AccessKeysPerUser: 2",
    )
    listed = {k["AccessKeyId"] for k in iam.list_access_keys(UserName=name)["AccessKeyMetadata"]}
    assert listed == {first, second}
    # When one is deleted, Then a new one can be created
    iam.delete_access_key(UserName=name, AccessKeyId=first)
    third = iam.create_access_key(UserName=name)["AccessKey"]["AccessKeyId"]
    listed = {k["AccessKeyId"] for k in iam.list_access_keys(UserName=name)["AccessKeyMetadata"]}
    assert listed == {second, third}


def test_list_access_keys_of_a_user_without_keys_is_empty(
    iam: Any, unique: Callable[[str], str]
) -> None:
    # Given a user with no keys, When its keys are listed, Then none
    name = unique("kate")
    iam.create_user(UserName=name)
    assert iam.list_access_keys(UserName=name)["AccessKeyMetadata"] == []


def test_an_inactive_key_is_refused_at_once_and_works_again_when_active(
    iam: Any, make_user: Callable[..., User]
) -> None:
    # Given a user whose key works
    user = make_user("leo")
    sts = user.client("sts")
    assert sts.get_caller_identity()["Arn"] == user.arn
    # When the key is made Inactive
    iam.update_access_key(UserName=user.name, AccessKeyId=user.key_id, Status="Inactive")
    # Then its very next request is refused as an invalid token
    assert failure(sts.get_caller_identity) == ("InvalidClientTokenId", 403, INVALID_TOKEN)
    assert failure(lambda: user.client("sns").list_topics()) == (
        "InvalidClientTokenId",
        403,
        INVALID_TOKEN,
    )
    listed = iam.list_access_keys(UserName=user.name)["AccessKeyMetadata"]
    assert [k["Status"] for k in listed] == ["Inactive"]
    # When it is made Active again, Then it works at once
    iam.update_access_key(UserName=user.name, AccessKeyId=user.key_id, Status="Active")
    assert sts.get_caller_identity()["Arn"] == user.arn


def test_update_access_key_refuses_an_unknown_status_or_key(
    iam: Any, make_user: Callable[..., User]
) -> None:
    # Given a user with a key
    user = make_user("mia")
    # When its status is set to neither Active nor Inactive, Then ValidationError (400)
    code, status, message = failure(
        lambda: iam.update_access_key(UserName=user.name, AccessKeyId=user.key_id, Status="Off")
    )
    assert (code, status) == ("ValidationError", 400)
    assert "Member must satisfy enum value set: [Active, Inactive]" in message
    # When a key it does not have is updated, Then NoSuchEntity (404)
    missing = "AKIA" + "Q" * 16
    assert failure(
        lambda: iam.update_access_key(UserName=user.name, AccessKeyId=missing, Status="Inactive")
    ) == ("NoSuchEntity", 404, f"The Access Key with id {missing} cannot be found.")


def test_a_deleted_key_is_refused_and_cannot_be_deleted_twice(
    iam: Any, make_user: Callable[..., User]
) -> None:
    # Given a user whose key works
    user = make_user("ned")
    sts = user.client("sts")
    assert sts.get_caller_identity()["Arn"] == user.arn
    # When the key is deleted
    iam.delete_access_key(UserName=user.name, AccessKeyId=user.key_id)
    # Then it is refused, no longer listed, and a second delete is NoSuchEntity
    assert failure(sts.get_caller_identity) == ("InvalidClientTokenId", 403, INVALID_TOKEN)
    assert iam.list_access_keys(UserName=user.name)["AccessKeyMetadata"] == []
    assert failure(lambda: iam.delete_access_key(UserName=user.name, AccessKeyId=user.key_id)) == (
        "NoSuchEntity",
        404,
        f"The Access Key with id {user.key_id} cannot be found.",
    )


# -- user inline policies ----------------------------------------------------------------


def test_put_get_list_and_delete_user_policy(iam: Any, unique: Callable[[str], str]) -> None:
    # Given a user and two policy documents
    name = unique("olga")
    iam.create_user(UserName=name)
    publish = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "pub",
                "Effect": "Allow",
                "Action": "sns:Publish",
                "Resource": f"arn:aws:sns:{REGION}:{ACCOUNT}:orders",
            }
        ],
    }
    read = {"Version": "2012-10-17", "Statement": [allow("sns:Get*", "*")]}
    # When both are put
    iam.put_user_policy(UserName=name, PolicyName="publish", PolicyDocument=json.dumps(publish))
    iam.put_user_policy(UserName=name, PolicyName="read", PolicyDocument=json.dumps(read))
    # Then GetUserPolicy returns the document (boto3 decodes it into a dict)
    got = iam.get_user_policy(UserName=name, PolicyName="publish")
    assert (got["UserName"], got["PolicyName"], got["PolicyDocument"]) == (
        name,
        "publish",
        publish,
    )
    # And ListUserPolicies names both
    listed = iam.list_user_policies(UserName=name)
    assert (sorted(listed["PolicyNames"]), listed["IsTruncated"]) == (["publish", "read"], False)
    # When a policy is put again under the same name, Then it is replaced
    iam.put_user_policy(UserName=name, PolicyName="read", PolicyDocument=json.dumps(publish))
    assert iam.get_user_policy(UserName=name, PolicyName="read")["PolicyDocument"] == publish
    # When one is deleted, Then it is gone and reading or deleting it again is NoSuchEntity
    iam.delete_user_policy(UserName=name, PolicyName="publish")
    assert iam.list_user_policies(UserName=name)["PolicyNames"] == ["read"]
    gone = ("NoSuchEntity", 404, "The user policy with name publish cannot be found.")
    assert failure(lambda: iam.get_user_policy(UserName=name, PolicyName="publish")) == gone
    assert failure(lambda: iam.delete_user_policy(UserName=name, PolicyName="publish")) == gone


def test_put_user_policy_on_an_unknown_user_is_no_such_entity(
    iam: Any, unique: Callable[[str], str]
) -> None:
    # When a policy is put on a user that does not exist, Then NoSuchEntity (404)
    name = unique("nobody")
    document = policy(allow("sns:Publish", "*"))
    assert failure(
        lambda: iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=document)
    ) == ("NoSuchEntity", 404, f"The user with name {name} cannot be found.")


@pytest.mark.parametrize(
    "document",
    [
        json.dumps({"Version": "2012-10-17"}),
        json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Maybe", "Action": "sns:Publish", "Resource": "*"}],
            }
        ),
        '{"Version": "2012-10-17", "Statement": [',
        "not json at all",
    ],
    ids=["no-statement", "bad-effect", "truncated-json", "not-json"],
)
def test_put_user_policy_refuses_a_malformed_document(
    iam: Any, unique: Callable[[str], str], document: str
) -> None:
    # Given a user
    name = unique("pat")
    iam.create_user(UserName=name)
    # When a malformed document is put, Then MalformedPolicyDocument (400) and nothing stored
    code, status, _ = failure(
        lambda: iam.put_user_policy(UserName=name, PolicyName="bad", PolicyDocument=document)
    )
    assert (code, status) == ("MalformedPolicyDocument", 400)
    assert iam.list_user_policies(UserName=name)["PolicyNames"] == []


def test_put_user_policy_refuses_a_principal_in_an_identity_policy(
    iam: Any, unique: Callable[[str], str]
) -> None:
    # Given a user
    name = unique("quinn")
    iam.create_user(UserName=name)
    # When a policy naming a Principal is put, Then MalformedPolicyDocument, nothing stored
    document = policy(allow("sns:Publish", "*", Principal={"AWS": ACCOUNT}))
    assert failure(
        lambda: iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=document)
    ) == ("MalformedPolicyDocument", 400, "Policy document should not specify a principal.")
    assert iam.list_user_policies(UserName=name)["PolicyNames"] == []


def padded_policy(size: int) -> str:
    """A valid identity policy of exactly ``size`` characters, none of them white space."""
    head = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sns:Publish",'
    head += '"Resource":"arn:aws:sns:us-east-1:000000000000:'
    tail = '"}]}'
    document = head + "x" * (size - len(head) - len(tail)) + tail
    assert len(document) == size and json.loads(document)
    return document


def test_one_inline_policy_over_2048_characters_is_limit_exceeded(
    iam: Any, unique: Callable[[str], str]
) -> None:
    # Given a user
    name = unique("rosa")
    iam.create_user(UserName=name)
    # When a policy of exactly 2048 characters is put, Then it is accepted
    iam.put_user_policy(UserName=name, PolicyName="at", PolicyDocument=padded_policy(2048))
    iam.delete_user_policy(UserName=name, PolicyName="at")
    # When one of 2049 characters is put, Then LimitExceeded (409) and nothing is stored
    assert failure(
        lambda: iam.put_user_policy(
            UserName=name, PolicyName="over", PolicyDocument=padded_policy(2049)
        )
    ) == ("LimitExceeded", 409, f"Maximum policy size of 2048 bytes exceeded for user {name}")
    assert iam.list_user_policies(UserName=name)["PolicyNames"] == []


def test_the_2048_character_limit_counts_a_users_inline_policies_together(
    iam: Any, unique: Callable[[str], str]
) -> None:
    # Given a user with a 1500-character policy
    name = unique("sam")
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="a", PolicyDocument=padded_policy(1500))

    def put(policy_name: str, size: int) -> Callable[[], object]:
        return lambda: iam.put_user_policy(
            UserName=name, PolicyName=policy_name, PolicyDocument=padded_policy(size)
        )

    # When a second of 600 characters is put (2100 together), Then LimitExceeded (409)
    code, status, _ = failure(put("b", 600))
    assert (code, status) == ("LimitExceeded", 409)
    assert iam.list_user_policies(UserName=name)["PolicyNames"] == ["a"]
    # When the second fits (548: 2048 together), Then it is accepted
    put("b", 548)()
    # When the first is replaced by a larger one, Then only the new size counts, and over
    # the limit it is refused and the old document stays
    assert failure(put("a", 1501))[:2] == ("LimitExceeded", 409)
    assert iam.get_user_policy(UserName=name, PolicyName="a")["PolicyDocument"] == json.loads(
        padded_policy(1500)
    )
    put("a", 1400)()
    assert sorted(iam.list_user_policies(UserName=name)["PolicyNames"]) == ["a", "b"]


def test_white_space_does_not_count_toward_the_inline_policy_limit(
    iam: Any, unique: Callable[[str], str]
) -> None:
    # Given a policy of 2000 significant characters, pretty-printed past 2048 characters
    name = unique("tess")
    iam.create_user(UserName=name)
    compact = padded_policy(2000)
    pretty = json.dumps(json.loads(compact), indent=8)
    pretty = pretty.replace("\n", "\n" + " " * 40)
    assert len(pretty) > INLINE_LIMIT
    assert len(re.sub(r"\s", "", pretty)) <= INLINE_LIMIT
    # When it is put, Then IAM accepts it ("IAM doesn't count white space", IAM quotas)
    iam.put_user_policy(UserName=name, PolicyName="pretty", PolicyDocument=pretty)
    got = iam.get_user_policy(UserName=name, PolicyName="pretty")["PolicyDocument"]
    assert got == json.loads(compact)


# -- enforcement: identity policies on SNS and IAM ----------------------------------------


def test_a_user_without_policies_may_neither_publish_nor_list_users(
    make_user: Callable[..., User], new_topic: Callable[[str], str]
) -> None:
    # Given a topic of the account and a new user with no policy
    topic = new_topic("quiet")
    user = make_user("nopol")
    # When it publishes, Then AuthorizationError (403) naming it, the action and the topic
    assert_refused_publish(user, user.client("sns"), topic)
    # When it lists IAM users, Then AccessDenied (403) naming it and the action
    code, status, message = failure(lambda: user.client("iam").list_users())
    assert (code, status) == ("AccessDenied", 403)
    assert message.startswith(
        f"User: {user.arn} is not authorized to perform: iam:ListUsers on resource: "
    ), message


def test_a_publish_policy_on_one_topic_allows_only_that_topic_and_action(
    iam: Any, make_user: Callable[..., User], new_topic: Callable[[str], str]
) -> None:
    # Given two topics and a user allowed to publish to the first
    mine, other = new_topic("mine"), new_topic("other")
    user = make_user("pub")
    sns = user.client("sns")
    assert_refused_publish(user, sns, mine)
    iam.put_user_policy(
        UserName=user.name, PolicyName="pub", PolicyDocument=policy(allow("sns:Publish", mine))
    )
    # When it publishes to the first, Then the message is accepted at once
    assert sns.publish(TopicArn=mine, Message="hello")["MessageId"]
    # When it publishes to the other, Then it is refused
    assert_refused_publish(user, sns, other)
    # And other actions on the first topic are still refused
    code, status, message = failure(lambda: sns.get_topic_attributes(TopicArn=mine))
    assert (code, status) == ("AuthorizationError", 403)
    assert sns_refusal(user, "GetTopicAttributes", mine).fullmatch(message), message


def test_an_explicit_deny_beats_an_allow(
    make_user: Callable[..., User], new_topic: Callable[[str], str]
) -> None:
    # Given a user allowed every SNS action on everything, but denied Publish on one topic
    guarded, open_ = new_topic("guarded"), new_topic("open")
    user = make_user(
        "denied",
        everything=policy(allow("sns:*", "*")),
        guard=policy(deny("sns:Publish", guarded)),
    )
    sns = user.client("sns")
    # When it publishes to the guarded topic, Then the deny wins
    assert_refused_publish(user, sns, guarded)
    # And it may still publish elsewhere and do other things to the guarded topic
    assert sns.publish(TopicArn=open_, Message="fine")["MessageId"]
    assert sns.get_topic_attributes(TopicArn=guarded)["Attributes"]["TopicArn"] == guarded


def test_a_deny_and_an_allow_in_one_policy_deny_wins(
    make_user: Callable[..., User], new_topic: Callable[[str], str]
) -> None:
    # Given one policy that both allows and denies Publish on a topic
    topic = new_topic("both")
    user = make_user("both", p=policy(allow("sns:Publish", topic), deny("sns:Publish", topic)))
    # When the user publishes there, Then the deny wins
    assert_refused_publish(user, user.client("sns"), topic)


def test_a_secure_transport_condition_allows_publish_only_over_tls(
    make_user: Callable[..., User], new_topic: Callable[[str], str]
) -> None:
    # Given a user allowed to publish only when the request comes over TLS
    topic = new_topic("tls")
    tls_only = allow("sns:Publish", topic, Condition={"Bool": {"aws:SecureTransport": "true"}})
    user = make_user("tls", p=policy(tls_only))
    # When it publishes over plain HTTP, Then it is refused
    assert_refused_publish(user, user.client("sns"), topic)
    # When it publishes over HTTPS, Then it is allowed
    assert user.client("sns", tls=True).publish(TopicArn=topic, Message="sealed")["MessageId"]


def test_wildcard_actions_and_resources_match(
    make_user: Callable[..., User], new_topic: Callable[[str], str]
) -> None:
    # Given a user allowed sns:* on every topic of the account named orders-*
    orders, invoices = new_topic("orders"), new_topic("invoices")
    user = make_user("wild", p=policy(allow("sns:*", f"arn:aws:sns:*:{ACCOUNT}:orders-*")))
    sns = user.client("sns")
    # When it acts on an orders- topic, Then any SNS action is allowed
    assert sns.publish(TopicArn=orders, Message="o")["MessageId"]
    assert sns.get_topic_attributes(TopicArn=orders)["Attributes"]["TopicArn"] == orders
    sns.tag_resource(ResourceArn=orders, Tags=[{"Key": "k", "Value": "v"}])
    # When it acts on a topic not matching the pattern, Then it is refused
    assert_refused_publish(user, sns, invoices)


def test_a_wildcard_in_the_action_name_matches_the_action_prefix(
    make_user: Callable[..., User], new_topic: Callable[[str], str]
) -> None:
    # Given a user allowed sns:Get* on a topic
    topic = new_topic("prefix")
    user = make_user("prefix", p=policy(allow("sns:Get*", topic)))
    sns = user.client("sns")
    # When it reads the topic's attributes, Then allowed; when it publishes, Then refused
    assert sns.get_topic_attributes(TopicArn=topic)["Attributes"]["TopicArn"] == topic
    assert_refused_publish(user, sns, topic)


def test_the_aws_username_variable_scopes_a_user_to_its_own_topics(
    sns: Any, iam: Any, make_user: Callable[..., User]
) -> None:
    # Given users alice-<id> and bob-<id>, each with an <name>-inbox topic
    alice, bob = make_user("alice"), make_user("bob")
    alice_inbox = sns.create_topic(Name=f"{alice.name}-inbox")["TopicArn"]
    bob_inbox = sns.create_topic(Name=f"{bob.name}-inbox")["TopicArn"]
    own_inbox = policy(allow("sns:Publish", f"arn:aws:sns:*:{ACCOUNT}:${{aws:username}}-inbox"))
    for user in (alice, bob):
        iam.put_user_policy(UserName=user.name, PolicyName="inbox", PolicyDocument=own_inbox)
    alice_sns = alice.client("sns")
    # When alice publishes to her inbox, Then it is allowed
    assert alice_sns.publish(TopicArn=alice_inbox, Message="mine")["MessageId"]
    # When alice publishes to bob's inbox, Then it is refused
    assert_refused_publish(alice, alice_sns, bob_inbox)
    # And bob, under the same policy, may publish to his own inbox
    assert bob.client("sns").publish(TopicArn=bob_inbox, Message="mine")["MessageId"]


def test_policy_variables_are_literal_text_in_a_2008_version_policy(
    sns: Any, iam: Any, make_user: Callable[..., User]
) -> None:
    # Given a user whose policy uses ${aws:username} under Version 2008-10-17
    user = make_user("old")
    inbox = sns.create_topic(Name=f"{user.name}-inbox")["TopicArn"]
    document = policy(
        allow("sns:Publish", f"arn:aws:sns:*:{ACCOUNT}:${{aws:username}}-inbox"),
        version="2008-10-17",
    )
    iam.put_user_policy(UserName=user.name, PolicyName="old", PolicyDocument=document)
    # When it publishes to its inbox, Then it is refused: the variable is not replaced
    assert_refused_publish(user, user.client("sns"), inbox)


def test_deleting_a_policy_takes_effect_at_once(
    iam: Any, make_user: Callable[..., User], new_topic: Callable[[str], str]
) -> None:
    # Given a user allowed to publish to a topic
    topic = new_topic("revoked")
    user = make_user("revoke", pub=policy(allow("sns:Publish", topic)))
    sns = user.client("sns")
    assert sns.publish(TopicArn=topic, Message="before")["MessageId"]
    # When the policy is deleted, Then the very next publish is refused
    iam.delete_user_policy(UserName=user.name, PolicyName="pub")
    assert_refused_publish(user, sns, topic)
    # When a policy is put back, Then it applies at once
    iam.put_user_policy(
        UserName=user.name, PolicyName="pub", PolicyDocument=policy(allow("sns:Publish", topic))
    )
    assert sns.publish(TopicArn=topic, Message="after")["MessageId"]


def test_a_user_with_iam_star_may_create_and_manage_another_user(
    iam: Any, make_user: Callable[..., User], unique: Callable[[str], str]
) -> None:
    # Given an administrator user with iam:* on everything
    admin = make_user("admin", admin=policy(allow("iam:*", "*")))
    admin_iam = admin.client("iam")
    # When it creates another user, gives it a key and lists users
    name = unique("hired")
    created = admin_iam.create_user(UserName=name)["User"]
    assert created["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/{name}"
    key = admin_iam.create_access_key(UserName=name)["AccessKey"]
    # Then the root sees the same user and key
    assert iam.get_user(UserName=name)["User"]["UserId"] == created["UserId"]
    assert [k["AccessKeyId"] for k in iam.list_access_keys(UserName=name)["AccessKeyMetadata"]] == [
        key["AccessKeyId"]
    ]
    assert name in {u["UserName"] for u in admin_iam.list_users()["Users"]}
    # And the administrator still has no SNS permissions
    code, status, _ = failure(lambda: admin.client("sns").list_topics())
    assert (code, status) == ("AuthorizationError", 403)


def test_iam_actions_are_decided_per_resource(
    make_user: Callable[..., User], iam: Any, unique: Callable[[str], str]
) -> None:
    # Given a user allowed to tag only users under one path
    base = unique_path(unique)
    inside, outside = unique("in"), unique("out")
    iam.create_user(UserName=inside, Path=base)
    iam.create_user(UserName=outside)
    user = make_user(
        "tagger", p=policy(allow("iam:TagUser", f"arn:aws:iam::{ACCOUNT}:user{base}*"))
    )
    tagger = user.client("iam")
    tags = [{"Key": "k", "Value": "v"}]
    # When it tags the user under the path, Then it is allowed
    tagger.tag_user(UserName=inside, Tags=tags)
    # When it tags another user, Then AccessDenied (403)
    code, status, message = failure(lambda: tagger.tag_user(UserName=outside, Tags=tags))
    assert (code, status) == ("AccessDenied", 403)
    assert message.startswith(f"User: {user.arn} is not authorized to perform: iam:TagUser")


# -- the AWS CLI -------------------------------------------------------------------------


def test_cli_manages_a_user_its_key_and_its_policy(
    aws: Callable[..., Any], unique: Callable[[str], str], tmp_path: Path
) -> None:
    def cli(*args: str, check: bool = True) -> Any:
        return aws("iam", *args, check=check)

    # Given a name and a path
    name, path = unique("cli"), unique_path(unique)
    user_args = ("--user-name", name)
    # When the CLI creates the user with a tag, Then it is described
    user = cli("create-user", *user_args, "--path", path, "--tags", "Key=team,Value=cli")["User"]
    assert (user["UserName"], user["Path"]) == (name, path)
    assert user["Arn"] == f"arn:aws:iam::{ACCOUNT}:user{path}{name}"
    assert user["Tags"] == [{"Key": "team", "Value": "cli"}]
    assert cli("get-user", *user_args)["User"]["UserId"] == user["UserId"]
    assert [u["UserName"] for u in cli("list-users", "--path-prefix", path)["Users"]] == [name]
    # When it puts a policy from a file, Then get-user-policy prints it as JSON
    document = {"Version": "2012-10-17", "Statement": [allow("sns:Publish", "*")]}
    policy_file = tmp_path / "policy.json"
    policy_file.write_text(json.dumps(document, indent=2))
    policy_args = (*user_args, "--policy-name", "pub")
    cli("put-user-policy", *policy_args, "--policy-document", f"file://{policy_file}")
    got = cli("get-user-policy", *policy_args)
    assert (got["UserName"], got["PolicyName"], got["PolicyDocument"]) == (name, "pub", document)
    assert cli("list-user-policies", *user_args)["PolicyNames"] == ["pub"]
    # When it creates and deactivates a key, Then the listing shows it Inactive, no secret
    key = cli("create-access-key", *user_args)["AccessKey"]
    assert ACCESS_KEY_ID.fullmatch(key["AccessKeyId"]) and len(key["SecretAccessKey"]) == 40
    key_args = (*user_args, "--access-key-id", key["AccessKeyId"])
    cli("update-access-key", *key_args, "--status", "Inactive")
    keys = cli("list-access-keys", *user_args)["AccessKeyMetadata"]
    assert [(k["AccessKeyId"], k["Status"]) for k in keys] == [(key["AccessKeyId"], "Inactive")]
    assert "SecretAccessKey" not in keys[0]
    # When it tags and untags, Then get-user shows the result
    cli("tag-user", *user_args, "--tags", "Key=env,Value=dev")
    cli("untag-user", *user_args, "--tag-keys", "team")
    assert cli("get-user", *user_args)["User"]["Tags"] == [{"Key": "env", "Value": "dev"}]
    # When it removes the key, the policy and the user, Then the user is gone
    cli("delete-access-key", *key_args)
    cli("delete-user-policy", *policy_args)
    cli("delete-user", *user_args)
    done = cli("get-user", *user_args, check=False)
    assert done.returncode != 0
    assert (
        "An error occurred (NoSuchEntity) when calling the GetUser operation: "
        f"The user with name {name} cannot be found." in done.stderr
    )


def test_cli_reports_iam_errors(aws: Callable[..., Any], unique: Callable[[str], str]) -> None:
    def refused(*args: str) -> str:
        done = aws("iam", *args, check=False)
        assert done.returncode != 0
        return str(done.stderr)

    # Given a user with an access key
    name = unique("clierr")
    aws("iam", "create-user", "--user-name", name)
    aws("iam", "create-access-key", "--user-name", name)
    # When the user is created again, Then the CLI fails with EntityAlreadyExists
    assert (
        "An error occurred (EntityAlreadyExists) when calling the CreateUser operation: "
        f"User with name {name} already exists."
    ) in refused("create-user", "--user-name", name)
    # When it is deleted with its key still there, Then DeleteConflict
    assert (
        "An error occurred (DeleteConflict) when calling the DeleteUser operation: "
        "Cannot delete entity, must delete access keys first."
    ) in refused("delete-user", "--user-name", name)
    # When a policy with a Principal is put, Then MalformedPolicyDocument
    document = policy(allow("sns:Publish", "*", Principal="*"))
    put = ("put-user-policy", "--user-name", name, "--policy-name", "p")
    assert (
        "An error occurred (MalformedPolicyDocument) when calling the PutUserPolicy operation: "
        "Policy document should not specify a principal."
    ) in refused(*put, "--policy-document", document)
    # When a bad name is given, Then ValidationError
    assert "An error occurred (ValidationError) when calling the CreateUser operation" in (
        refused("create-user", "--user-name", "bad name")
    )


def test_cli_get_caller_identity_as_a_user(
    server: HeraldProcess, make_user: Callable[..., User]
) -> None:
    # Given a user's key in the CLI's environment
    user = make_user("clists")
    executable = shutil.which("aws", path=str(Path(sys.executable).parent))
    assert executable
    env = server.cli_env()
    env.update(AWS_ACCESS_KEY_ID=user.key_id, AWS_SECRET_ACCESS_KEY=user.secret)
    # When it asks who it is, Then it is the user
    command = [executable, "--endpoint-url", server.http_url, "--output", "json"]
    done = subprocess.run(
        [*command, "sts", "get-caller-identity"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=True,
    )
    identity = json.loads(done.stdout)
    assert (identity["Account"], identity["Arn"]) == (ACCOUNT, user.arn)
    assert USER_ID.fullmatch(identity["UserId"])
