"""Server-side encryption of topics (SNS "Encryption at rest") end to end with boto3: every
form of KmsMasterKeyId, bodies sealed in the data folder, the AWS managed key alias/aws/sns,
the KMS* errors a publisher gets (and that nothing is stored then), revocations honoured
while a data key is reused, keys of other accounts, AWS service principals, HTTPS and
SigV4 required of every request about an encrypted topic, and /metrics counting the
key-service requests data-key reuse saves.

The rules checked are AWS's (SNS developer guide: "Encryption at rest", "Key management",
"Enabling compatibility between event sources from AWS services and encrypted topics";
botocore's sns/2010-03-31 model for the KMS* error codes and statuses). Names are unique:
the session server is shared.
"""

from __future__ import annotations

import json
import re
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.e2e.harness import BOTH_BACKENDS, REGION, HeraldProcess
from tests.e2e.test_accounts import admin, client_for, new_account

# Run against SQLite and PostgreSQL.
pytestmark = BOTH_BACKENDS

ACCOUNT = "000000000000"
ROOT = f"arn:aws:iam::{ACCOUNT}:root"
SEALED = "kms-envelope-v2"
HTTPS_REFUSAL = "You must use an HTTPS endpoint and sign your request using Signature Version 4"


# -- helpers -----------------------------------------------------------------------------


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def _error(call: Callable[[], object]) -> tuple[str, int, str]:
    """The code, HTTP status and message ``call()`` is refused with."""
    with pytest.raises(ClientError) as caught:
        call()
    response = caught.value.response
    return (
        response["Error"]["Code"],
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["Error"].get("Message", ""),
    )


def _policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def _identity(action: str | list[str], resource: str = "*") -> str:
    return _policy({"Effect": "Allow", "Action": action, "Resource": resource})


def _key_policy(owner: str, *statements: dict[str, Any]) -> str:
    """A key policy that keeps the owner account in charge (the default) plus ``statements``."""
    root = {
        "Sid": "Enable IAM User Permissions",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{owner}:root"},
        "Action": "kms:*",
        "Resource": "*",
    }
    return _policy(root, *statements)


def _client(server: HeraldProcess, service: str, creds: dict[str, str], tls: bool = True) -> Any:
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


def _user(iam: Any, **policies: str) -> dict[str, str]:
    """A new IAM user with ``policies`` inline (name -> document); its access key."""
    name = _name("sse-user")
    iam.create_user(UserName=name)
    for policy_name, document in policies.items():
        iam.put_user_policy(UserName=name, PolicyName=policy_name, PolicyDocument=document)
    key: dict[str, str] = iam.create_access_key(UserName=name)["AccessKey"]
    key["UserName"] = name
    return key


def _rows(server: HeraldProcess, *message_ids: str) -> dict[str, tuple[bytes, str]]:
    """The stored (body, body_format) of each message, by MessageId."""
    marks = ",".join("?" * len(message_ids))
    found = server.query(
        f"SELECT message_id, body, body_format FROM messages WHERE message_id IN ({marks})",
        message_ids,
    )
    return {str(row[0]): (bytes(row[1]), str(row[2])) for row in found}  # type: ignore[arg-type]


def _count(server: HeraldProcess, topic: str) -> int:
    ((count,),) = server.query("SELECT COUNT(*) FROM messages WHERE topic_arn = ?", (topic,))
    return int(count)  # type: ignore[call-overload]


def _assert_sealed(server: HeraldProcess, message_id: str, text: str) -> None:
    body, body_format = _rows(server, message_id)[message_id]
    assert body_format == SEALED
    assert text.encode() not in body


def _assert_plain(server: HeraldProcess, message_id: str, text: str) -> None:
    body, body_format = _rows(server, message_id)[message_id]
    assert body_format == "plain"
    assert text.encode() in body


def _topic(sns_tls: Any, key: str | None = None, **attributes: str) -> str:
    if key is not None:
        attributes["KmsMasterKeyId"] = key
    return str(sns_tls.create_topic(Name=_name("sse"), Attributes=attributes)["TopicArn"])


def _metric(server: HeraldProcess, operation: str, key: str, topic: str) -> int:
    """herald_kms_requests_total for the labels, 0 when the series is absent."""
    with urllib.request.urlopen(server.http_url + "/metrics", timeout=5) as response:
        text = response.read().decode()
    labels = f'operation="{operation}",key="{key}",topic="{topic}"'
    match = re.search(
        r"^herald_kms_requests_total\{" + re.escape(labels) + r"\} (\d+)$", text, re.M
    )
    return int(match[1]) if match else 0


