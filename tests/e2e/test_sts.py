"""STS AssumeRole and GetSessionToken, session credentials on SNS, IAM and STS, and event
sources acting as AWS service principals, end to end with boto3 and the AWS CLI.

The rules checked are AWS's: a role's trust policy must allow the caller (naming it is
enough; naming its account needs the caller's identity policy too; across accounts both
sides); session policies narrow a session; role chaining is limited to one hour; an
account root cannot assume a role; GetSessionToken credentials cannot call IAM without
MFA; expired credentials get ExpiredToken.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.e2e.harness import REGION, HeraldProcess
from tests.e2e.test_accounts import admin, client_for, new_account

ACCOUNT = "000000000000"
INVALID_TOKEN = "The security token included in the request is invalid."


def _client(server: HeraldProcess, service: str, creds: dict[str, str], tls: bool = False) -> Any:
    return boto3.client(
        service,
        endpoint_url=server.https_url if tls else server.http_url,
        verify=server.ca_bundle if tls else None,
        region_name=REGION,
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds.get("SessionToken"),
        config=Config(retries={"total_max_attempts": 1}),
    )


def _error(call: Callable[[], object]) -> tuple[str, int, str]:
    with pytest.raises(ClientError) as caught:
        call()
    error = caught.value.response["Error"]
    status = caught.value.response["ResponseMetadata"]["HTTPStatusCode"]
    return error["Code"], status, error["Message"]


def _trust(*principals: str, **condition: Any) -> str:
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"AWS": list(principals)},
        "Action": "sts:AssumeRole",
    }
    if condition:
        statement["Condition"] = condition
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def _allow(action: str | list[str], resource: str = "*") -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": action, "Resource": resource}],
        }
    )


def _user(iam: Any, name: str, policy: str | None = None) -> tuple[str, dict[str, str]]:
    arn = iam.create_user(UserName=name)["User"]["Arn"]
    if policy is not None:
        iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=policy)
    return arn, iam.create_access_key(UserName=name)["AccessKey"]


def _role(iam: Any, name: str, trust: str, policy: str | None = None, **extra: Any) -> str:
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust, **extra)["Role"]["Arn"]
    if policy is not None:
        iam.put_role_policy(RoleName=name, PolicyName="p", PolicyDocument=policy)
    return str(arn)


@pytest.fixture
def name() -> Callable[[str], str]:
    return lambda prefix: f"{prefix}-{uuid.uuid4().hex[:10]}"


# -- AssumeRole within one account -------------------------------------------------------


def test_a_user_the_trust_policy_names_assumes_the_role_and_acts_with_its_policies(
    server: HeraldProcess, iam: Any, name: Callable[[str], str]
) -> None:
    # Given a user with no policies of its own, and a role that trusts that user by ARN
    user_arn, key = _user(iam, name("alice"))
    role_name = name("publisher")
    role_arn = _role(iam, role_name, _trust(user_arn), _allow(["sns:CreateTopic", "sns:List*"]))

    # When the user assumes the role
    session = name("s")
    answer = _client(server, "sts", key).assume_role(RoleArn=role_arn, RoleSessionName=session)

    # Then it gets temporary credentials for a session of the role
    creds = answer["Credentials"]
    assert creds["AccessKeyId"].startswith("ASIA")
    assert creds["SessionToken"]
    remaining = creds["Expiration"].timestamp() - time.time()
    assert 3500 < remaining <= 3600
    expected_arn = f"arn:aws:sts::{ACCOUNT}:assumed-role/{role_name}/{session}"
    assert answer["AssumedRoleUser"]["Arn"] == expected_arn
    role_id = iam.get_role(RoleName=role_name)["Role"]["RoleId"]
    assert answer["AssumedRoleUser"]["AssumedRoleId"] == f"{role_id}:{session}"
    identity = _client(server, "sts", creds).get_caller_identity()
    assert (identity["Arn"], identity["UserId"], identity["Account"]) == (
        expected_arn,
        f"{role_id}:{session}",
        ACCOUNT,
    )
    # And the session may do what the role's policy allows, and nothing else
    sns = _client(server, "sns", creds)
    arn = sns.create_topic(Name=name("by-role"))["TopicArn"]
    assert arn.startswith(f"arn:aws:sns:{REGION}:{ACCOUNT}:")
    code, status, message = _error(lambda: sns.delete_topic(TopicArn=arn))
    assert (code, status) == ("AuthorizationError", 403)
    assert message == (
        f"User: {expected_arn} is not authorized to perform: SNS:DeleteTopic on resource: {arn}"
    )


def test_a_trust_policy_that_names_the_account_needs_the_callers_identity_policy(
    server: HeraldProcess, iam: Any, name: Callable[[str], str]
) -> None:
    role_arn = _role(iam, name("r"), _trust(f"arn:aws:iam::{ACCOUNT}:root"))
    _, without = _user(iam, name("nopolicy"))
    _, with_policy = _user(iam, name("withpolicy"), _allow("sts:AssumeRole", role_arn))

    code, status, message = _error(
        lambda: _client(server, "sts", without).assume_role(RoleArn=role_arn, RoleSessionName="s1")
    )
    assert (code, status) == ("AccessDenied", 403)
    assert "is not authorized to perform: sts:AssumeRole on resource: " + role_arn in message

    answer = _client(server, "sts", with_policy).assume_role(RoleArn=role_arn, RoleSessionName="s1")
    assert answer["AssumedRoleUser"]["Arn"].endswith("/s1")


def test_an_identity_policy_alone_does_not_let_a_user_assume_a_role_that_does_not_trust_it(
    server: HeraldProcess, iam: Any, name: Callable[[str], str]
) -> None:
    other_arn, _ = _user(iam, name("trusted"))
    role_arn = _role(iam, name("r"), _trust(other_arn))
    _, key = _user(iam, name("admin"), _allow("*"))
    code, status, _ = _error(
        lambda: _client(server, "sts", key).assume_role(RoleArn=role_arn, RoleSessionName="s0")
    )
    assert (code, status) == ("AccessDenied", 403)


def test_an_unknown_role_is_access_denied_not_a_hint_that_it_does_not_exist(
    server: HeraldProcess, iam: Any, name: Callable[[str], str]
) -> None:
    _, key = _user(iam, name("admin"), _allow("*"))
    missing = f"arn:aws:iam::{ACCOUNT}:role/{name('missing')}"
    code, status, message = _error(
        lambda: _client(server, "sts", key).assume_role(RoleArn=missing, RoleSessionName="s0")
    )
    assert (code, status) == ("AccessDenied", 403)
    assert missing in message


def test_an_account_root_cannot_assume_a_role(
    server: HeraldProcess, iam: Any, name: Callable[[str], str]
) -> None:
    role_arn = _role(iam, name("r"), _trust(f"arn:aws:iam::{ACCOUNT}:root"))
    code, status, message = _error(
        lambda: server.client("sts").assume_role(RoleArn=role_arn, RoleSessionName="s0")
    )
    assert (code, status) == ("AccessDenied", 403)
    assert "root" in message


def test_the_trust_policy_conditions_see_the_external_id(
    server: HeraldProcess, iam: Any, name: Callable[[str], str]
) -> None:
    user_arn, key = _user(iam, name("u"))
    role_arn = _role(iam, name("r"), _trust(user_arn, StringEquals={"sts:ExternalId": "ticket-42"}))
    sts = _client(server, "sts", key)
    assert _error(lambda: sts.assume_role(RoleArn=role_arn, RoleSessionName="s0"))[0] == (
        "AccessDenied"
    )
    code = _error(
        lambda: sts.assume_role(RoleArn=role_arn, RoleSessionName="s0", ExternalId="ticket-43")
    )[0]
    assert code == "AccessDenied"
    sts.assume_role(RoleArn=role_arn, RoleSessionName="s0", ExternalId="ticket-42")


def test_a_session_policy_narrows_the_session_to_what_both_allow(
    server: HeraldProcess, iam: Any, name: Callable[[str], str]
) -> None:
    user_arn, key = _user(iam, name("u"))
    role_arn = _role(iam, name("r"), _trust(user_arn), _allow("sns:*"))
    answer = _client(server, "sts", key).assume_role(
        RoleArn=role_arn, RoleSessionName="narrow", Policy=_allow("sns:ListTopics")
    )
    assert 1 <= answer["PackedPolicySize"] <= 100
    sns = _client(server, "sns", answer["Credentials"])
    sns.list_topics()
    code, status, _ = _error(lambda: sns.create_topic(Name=name("t")))
    assert (code, status) == ("AuthorizationError", 403)


def test_a_malformed_session_policy_is_refused(
    server: HeraldProcess, iam: Any, name: Callable[[str], str]
) -> None:
    user_arn, key = _user(iam, name("u"))
    role_arn = _role(iam, name("r"), _trust(user_arn))
    code, status, _ = _error(
        lambda: _client(server, "sts", key).assume_role(
            RoleArn=role_arn, RoleSessionName="s0", Policy="{not json"
        )
    )
    assert (code, status) == ("MalformedPolicyDocument", 400)


@pytest.mark.parametrize(
    ("duration", "fragment"),
    [
        (899, "greater than or equal to 900"),
        (43201, "less than or equal to 43200"),
        (7200, "MaxSessionDuration"),
    ],
)
def test_duration_outside_the_allowed_range_is_a_validation_error(
    server: HeraldProcess, iam: Any, name: Callable[[str], str], duration: int, fragment: str
) -> None:
    user_arn, key = _user(iam, name("u"))
    role_arn = _role(iam, name("r"), _trust(user_arn))
    sts = boto3.client(
        "sts",
        endpoint_url=server.http_url,
        region_name=REGION,
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
        config=Config(retries={"total_max_attempts": 1}, parameter_validation=False),
    )
    code, status, message = _error(
        lambda: sts.assume_role(RoleArn=role_arn, RoleSessionName="s0", DurationSeconds=duration)
    )
    assert (code, status) == ("ValidationError", 400)
    assert fragment in message


def test_a_role_with_a_longer_maximum_allows_a_longer_session(
    server: HeraldProcess, iam: Any, name: Callable[[str], str]
) -> None:
    user_arn, key = _user(iam, name("u"))
    role_arn = _role(iam, name("r"), _trust(user_arn), MaxSessionDuration=14400)
    answer = _client(server, "sts", key).assume_role(
        RoleArn=role_arn, RoleSessionName="long", DurationSeconds=14400
    )
    assert 14300 < answer["Credentials"]["Expiration"].timestamp() - time.time() <= 14400


def test_role_chaining_is_limited_to_one_hour(
    server: HeraldProcess, iam: Any, name: Callable[[str], str]
) -> None:
    user_arn, key = _user(iam, name("u"))
    first = _role(iam, name("first"), _trust(user_arn), MaxSessionDuration=14400)
    second = _role(iam, name("second"), _trust(first), MaxSessionDuration=14400)
    iam.put_role_policy(
        RoleName=first.rsplit("/", 1)[1], PolicyName="p", PolicyDocument=_allow("sts:AssumeRole")
    )
    hop = _client(server, "sts", key).assume_role(RoleArn=first, RoleSessionName="hop")
    chained = _client(server, "sts", hop["Credentials"])
    code, status, message = _error(
        lambda: chained.assume_role(RoleArn=second, RoleSessionName="two", DurationSeconds=7200)
    )
    assert (code, status) == ("ValidationError", 400)
    assert "role chaining" in message
    answer = chained.assume_role(RoleArn=second, RoleSessionName="two")
    assert answer["AssumedRoleUser"]["Arn"].endswith(f"{second.rsplit('/', 1)[1]}/two")


def test_a_changed_role_policy_applies_to_open_sessions_at_once(
    server: HeraldProcess, iam: Any, name: Callable[[str], str]
) -> None:
    user_arn, key = _user(iam, name("u"))
    role_name = name("r")
    role_arn = _role(iam, role_name, _trust(user_arn), _allow("sns:ListTopics"))
    creds = _client(server, "sts", key).assume_role(RoleArn=role_arn, RoleSessionName="s0")
    sns = _client(server, "sns", creds["Credentials"])
    sns.list_topics()
    iam.delete_role_policy(RoleName=role_name, PolicyName="p")
    assert _error(sns.list_topics)[0] == "AuthorizationError"


# -- across accounts ---------------------------------------------------------------------


def test_a_role_in_another_account_needs_both_its_trust_and_the_callers_identity_policy(
    server: HeraldProcess, iam: Any, name: Callable[[str], str]
) -> None:
    # Given account B with a role that trusts account A (the bootstrap account)
    other = new_account(server)
    other_iam = client_for(server, other, "iam")
    role_name = name("cross")
    role_arn = _role(
        other_iam, role_name, _trust(f"arn:aws:iam::{ACCOUNT}:root"), _allow("sns:CreateTopic")
    )
    assert role_arn == f"arn:aws:iam::{other}:role/{role_name}"
    _, without = _user(iam, name("u"))
    _, allowed = _user(iam, name("u"), _allow("sts:AssumeRole", role_arn))

    # Then A's user without an identity policy is refused
    code, status, _ = _error(
        lambda: _client(server, "sts", without).assume_role(RoleArn=role_arn, RoleSessionName="xx")
    )
    assert (code, status) == ("AccessDenied", 403)
    # And one with it gets a session in account B that acts there
    answer = _client(server, "sts", allowed).assume_role(RoleArn=role_arn, RoleSessionName="xx")
    assert answer["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{other}:assumed-role/{role_name}/xx"
    creds = answer["Credentials"]
    assert _client(server, "sts", creds).get_caller_identity()["Account"] == other
    topic = _client(server, "sns", creds).create_topic(Name=name("in-b"))["TopicArn"]
    assert f":{other}:" in topic


def test_a_role_whose_trust_does_not_name_the_callers_account_is_refused_across_accounts(
    server: HeraldProcess, iam: Any, name: Callable[[str], str]
) -> None:
    other = new_account(server)
    other_iam = client_for(server, other, "iam")
    role_arn = _role(other_iam, name("own-only"), _trust(f"arn:aws:iam::{other}:root"))
    _, key = _user(iam, name("u"), _allow("sts:AssumeRole"))
    code, status, _ = _error(
        lambda: _client(server, "sts", key).assume_role(RoleArn=role_arn, RoleSessionName="xx")
    )
    assert (code, status) == ("AccessDenied", 403)


# -- session tokens ----------------------------------------------------------------------


def test_temporary_credentials_need_their_session_token(
    server: HeraldProcess, iam: Any, name: Callable[[str], str]
) -> None:
    user_arn, key = _user(iam, name("u"))
    role_arn = _role(iam, name("r"), _trust(user_arn))
    creds = _client(server, "sts", key).assume_role(RoleArn=role_arn, RoleSessionName="s0")[
        "Credentials"
    ]
    no_token = {k: v for k, v in creds.items() if k != "SessionToken"}
    code, status, message = _error(_client(server, "sts", no_token).get_caller_identity)
    assert (code, status, message) == ("InvalidClientTokenId", 403, INVALID_TOKEN)
    forged = {**creds, "SessionToken": creds["SessionToken"][:-4] + "AAAA"}
    code, status, _ = _error(_client(server, "sts", forged).get_caller_identity)
    assert (code, status) == ("InvalidClientTokenId", 403)
    # A long-term key presented with a session token is not accepted either
    with_token = {**key, "SessionToken": creds["SessionToken"]}
    assert _error(_client(server, "sts", with_token).get_caller_identity)[0] == (
        "InvalidClientTokenId"
    )


def test_expired_credentials_are_refused_with_expired_token(
    server: HeraldProcess, iam: Any, name: Callable[[str], str]
) -> None:
    # A session whose expiry has passed, written as STS writes one (the server's clock is
    # real, and the shortest session AWS allows lasts 15 minutes).
    token = "HRLD" + uuid.uuid4().hex * 3
    key_id = "ASIA" + uuid.uuid4().hex[:16].upper()
    with sqlite3.connect(server.data_dir / "herald.db") as db:
        db.execute(
            "INSERT INTO sts_sessions(access_key_id, secret, token_sha256, account_id, "
            "principal_arn, user_id, kind, role_arn, session_policies, expires_at, created_at) "
            "VALUES (?, 'secret-of-an-expired-session', ?, ?, ?, 'AROAEXPIRED:s', "
            "'AssumeRole', ?, '[]', ?, ?)",
            (
                key_id,
                hashlib.sha256(token.encode()).hexdigest(),
                ACCOUNT,
                f"arn:aws:sts::{ACCOUNT}:assumed-role/gone/s",
                f"arn:aws:iam::{ACCOUNT}:role/gone",
                time.time() - 1,
                time.time() - 901,
            ),
        )
    creds = {
        "AccessKeyId": key_id,
        "SecretAccessKey": "secret-of-an-expired-session",
        "SessionToken": token,
    }
    code, status, message = _error(_client(server, "sns", creds).list_topics)
    assert (code, status) == ("ExpiredToken", 403)
    assert message == "The security token included in the request is expired"


def test_get_session_token_credentials_act_as_the_user_but_cannot_call_iam(
    server: HeraldProcess, iam: Any, name: Callable[[str], str]
) -> None:
    user_arn, key = _user(iam, name("u"), _allow(["sns:ListTopics", "iam:GetUser"]))
    answer = _client(server, "sts", key).get_session_token(DurationSeconds=900)
    creds = answer["Credentials"]
    assert creds["AccessKeyId"].startswith("ASIA")
    assert 800 < creds["Expiration"].timestamp() - time.time() <= 900
    assert _client(server, "sts", creds).get_caller_identity()["Arn"] == user_arn
    _client(server, "sns", creds).list_topics()
    assert _error(lambda: _client(server, "sns", creds).create_topic(Name="x"))[0] == (
        "AuthorizationError"
    )
    code, status, _ = _error(_client(server, "iam", creds).get_user)
    assert (code, status) == ("InvalidClientTokenId", 403)
    code, status, message = _error(_client(server, "sts", creds).get_session_token)
    assert (code, status) == ("AccessDenied", 403)
    assert "session credentials" in message


def test_the_aws_cli_assumes_a_role_and_uses_the_session(
    server: HeraldProcess, iam: Any, name: Callable[[str], str], aws: Callable[..., Any]
) -> None:
    role_name = name("cli")
    root_trust = _trust(f"arn:aws:iam::{ACCOUNT}:root")
    _role(iam, role_name, root_trust)
    user_name = name("cli-user")
    _, key = _user(iam, user_name, _allow("sts:AssumeRole"))
    role_arn = f"arn:aws:iam::{ACCOUNT}:role/{role_name}"
    env_creds = {"AccessKeyId": key["AccessKeyId"], "SecretAccessKey": key["SecretAccessKey"]}
    answer = _aws_as(server, env_creds, "sts", "assume-role", "--role-arn", role_arn,
                     "--role-session-name", "cli-session")  # fmt: skip
    creds = answer["Credentials"]
    identity = _aws_as(server, creds, "sts", "get-caller-identity")
    assert identity["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/{role_name}/cli-session"
    assert aws("iam", "get-role", "--role-name", role_name)["Role"]["Arn"] == role_arn


def _aws_as(server: HeraldProcess, creds: dict[str, Any], *args: str) -> Any:
    executable = shutil.which("aws", path=str(Path(sys.executable).parent))
    assert executable
    env = server.cli_env()
    env["AWS_ACCESS_KEY_ID"] = creds["AccessKeyId"]
    env["AWS_SECRET_ACCESS_KEY"] = creds["SecretAccessKey"]
    if "SessionToken" in creds:
        env["AWS_SESSION_TOKEN"] = creds["SessionToken"]
    done = subprocess.run(
        [executable, "--endpoint-url", server.http_url, "--output", "json", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


# -- event sources: AWS service principals -----------------------------------------------


def _event_source(server: HeraldProcess, service: str, source_arn: str) -> dict[str, str]:
    done = admin(
        server,
        "event-source",
        "create",
        "--service",
        service,
        "--source-account",
        ACCOUNT,
        "--source-arn",
        source_arn,
    )
    assert done.returncode == 0, done.stderr
    created: dict[str, str] = json.loads(done.stdout)
    return created


def test_an_event_source_publishes_only_where_a_policy_names_its_service_and_source(
    server: HeraldProcess, name: Callable[[str], str]
) -> None:
    sns = server.client("sns")
    topic = sns.create_topic(Name=name("events"))["TopicArn"]
    rule = f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{name('rule')}"
    other_rule = f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{name('other')}"
    events = _event_source(server, "events.amazonaws.com", rule)
    assert events["Service"] == "events.amazonaws.com"
    stranger = _event_source(server, "events.amazonaws.com", other_rule)
    s3 = _event_source(server, "s3.amazonaws.com", rule)

    # The default topic policy names the owner account only: no service gets in
    publisher = _client(server, "sns", events)
    code, status, _ = _error(lambda: publisher.publish(TopicArn=topic, Message="m"))
    assert (code, status) == ("AuthorizationError", 403)

    # A policy naming the service principal, conditioned on the source, admits it
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sns:Publish",
                "Resource": topic,
                "Condition": {
                    "ArnEquals": {"aws:SourceArn": rule},
                    "StringEquals": {"aws:SourceAccount": ACCOUNT},
                },
            }
        ],
    }
    sns.set_topic_attributes(
        TopicArn=topic, AttributeName="Policy", AttributeValue=json.dumps(policy)
    )
    assert publisher.publish(TopicArn=topic, Message="from the rule")["MessageId"]
    # ... and nothing else: another source of the same service, another service
    for creds in (stranger, s3):
        code, status, _ = _error(
            lambda c=creds: _client(server, "sns", c).publish(TopicArn=topic, Message="m")
        )
        assert (code, status) == ("AuthorizationError", 403)
    # A service principal has no identity side: it cannot use IAM
    assert _error(_client(server, "iam", events).list_users)[0] == "AccessDenied"


def test_a_deleted_event_source_key_stops_working(
    server: HeraldProcess, name: Callable[[str], str]
) -> None:
    source = _event_source(server, "events.amazonaws.com", f"arn:aws:events:{REGION}:1:rule/x")
    listed = admin(server, "event-source", "list").stdout
    assert source["AccessKeyId"] in listed
    assert source["SecretAccessKey"] not in listed
    assert admin(server, "event-source", "delete", source["AccessKeyId"]).returncode == 0
    refused = admin(server, "event-source", "delete", source["AccessKeyId"])
    assert refused.returncode == 2
    # Never used, so no server cache holds it: refused at once.
    code, status, _ = _error(_client(server, "sts", source).get_caller_identity)
    assert (code, status) == ("InvalidClientTokenId", 403)


def test_admin_refuses_an_event_source_for_an_unknown_service_or_account(
    server: HeraldProcess,
) -> None:
    unknown_service = admin(
        server, "event-source", "create", "--service", "evil.example.com",
        "--source-account", ACCOUNT,
    )  # fmt: skip
    assert unknown_service.returncode == 2
    unknown_account = admin(
        server, "event-source", "create", "--service", "events.amazonaws.com",
        "--source-account", "999999999999",
    )  # fmt: skip
    assert unknown_account.returncode == 2
    assert "no account 999999999999" in unknown_account.stderr


# -- regressions from review -------------------------------------------------------------


def test_a_session_of_a_deleted_role_gains_nothing_from_a_new_role_of_the_same_name(
    server: HeraldProcess, iam: Any, name: Callable[[str], str]
) -> None:
    user_arn, key = _user(iam, name("u"))
    role_name = name("r")
    role_arn = _role(iam, role_name, _trust(user_arn), _allow("sns:ListTopics"))
    creds = _client(server, "sts", key).assume_role(RoleArn=role_arn, RoleSessionName="old")
    sns = _client(server, "sns", creds["Credentials"])
    sns.list_topics()
    iam.delete_role_policy(RoleName=role_name, PolicyName="p")
    iam.delete_role(RoleName=role_name)
    _role(iam, role_name, _trust(f"arn:aws:iam::{ACCOUNT}:root"), _allow("*"))
    assert _error(sns.list_topics)[0] == "AuthorizationError"


def test_a_trust_policy_with_not_principal_is_refused(iam: Any, name: Callable[[str], str]) -> None:
    document = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "NotPrincipal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/bob"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
    )
    code, status, message = _error(
        lambda: iam.create_role(RoleName=name("np"), AssumeRolePolicyDocument=document)
    )
    assert (code, status) == ("MalformedPolicyDocument", 400)
    assert "NotPrincipal" in message


def test_a_managed_session_policy_applies_at_its_current_default_version(
    server: HeraldProcess, iam: Any, name: Callable[[str], str]
) -> None:
    user_arn, key = _user(iam, name("u"))
    role_arn = _role(iam, name("r"), _trust(user_arn), _allow("sns:*"))
    policy_arn = iam.create_policy(
        PolicyName=name("session"), PolicyDocument=_allow("sns:ListTopics")
    )["Policy"]["Arn"]
    answer = _client(server, "sts", key).assume_role(
        RoleArn=role_arn, RoleSessionName="managed", PolicyArns=[{"arn": policy_arn}]
    )
    sns = _client(server, "sns", answer["Credentials"])
    sns.list_topics()
    assert _error(lambda: sns.create_topic(Name=name("t")))[0] == "AuthorizationError"
    iam.create_policy_version(
        PolicyArn=policy_arn, PolicyDocument=_allow("sns:GetTopicAttributes"), SetAsDefault=True
    )
    assert _error(sns.list_topics)[0] == "AuthorizationError"


def test_session_policy_arns_are_checked_only_after_the_trust_policy_allows(
    server: HeraldProcess, iam: Any, name: Callable[[str], str]
) -> None:
    trusted_arn, trusted = _user(iam, name("u"))
    _, stranger = _user(iam, name("s"), _allow("sts:AssumeRole"))
    role_arn = _role(iam, name("r"), _trust(trusted_arn))
    missing = f"arn:aws:iam::{ACCOUNT}:policy/{name('nope')}"
    code, _, _ = _error(
        lambda: _client(server, "sts", stranger).assume_role(
            RoleArn=role_arn, RoleSessionName="probe", PolicyArns=[{"arn": missing}]
        )
    )
    assert code == "AccessDenied"
    code, status, _ = _error(
        lambda: _client(server, "sts", trusted).assume_role(
            RoleArn=role_arn, RoleSessionName="probe", PolicyArns=[{"arn": missing}]
        )
    )
    assert (code, status) == ("InvalidParameterValue", 400)


def test_session_policies_above_the_packed_limit_are_refused(
    server: HeraldProcess, iam: Any, name: Callable[[str], str]
) -> None:
    user_arn, key = _user(iam, name("u"))
    role_arn = _role(iam, name("r"), _trust(user_arn))
    policy_arn = iam.create_policy(PolicyName=name("p"), PolicyDocument=_allow("sns:ListTopics"))[
        "Policy"
    ]["Arn"]
    statement = {"Sid": "S" * 1940, "Effect": "Allow", "Action": "sns:*", "Resource": "*"}
    inline = json.dumps({"Version": "2012-10-17", "Statement": [statement]}, separators=(",", ":"))
    code, status, _ = _error(
        lambda: _client(server, "sts", key).assume_role(
            RoleArn=role_arn,
            RoleSessionName="big",
            Policy=inline,
            PolicyArns=[{"arn": policy_arn}],
        )
    )
    assert (code, status) == ("PackedPolicyTooLarge", 400)