def _event_source(server: HeraldProcess, service: str, source_arn: str) -> dict[str, str]:
    done = admin(
        server, "event-source", "create", "--service", service,
        "--source-account", ACCOUNT, "--source-arn", source_arn,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    created: dict[str, str] = json.loads(done.stdout)
    return created


@pytest.fixture
def key(kms: Any) -> dict[str, Any]:
    """A fresh customer key (default key policy) of account 000000000000."""
    return dict(kms.create_key(Description=_name("sse-key"))["KeyMetadata"])


@pytest.fixture
def own_herald(tmp_path: Path) -> Iterator[list[HeraldProcess]]:
    """Heralds a test starts itself, stopped at the end if still running."""
    started: list[HeraldProcess] = []
    yield started
    for herald in started:
        if herald.process is not None and herald.process.poll() is None:
            herald.stop()


# -- key reference forms, what is stored -------------------------------------------------


@pytest.mark.parametrize("form", ["key id", "key ARN", "alias name", "alias ARN"])
def test_every_key_reference_form_seals_what_is_published(
    server: HeraldProcess, sns_tls: Any, kms: Any, key: dict[str, Any], form: str
) -> None:
    # Given a customer key, an alias of it, and a topic naming it in one of the four forms
    alias = f"alias/{_name('sse')}"
    kms.create_alias(AliasName=alias, TargetKeyId=key["KeyId"])
    reference = {
        "key id": key["KeyId"],
        "key ARN": key["Arn"],
        "alias name": alias,
        "alias ARN": f"arn:aws:kms:{REGION}:{ACCOUNT}:{alias}",
    }[form]
    topic = _topic(sns_tls, reference)
    # Then the attribute reads back exactly as set
    shown = sns_tls.get_topic_attributes(TopicArn=topic)["Attributes"]
    assert shown["KmsMasterKeyId"] == reference
    # When a message is published, Then it is stored sealed, its text nowhere in the row
    text = f"secret order {uuid.uuid4().hex}"
    message_id = sns_tls.publish(TopicArn=topic, Message=text)["MessageId"]
    _assert_sealed(server, message_id, text)
    # And the data key came from the customer key the reference names
    assert _metric(server, "GenerateDataKey", key["Arn"], topic) == 1


def test_a_plain_topic_stores_the_body_as_published(server: HeraldProcess, sns_tls: Any) -> None:
    topic = _topic(sns_tls)
    assert "KmsMasterKeyId" not in sns_tls.get_topic_attributes(TopicArn=topic)["Attributes"]
    text = f"plain order {uuid.uuid4().hex}"
    message_id = sns_tls.publish(TopicArn=topic, Message=text)["MessageId"]
    _assert_plain(server, message_id, text)


def test_publish_batch_to_an_encrypted_topic_seals_every_entry(
    server: HeraldProcess, sns_tls: Any, key: dict[str, Any]
) -> None:
    topic = _topic(sns_tls, key["Arn"])
    texts = {f"e{i}": f"batch entry {i} {uuid.uuid4().hex}" for i in range(4)}
    answer = sns_tls.publish_batch(
        TopicArn=topic,
        PublishBatchRequestEntries=[{"Id": k, "Message": v} for k, v in texts.items()],
    )
    assert answer.get("Failed", []) == []
    ids = {entry["Id"]: entry["MessageId"] for entry in answer["Successful"]}
    assert set(ids) == set(texts)
    rows = _rows(server, *ids.values())
    assert len(rows) == len(texts)
    for entry_id, message_id in ids.items():
        body, body_format = rows[message_id]
        assert body_format == SEALED
        assert texts[entry_id].encode() not in body


def test_turning_encryption_on_and_off_applies_to_later_messages_only(
    server: HeraldProcess, sns_tls: Any, key: dict[str, Any]
) -> None:
    topic = _topic(sns_tls)
    texts = [f"m{i} {uuid.uuid4().hex}" for i in (1, 2, 3)]

    def publish(text: str) -> str:
        return str(sns_tls.publish(TopicArn=topic, Message=text)["MessageId"])

    m1 = publish(texts[0])
    sns_tls.set_topic_attributes(
        TopicArn=topic, AttributeName="KmsMasterKeyId", AttributeValue=key["KeyId"]
    )
    m2 = publish(texts[1])
    sns_tls.set_topic_attributes(TopicArn=topic, AttributeName="KmsMasterKeyId", AttributeValue="")
    assert "KmsMasterKeyId" not in sns_tls.get_topic_attributes(TopicArn=topic)["Attributes"]
    m3 = publish(texts[2])
    _assert_plain(server, m1, texts[0])
    _assert_sealed(server, m2, texts[1])
    _assert_plain(server, m3, texts[2])


# -- the AWS managed key -----------------------------------------------------------------


def test_alias_aws_sns_gets_its_aws_managed_key_at_the_first_publish(
    server: HeraldProcess,
) -> None:
    # Given a fresh account whose topic names alias/aws/sns
    account = new_account(server)
    sns = client_for(server, account, "sns", tls=True)
    kms = client_for(server, account, "kms")
    topic = _topic(sns, "alias/aws/sns")
    assert sns.get_topic_attributes(TopicArn=topic)["Attributes"]["KmsMasterKeyId"] == (
        "alias/aws/sns"
    )

    def managed() -> list[dict[str, Any]]:
        # AWS may list a predefined alias before it has a key; it has no TargetKeyId then.
        aliases = kms.list_aliases()["Aliases"]
        return [a for a in aliases if a["AliasName"] == "alias/aws/sns" and a.get("TargetKeyId")]

    # Then no key is behind it before the first publish
    assert managed() == []
    # When the account first publishes to the topic
    text = f"managed {uuid.uuid4().hex}"
    message_id = sns.publish(TopicArn=topic, Message=text)["MessageId"]
    # Then the alias names an AWS managed key of the account, and the body is sealed
    (alias,) = managed()
    assert alias["AliasArn"] == f"arn:aws:kms:{REGION}:{account}:alias/aws/sns"
    meta = kms.describe_key(KeyId=alias["TargetKeyId"])["KeyMetadata"]
    assert (meta["KeyManager"], meta["AWSAccountId"], meta["KeyState"]) == (
        "AWS",
        account,
        "Enabled",
    )
    _assert_sealed(server, message_id, text)
    # And a second publish uses the same key, not another one
    sns.publish(TopicArn=topic, Message="again")
    assert [a["TargetKeyId"] for a in managed()] == [alias["TargetKeyId"]]


# -- what the key service refuses --------------------------------------------------------


def _missing_key(kms: Any, key: dict[str, Any]) -> str:
    return str(uuid.uuid4())


def _missing_alias(kms: Any, key: dict[str, Any]) -> str:
    return f"alias/{_name('nothing')}"


def _disabled(kms: Any, key: dict[str, Any]) -> str:
    kms.disable_key(KeyId=key["KeyId"])
    return str(key["Arn"])


def _pending_deletion(kms: Any, key: dict[str, Any]) -> str:
    kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)
    return str(key["KeyId"])


@pytest.mark.parametrize(
    ("spoil", "code"),
    [
        (_missing_key, "KMSNotFound"),
        (_missing_alias, "KMSNotFound"),
        (_disabled, "KMSDisabled"),
        (_pending_deletion, "KMSInvalidState"),
    ],
    ids=["unknown key id", "unknown alias", "disabled key", "key pending deletion"],
)
def test_a_key_that_cannot_be_used_fails_publish_with_a_kms_error_and_stores_nothing(
    server: HeraldProcess,
    sns_tls: Any,
    kms: Any,
    key: dict[str, Any],
    spoil: Callable[[Any, dict[str, Any]], str],
    code: str,
) -> None:
    # Given a topic whose KmsMasterKeyId is set to a key that cannot be used:
    # SetTopicAttributes does not look the key up
    topic = _topic(sns_tls)
    reference = spoil(kms, key)
    sns_tls.set_topic_attributes(
        TopicArn=topic, AttributeName="KmsMasterKeyId", AttributeValue=reference
    )
    assert sns_tls.get_topic_attributes(TopicArn=topic)["Attributes"]["KmsMasterKeyId"] == (
        reference
    )
    before = _count(server, topic)
    # When a message is published, alone or in a batch, Then the key service's refusal
    # is reported with its SNS code (400, botocore's SNS model)
    published = _error(lambda: sns_tls.publish(TopicArn=topic, Message="never stored"))
    assert published[:2] == (code, 400)
    batch = _error(
        lambda: sns_tls.publish_batch(
            TopicArn=topic,
            PublishBatchRequestEntries=[{"Id": "a", "Message": "x"}, {"Id": "b", "Message": "y"}],
        )
    )
    assert batch[:2] == (code, 400)
    # And nothing was stored
    assert _count(server, topic) == before == 0


def test_a_user_needs_kms_permissions_on_the_key_to_publish(
    server: HeraldProcess, sns_tls: Any, iam: Any, key: dict[str, Any]
) -> None:
    # Given a topic sealed with a key whose policy defers to IAM (the default key policy)
    topic = _topic(sns_tls, key["Arn"])
    publish_only = _user(iam, sns=_identity("sns:Publish", topic))
    # When a user allowed sns:Publish alone publishes, Then KMSAccessDenied and no row
    code, status, message = _error(
        lambda: _client(server, "sns", publish_only).publish(TopicArn=topic, Message="no")
    )
    assert (code, status) == ("KMSAccessDenied", 400)
    assert "kms:GenerateDataKey" in message
    assert _count(server, topic) == 0
    # When the user's policy also allows kms:GenerateDataKey and kms:Decrypt on the key
    # (the identity policy of AWS's "Key management" guide), Then it publishes
    allowed = _user(
        iam,
        sns=_identity("sns:Publish", topic),
        kms=_identity(["kms:GenerateDataKey", "kms:Decrypt"], key["Arn"]),
    )
    text = f"allowed {uuid.uuid4().hex}"
    message_id = _client(server, "sns", allowed).publish(TopicArn=topic, Message=text)["MessageId"]
    _assert_sealed(server, message_id, text)


def test_a_revoked_kms_permission_applies_at_once_though_the_data_key_is_reused(
    server: HeraldProcess, sns_tls: Any, iam: Any, key: dict[str, Any]
) -> None:
    topic = _topic(sns_tls, key["Arn"])
    user = _user(
        iam,
        sns=_identity("sns:Publish", topic),
        kms=_identity(["kms:GenerateDataKey", "kms:Decrypt"], key["Arn"]),
    )
    sns = _client(server, "sns", user)
    assert sns.publish(TopicArn=topic, Message="first")["MessageId"]
    # When the user's kms policy is removed well within the data-key reuse period
    iam.delete_user_policy(UserName=user["UserName"], PolicyName="kms")
    # Then its next publish is refused, and nothing more is stored
    code, status, _ = _error(lambda: sns.publish(TopicArn=topic, Message="second"))
    assert (code, status) == ("KMSAccessDenied", 400)
    assert _count(server, topic) == 1
    # And the one data key was the only key-service request for the allowed publish
    assert _metric(server, "GenerateDataKey", key["Arn"], topic) == 1


def test_a_key_disabled_between_two_publishes_refuses_the_second(
    server: HeraldProcess, sns_tls: Any, kms: Any, key: dict[str, Any]
) -> None:
    topic = _topic(sns_tls, key["KeyId"])
    assert sns_tls.publish(TopicArn=topic, Message="first")["MessageId"]
    kms.disable_key(KeyId=key["KeyId"])
    code, status, _ = _error(lambda: sns_tls.publish(TopicArn=topic, Message="second"))
    assert (code, status) == ("KMSDisabled", 400)
    assert _count(server, topic) == 1
    # When it is enabled again, Then publishing works again
    kms.enable_key(KeyId=key["KeyId"])
    assert sns_tls.publish(TopicArn=topic, Message="third")["MessageId"]
    assert _count(server, topic) == 2


def test_an_account_with_the_key_service_switched_off_gets_kms_opt_in_required(
    server: HeraldProcess,
) -> None:
    # Given a fresh account switched off before any use of the key service
    account = new_account(server)
    off = admin(server, "accounts", "kms", "--account-id", account, "--disable")
    assert off.returncode == 0, off.stderr
    sns = client_for(server, account, "sns", tls=True)
    topic = _topic(sns, "alias/aws/sns")
    # When it publishes to its encrypted topic, Then KMSOptInRequired, 403, nothing stored
    code, status, _ = _error(lambda: sns.publish(TopicArn=topic, Message="m"))
    assert (code, status) == ("KMSOptInRequired", 403)
    assert _count(server, topic) == 0
    # And no AWS managed key was made for an account that may not use the key service
    made = server.query("SELECT COUNT(*) FROM kms_keys WHERE account_id = ?", (account,))
    assert made[0][0] == 0
    # And a plain topic of the account is not affected
    plain = _topic(sns)
    assert sns.publish(TopicArn=plain, Message="m")["MessageId"]


def test_publishers_needing_new_data_keys_over_the_quota_get_kms_throttling(
    tmp_path: Path, own_herald: list[HeraldProcess]
) -> None:
    herald = HeraldProcess(
        tmp_path / "d", extra_args=["--kms-crypto-rps", "1", "--data-key-reuse-seconds", "1"]
    ).start()
    own_herald.append(herald)
    key_arn = herald.client("kms").create_key()["KeyMetadata"]["Arn"]  # type: ignore[attr-defined]
    sns_tls: Any = herald.client("sns", tls=True)
    topic = _topic(sns_tls, key_arn)
    iam: Any = herald.client("iam")
    allow = _policy(
        {"Effect": "Allow", "Action": "sns:Publish", "Resource": topic},
        {"Effect": "Allow", "Action": ["kms:GenerateDataKey", "kms:Decrypt"], "Resource": key_arn},
    )
    clients = [_client(herald, "sns", _user(iam, p=allow)) for _ in range(6)]
    # When each publisher (each needing a data key of its own) publishes at once
    outcomes: list[tuple[str, int]] = []
    for sns in clients:
        try:
            sns.publish(TopicArn=topic, Message="m")
            outcomes.append(("ok", 200))
        except ClientError as exc:
            error = exc.response
            outcomes.append((error["Error"]["Code"], error["ResponseMetadata"]["HTTPStatusCode"]))
    # Then the first is served and later ones are throttled with KMSThrottling (400)
    assert outcomes[0] == ("ok", 200)
    assert ("KMSThrottling", 400) in outcomes, outcomes
    assert set(outcomes) <= {("ok", 200), ("KMSThrottling", 400)}, outcomes
    # And a throttled publish stores nothing
    assert _count(herald, topic) == outcomes.count(("ok", 200))


# -- keys of other accounts --------------------------------------------------------------


@pytest.mark.parametrize("form", ["key ARN", "alias ARN"])
def test_a_topic_may_use_another_accounts_key_its_key_policy_allows(
    server: HeraldProcess, sns_tls: Any, form: str
) -> None:
    # Given account B's key whose policy allows account A (000000000000) to use it
    other = new_account(server)
    their_kms = client_for(server, other, "kms")
    grant = {
        "Sid": "Allow account A through SNS",
        "Effect": "Allow",
        "Principal": {"AWS": ROOT},
        "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
        "Resource": "*",
    }
    shared = their_kms.create_key(Policy=_key_policy(other, grant))["KeyMetadata"]
    private = their_kms.create_key()["KeyMetadata"]

    def reference(key: dict[str, Any]) -> str:
        # Another account's key is named by its key ARN or an alias ARN, never a bare id
        if form == "key ARN":
            return str(key["Arn"])
        alias = f"alias/{_name('shared')}"
        their_kms.create_alias(AliasName=alias, TargetKeyId=key["KeyId"])
        return f"arn:aws:kms:{REGION}:{other}:{alias}"

    # When A's root publishes to A's topic sealed with B's key, Then it is sealed
    topic = _topic(sns_tls, reference(shared))
    text = f"cross-account {uuid.uuid4().hex}"
    message_id = sns_tls.publish(TopicArn=topic, Message=text)["MessageId"]
    _assert_sealed(server, message_id, text)
    assert _metric(server, "GenerateDataKey", shared["Arn"], topic) == 1
    # When B's key policy does not name A, Then KMSAccessDenied and nothing is stored
    refused = _topic(sns_tls, reference(private))
    code, status, _ = _error(lambda: sns_tls.publish(TopicArn=refused, Message="no"))
    assert (code, status) == ("KMSAccessDenied", 400)
    assert _count(server, refused) == 0


def test_a_key_id_is_read_in_the_topic_owners_account_not_the_publishers(
    server: HeraldProcess, sns_tls: Any, kms: Any
) -> None:
    # Given another account allowed to publish to A's topic and to use A's key
    other = new_account(server)
    grant = {
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{other}:root"},
        "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
        "Resource": "*",
    }
    key = kms.create_key(Policy=_key_policy(ACCOUNT, grant))["KeyMetadata"]
    topic = _topic(sns_tls, key["KeyId"])
    sns_tls.add_permission(
        TopicArn=topic, Label="partner", AWSAccountId=[other], ActionName=["Publish"]
    )
    # When that account publishes, Then the bare key id names A's key, not one of its own
    theirs = client_for(server, other, "sns", tls=True)
    text = f"partner {uuid.uuid4().hex}"
    message_id = theirs.publish(TopicArn=topic, Message=text)["MessageId"]
    _assert_sealed(server, message_id, text)
    assert _metric(server, "GenerateDataKey", key["Arn"], topic) == 1


def test_a_change_to_another_accounts_key_applies_at_once_to_a_reused_data_key(
    server: HeraldProcess, sns_tls: Any
) -> None:
    # Given A's topic sealed with B's key, which A has published to (a data key is held)
    other = new_account(server)
    their_kms = client_for(server, other, "kms")
    grant = {
        "Effect": "Allow",
        "Principal": {"AWS": ROOT},
        "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
        "Resource": "*",
    }
    key = their_kms.create_key(Policy=_key_policy(other, grant))["KeyMetadata"]
    topic = _topic(sns_tls, key["Arn"])
    assert sns_tls.publish(TopicArn=topic, Message="first")["MessageId"]
    # When B takes A out of its key policy, Then A's next publish is refused
    their_kms.put_key_policy(KeyId=key["KeyId"], PolicyName="default", Policy=_key_policy(other))
    code, status, _ = _error(lambda: sns_tls.publish(TopicArn=topic, Message="second"))
    assert (code, status) == ("KMSAccessDenied", 400)
    # When B lets A back in but schedules the key for deletion, Then KMSInvalidState
    their_kms.put_key_policy(
        KeyId=key["KeyId"], PolicyName="default", Policy=_key_policy(other, grant)
    )
    assert sns_tls.publish(TopicArn=topic, Message="third")["MessageId"]
    their_kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)
    code, status, _ = _error(lambda: sns_tls.publish(TopicArn=topic, Message="fourth"))
    assert (code, status) == ("KMSInvalidState", 400)
    assert _count(server, topic) == 2


def test_an_alias_pointed_at_another_key_seals_the_next_message_with_that_key(
    server: HeraldProcess, sns_tls: Any, kms: Any
) -> None:
    # Given a topic naming an alias, published to once (a data key of the first key held)
    first = kms.create_key()["KeyMetadata"]
    second = kms.create_key()["KeyMetadata"]
    alias = f"alias/{_name('moving')}"
    kms.create_alias(AliasName=alias, TargetKeyId=first["KeyId"])
    topic = _topic(sns_tls, alias)
    sns_tls.publish(TopicArn=topic, Message="under the first key")
    # When the alias is pointed at the second key and the first is disabled
    kms.update_alias(AliasName=alias, TargetKeyId=second["KeyId"])
    kms.disable_key(KeyId=first["KeyId"])
    # Then publishing goes on, with a data key of the second key
    text = f"under the second key {uuid.uuid4().hex}"
    message_id = sns_tls.publish(TopicArn=topic, Message=text)["MessageId"]
    _assert_sealed(server, message_id, text)
    assert _metric(server, "GenerateDataKey", first["Arn"], topic) == 1
    assert _metric(server, "GenerateDataKey", second["Arn"], topic) == 1


def test_another_account_cannot_publish_to_a_topic_under_the_owners_aws_managed_key(
    server: HeraldProcess, sns_tls: Any
) -> None:
    # Given A's topic under alias/aws/sns (A's AWS managed key), which another account may
    # publish to: the managed key's policy admits callers of A's account only
    topic = _topic(sns_tls, "alias/aws/sns")
    assert sns_tls.publish(TopicArn=topic, Message="by the owner")["MessageId"]
    other = new_account(server)
    sns_tls.add_permission(
        TopicArn=topic, Label="partner", AWSAccountId=[other], ActionName=["Publish"]
    )
    theirs = client_for(server, other, "sns", tls=True)
    # When the other account publishes, Then KMSAccessDenied (it is A's key, not its own)
    code, status, _ = _error(lambda: theirs.publish(TopicArn=topic, Message="partner"))
    assert (code, status) == ("KMSAccessDenied", 400)
    assert _count(server, topic) == 1
    their_kms = client_for(server, other, "kms")
    assert [a for a in their_kms.list_aliases()["Aliases"] if a.get("TargetKeyId")] == []


def test_key_policy_conditions_see_the_sns_service_and_the_topics_encryption_context(
    server: HeraldProcess, sns_tls: Any, kms: Any, iam: Any
) -> None:
    # Given a user named by a key policy that lets it use the key only through SNS and
    # only for one topic (kms:ViaService, kms:EncryptionContext:aws:sns:topicArn)
    user = _user(iam, sns=_identity("sns:Publish"))
    user_arn = iam.get_user(UserName=user["UserName"])["User"]["Arn"]
    key = kms.create_key()["KeyMetadata"]
    topic = _topic(sns_tls, key["Arn"])
    other_topic = _topic(sns_tls, key["Arn"])
    conditional = {
        "Effect": "Allow",
        "Principal": {"AWS": user_arn},
        "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
        "Resource": "*",
        "Condition": {
            "StringEquals": {
                "kms:ViaService": f"sns.{REGION}.amazonaws.com",
                "kms:EncryptionContext:aws:sns:topicArn": topic,
            }
        },
    }
    kms.put_key_policy(
        KeyId=key["KeyId"], PolicyName="default", Policy=_key_policy(ACCOUNT, conditional)
    )
    sns = _client(server, "sns", user)
    # When it publishes to that topic, Then the message is sealed
    text = f"conditional {uuid.uuid4().hex}"
    _assert_sealed(server, sns.publish(TopicArn=topic, Message=text)["MessageId"], text)
    # When it publishes to another topic under the same key, Then KMSAccessDenied
    code, status, _ = _error(lambda: sns.publish(TopicArn=other_topic, Message="no"))
    assert (code, status) == ("KMSAccessDenied", 400)
    # And it cannot use the key directly, not through SNS
    direct = _client(server, "kms", user, tls=False)
    code, _, _ = _error(
        lambda: direct.generate_data_key(
            KeyId=key["Arn"],
            KeySpec="AES_256",
            EncryptionContext={"aws:sns:topicArn": topic},
        )
    )
    assert code == "AccessDeniedException"


# -- AWS service principals --------------------------------------------------------------


_SERVICE_GRANT = {
    "Sid": "Allow EventBridge to use the key",
    "Effect": "Allow",
    "Principal": {"Service": "events.amazonaws.com"},
    "Action": ["kms:GenerateDataKey*", "kms:Decrypt"],
    "Resource": "*",
}


def _event_topic(sns_tls: Any, reference: str, rule: str) -> str:
    """An encrypted topic whose policy admits EventBridge publishing for ``rule``."""
    arn = _topic(sns_tls, reference)
    policy = _policy(
        {"Effect": "Allow", "Principal": {"AWS": ROOT}, "Action": "SNS:*", "Resource": arn},
        {
            "Effect": "Allow",
            "Principal": {"Service": "events.amazonaws.com"},
            "Action": "sns:Publish",
            "Resource": arn,
            "Condition": {"ArnEquals": {"aws:SourceArn": rule}},
        },
    )
    sns_tls.set_topic_attributes(TopicArn=arn, AttributeName="Policy", AttributeValue=policy)
    return arn


def test_an_event_source_publishes_to_a_topic_whose_key_policy_grants_its_service(
    server: HeraldProcess, sns_tls: Any, kms: Any
) -> None:
    # Given a customer key whose policy grants events.amazonaws.com GenerateDataKey* and
    # Decrypt (AWS's "event sources and encrypted topics" key policy), and a topic
    # sealed with it whose policy admits the rule's events
    rule = f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{_name('rule')}"
    events = _client(server, "sns", _event_source(server, "events.amazonaws.com", rule))
    key = kms.create_key(Policy=_key_policy(ACCOUNT, _SERVICE_GRANT))["KeyMetadata"]
    topic = _event_topic(sns_tls, key["Arn"], rule)
    # When the event source publishes, Then the event is stored sealed
    text = f"event {uuid.uuid4().hex}"
    message_id = events.publish(TopicArn=topic, Message=text)["MessageId"]
    _assert_sealed(server, message_id, text)


@pytest.mark.parametrize("which", ["default key policy", "alias/aws/sns"])
def test_an_event_source_is_refused_a_key_whose_policy_does_not_grant_its_service(
    server: HeraldProcess, sns_tls: Any, kms: Any, which: str
) -> None:
    # Given a topic admitting the rule's events, sealed with a key whose policy does not
    # name the service: a customer key with the default policy, or the AWS managed key
    # (whose policy no one can change, so AWS's guide says it cannot be used with event
    # sources)
    rule = f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{_name('rule')}"
    events = _client(server, "sns", _event_source(server, "events.amazonaws.com", rule))
    reference = kms.create_key()["KeyMetadata"]["Arn"] if which == "default key policy" else which
    topic = _event_topic(sns_tls, reference, rule)
    # When the event source publishes, Then KMSAccessDenied and nothing is stored
    code, status, _ = _error(lambda: events.publish(TopicArn=topic, Message="event"))
    assert (code, status) == ("KMSAccessDenied", 400)
    assert _count(server, topic) == 0


# -- HTTPS and Signature Version 4 -------------------------------------------------------


_OVER_HTTP: dict[str, Callable[[Any, str], object]] = {
    "Publish": lambda sns, t: sns.publish(TopicArn=t, Message="m"),
    "PublishBatch": lambda sns, t: sns.publish_batch(
        TopicArn=t, PublishBatchRequestEntries=[{"Id": "a", "Message": "m"}]
    ),
    "GetTopicAttributes": lambda sns, t: sns.get_topic_attributes(TopicArn=t),
    "SetTopicAttributes": lambda sns, t: sns.set_topic_attributes(
        TopicArn=t, AttributeName="DisplayName", AttributeValue="d"
    ),
    "Subscribe": lambda sns, t: sns.subscribe(
        TopicArn=t, Protocol="sqs", Endpoint=f"arn:aws:sqs:{REGION}:{ACCOUNT}:q"
    ),
    "AddPermission": lambda sns, t: sns.add_permission(
        TopicArn=t, Label="l", AWSAccountId=["111111111111"], ActionName=["Publish"]
    ),
    "ListSubscriptionsByTopic": lambda sns, t: sns.list_subscriptions_by_topic(TopicArn=t),
    "TagResource": lambda sns, t: sns.tag_resource(
        ResourceArn=t, Tags=[{"Key": "k", "Value": "v"}]
    ),
    "ListTagsForResource": lambda sns, t: sns.list_tags_for_resource(ResourceArn=t),
    "DeleteTopic": lambda sns, t: sns.delete_topic(TopicArn=t),
}


@pytest.mark.parametrize("action", list(_OVER_HTTP))
def test_requests_about_an_encrypted_topic_over_plain_http_are_invalid_security(
    server: HeraldProcess, sns: Any, sns_tls: Any, key: dict[str, Any], action: str
) -> None:
    topic = _topic(sns_tls, key["KeyId"])
    code, status, message = _error(lambda: _OVER_HTTP[action](sns, topic))
    assert (code, status) == ("InvalidSecurity", 403)
    assert HTTPS_REFUSAL in message
    # And the refused request changed nothing
    assert sns_tls.get_topic_attributes(TopicArn=topic)["Attributes"]["DisplayName"] == ""
    assert sns_tls.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"] == []
    assert sns_tls.list_tags_for_resource(ResourceArn=topic)["Tags"] == []
    assert _count(server, topic) == 0


def test_an_untrusted_x_forwarded_proto_header_does_not_count_as_https(
    sns: Any, sns_tls: Any, key: dict[str, Any]
) -> None:
    topic = _topic(sns_tls, key["KeyId"])

    def claim_https(request: Any, **_: Any) -> None:
        request.headers["X-Forwarded-Proto"] = "https"

    sns.meta.events.register("before-send.sns.*", claim_https)
    code, status, _ = _error(lambda: sns.publish(TopicArn=topic, Message="m"))
    assert (code, status) == ("InvalidSecurity", 403)


def test_encryption_can_be_set_only_over_https_and_off_again_reopens_http(
    server: HeraldProcess, sns: Any, sns_tls: Any, key: dict[str, Any]
) -> None:
    # CreateTopic and SetTopicAttributes naming a key over HTTP are refused
    name = _name("sse-http")
    code, status, message = _error(
        lambda: sns.create_topic(Name=name, Attributes={"KmsMasterKeyId": key["KeyId"]})
    )
    assert (code, status) == ("InvalidSecurity", 403)
    assert HTTPS_REFUSAL in message
    listed = [t["TopicArn"] for t in sns_tls.list_topics()["Topics"]]
    assert f"arn:aws:sns:{REGION}:{ACCOUNT}:{name}" not in listed
    plain = _topic(sns_tls)
    code, status, _ = _error(
        lambda: sns.set_topic_attributes(
            TopicArn=plain, AttributeName="KmsMasterKeyId", AttributeValue=key["KeyId"]
        )
    )
    assert (code, status) == ("InvalidSecurity", 403)
    assert "KmsMasterKeyId" not in sns_tls.get_topic_attributes(TopicArn=plain)["Attributes"]
    # A topic encrypted over HTTPS refuses HTTP until its key is cleared, over HTTPS
    topic = _topic(sns_tls, key["KeyId"])
    assert _error(lambda: sns.publish(TopicArn=topic, Message="m"))[:2] == (
        "InvalidSecurity",
        403,
    )
    code, status, _ = _error(
        lambda: sns.set_topic_attributes(
            TopicArn=topic, AttributeName="KmsMasterKeyId", AttributeValue=""
        )
    )
    assert (code, status) == ("InvalidSecurity", 403)
    sns_tls.set_topic_attributes(TopicArn=topic, AttributeName="KmsMasterKeyId", AttributeValue="")
    text = f"over http {uuid.uuid4().hex}"
    message_id = sns.publish(TopicArn=topic, Message=text)["MessageId"]
    _assert_plain(server, message_id, text)
    assert "KmsMasterKeyId" not in sns.get_topic_attributes(TopicArn=topic)["Attributes"]


def test_a_trusted_tls_proxy_may_vouch_for_https(
    tmp_path: Path, own_herald: list[HeraldProcess]
) -> None:
    # Given a Herald that trusts a TLS-terminating proxy on loopback
    herald = HeraldProcess(tmp_path / "d", extra_args=["--trusted-proxy", "127.0.0.1/32"]).start()
    own_herald.append(herald)
    key_id = herald.client("kms").create_key()["KeyMetadata"]["KeyId"]  # type: ignore[attr-defined]
    topic = _topic(herald.client("sns", tls=True), key_id)
    behind_proxy: Any = herald.client("sns")
    # When a request over HTTP says nothing, Then it is refused
    assert _error(lambda: behind_proxy.publish(TopicArn=topic, Message="m"))[:2] == (
        "InvalidSecurity",
        403,
    )

    # When the proxy says the client used HTTPS, Then it is served
    def forwarded(request: Any, **_: Any) -> None:
        request.headers["X-Forwarded-Proto"] = "https"

    behind_proxy.meta.events.register("before-send.sns.*", forwarded)
    text = f"proxied {uuid.uuid4().hex}"
    message_id = behind_proxy.publish(TopicArn=topic, Message=text)["MessageId"]
    _assert_sealed(herald, message_id, text)


# -- /metrics ----------------------------------------------------------------------------


def test_metrics_count_one_data_key_for_many_publishes_within_the_reuse_period(
    server: HeraldProcess, sns_tls: Any, key: dict[str, Any]
) -> None:
    topic = _topic(sns_tls, key["Arn"])
    assert _metric(server, "GenerateDataKey", key["Arn"], topic) == 0
    sns_tls.publish(TopicArn=topic, Message="first")
    # /metrics needs no credentials and answers in the Prometheus text format
    with urllib.request.urlopen(server.http_url + "/metrics", timeout=5) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain")
        text = response.read().decode()
    assert "# TYPE herald_kms_requests_total counter" in text
    line = (
        f'herald_kms_requests_total{{operation="GenerateDataKey",key="{key["Arn"]}",'
        f'topic="{topic}"}} 1'
    )
    assert line in text.splitlines()
    # When five more messages are published within the reuse period, Then no new data key
    for i in range(5):
        sns_tls.publish(TopicArn=topic, Message=f"more {i}")
    assert _metric(server, "GenerateDataKey", key["Arn"], topic) == 1
    assert _count(server, topic) == 6


def test_fifo_and_largest_messages_are_sealed_too(
    server: HeraldProcess, sns_tls: Any, key: dict[str, Any]
) -> None:
    # A FIFO topic with content-based deduplication, encrypted
    fifo = str(
        sns_tls.create_topic(
            Name=_name("sse") + ".fifo",
            Attributes={
                "FifoTopic": "true",
                "ContentBasedDeduplication": "true",
                "KmsMasterKeyId": key["KeyId"],
            },
        )["TopicArn"]
    )
    text = f"fifo {uuid.uuid4().hex}"
    answer = sns_tls.publish(TopicArn=fifo, Message=text, MessageGroupId="g")
    assert answer["SequenceNumber"]
    _assert_sealed(server, answer["MessageId"], text)
    # A message of the largest size SNS takes (256 KiB) is accepted and sealed
    topic = _topic(sns_tls, key["Arn"])
    largest = (uuid.uuid4().hex * 8192)[: 256 * 1024]
    message_id = sns_tls.publish(TopicArn=topic, Message=largest)["MessageId"]
    _assert_sealed(server, message_id, largest[:64])


def test_a_data_key_is_reused_for_at_most_the_reuse_period(
    tmp_path: Path, own_herald: list[HeraldProcess]
) -> None:
    herald = HeraldProcess(tmp_path / "d", extra_args=["--data-key-reuse-seconds", "1"]).start()
    own_herald.append(herald)
    key_arn = herald.client("kms").create_key()["KeyMetadata"]["Arn"]  # type: ignore[attr-defined]
    sns: Any = herald.client("sns", tls=True)
    topic = _topic(sns, key_arn)
    sns.publish(TopicArn=topic, Message="one")
    sns.publish(TopicArn=topic, Message="two")
    assert _metric(herald, "GenerateDataKey", key_arn, topic) == 1
    time.sleep(1.2)
    sns.publish(TopicArn=topic, Message="three")
    assert _metric(herald, "GenerateDataKey", key_arn, topic) == 2


# -- nothing in clear on disk ------------------------------------------------------------


def test_an_encrypted_topics_message_is_nowhere_in_the_data_folder(
    tmp_path: Path, own_herald: list[HeraldProcess]
) -> None:
    herald = HeraldProcess(tmp_path / "data").start()
    own_herald.append(herald)
    sns: Any = herald.client("sns", tls=True)
    key_id = herald.client("kms").create_key()["KeyMetadata"]["KeyId"]  # type: ignore[attr-defined]
    sealed_marker = f"SEALED-MARKER-{uuid.uuid4().hex}"
    plain_marker = f"PLAIN-MARKER-{uuid.uuid4().hex}"
    encrypted = _topic(sns, key_id)
    plain = _topic(sns)
    sns.publish(TopicArn=encrypted, Message=sealed_marker, Subject="s")
    sns.publish_batch(
        TopicArn=encrypted, PublishBatchRequestEntries=[{"Id": "a", "Message": sealed_marker}]
    )
    sns.publish(TopicArn=plain, Message=plain_marker)
    time.sleep(0.2)
    assert herald.stop() == 0
    files = [p for p in sorted(herald.data_dir.rglob("*")) if p.is_file()]
    assert any(p.name == "herald.db" for p in files)
    stored = b"".join(p.read_bytes() for p in files)
    assert plain_marker.encode() in stored
    assert sealed_marker.encode() not in stored
    assert sealed_marker not in "".join(herald.output)


# -- regressions from review -------------------------------------------------------------


def test_a_publisher_without_kms_decrypt_is_refused_and_nothing_is_stored(
    server: HeraldProcess, sns_tls: Any, iam: Any, key: dict[str, Any]
) -> None:
    topic = _topic(sns_tls, key["Arn"])
    user = _user(
        iam, sns=_identity("sns:Publish", topic), kms=_identity("kms:GenerateDataKey", key["Arn"])
    )
    code, status, message = _error(
        lambda: _client(server, "sns", user).publish(TopicArn=topic, Message="unopenable")
    )
    assert (code, status) == ("KMSAccessDenied", 400)
    assert "kms:Decrypt" in message
    assert _count(server, topic) == 0


def test_subscription_requests_about_an_encrypted_topic_need_https(
    server: HeraldProcess, sns_tls: Any, key: dict[str, Any]
) -> None:
    topic = _topic(sns_tls, key["Arn"])
    queue = f"arn:aws:sqs:us-east-1:000000000000:{_name('q')}"
    sub = sns_tls.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue)["SubscriptionArn"]
    plain = server.client("sns")
    for call in (
        lambda: plain.get_subscription_attributes(SubscriptionArn=sub),
        lambda: plain.set_subscription_attributes(
            SubscriptionArn=sub, AttributeName="RawMessageDelivery", AttributeValue="true"
        ),
        lambda: plain.unsubscribe(SubscriptionArn=sub),
    ):
        assert _error(call)[:2] == ("InvalidSecurity", 403)
    assert sns_tls.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]
