"""The store's IAM renames, attachments by policy and access key use, on both backends: a
renamed user or group takes along everything that refers to it by name or ARN (and
nothing else), names stay unique regardless of case, a managed policy knows what it is
attached to, and a key's last use is the latest recorded, whichever node wrote first."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from herald.errors import AlreadyExists, NotFound
from herald.store.base import AccessKeyRecord, GroupRecord, KeyStatus, Store, UserRecord
from herald.store.base_iam import (
    AttachedEntity,
    KeyUse,
    ManagedPolicyRecord,
    RoleRecord,
    SessionKind,
    SessionRecord,
)
from tests.store import test_store_contract as contract
from tests.store.test_store_contract import ACCOUNT, NOW, Run

# The contract's fixtures: a store of each backend, and its event loop.
_drop_schemas = contract._drop_schemas
run = contract.run
open_store = contract.open_store
store = contract.store

IAM = f"arn:aws:iam::{ACCOUNT}"
DOCUMENT = '{"Version": "2012-10-17", "Statement": []}'


def _user(name: str, path: str = "/", tags: dict[str, str] | None = None) -> UserRecord:
    return UserRecord(
        ACCOUNT, name, f"AIDA{name.upper():0<16}", f"{IAM}:user{path}{name}", path, tags or {}, NOW
    )


def _group(name: str, path: str = "/") -> GroupRecord:
    return GroupRecord(
        ACCOUNT, name, f"AGPA{name.upper():0<16}", f"{IAM}:group{path}{name}", path, NOW
    )


def _role(name: str) -> RoleRecord:
    return RoleRecord(
        ACCOUNT, name, f"AROA{name.upper():0<16}", f"{IAM}:role/{name}", "/", DOCUMENT, None, 3600,
        {}, NOW,
    )  # fmt: skip


def _policy(name: str) -> ManagedPolicyRecord:
    return ManagedPolicyRecord(
        f"{IAM}:policy/{name}", ACCOUNT, name, f"ANPA{name.upper():0<16}", "/", None, "v1", 0,
        {}, NOW, NOW,
    )  # fmt: skip


def _key(key_id: str, user: UserRecord) -> AccessKeyRecord:
    return AccessKeyRecord(key_id, "secret", ACCOUNT, user.arn, user.user_id, KeyStatus.ACTIVE, NOW)


def _session(key_id: str, principal_arn: str, kind: SessionKind) -> SessionRecord:
    return SessionRecord(
        access_key_id=key_id,
        secret_access_key="secret",
        token_sha256="0" * 64,
        account_id=ACCOUNT,
        principal_arn=principal_arn,
        user_id="AIDAALICE",
        kind=kind,
        role_arn=None if kind is SessionKind.SESSION_TOKEN else f"{IAM}:role/r",
        session_policies=(),
        expires_at=NOW + 3600,
        created_at=NOW,
    )


def _given_users(store: Store, run: Run[Any], *users: UserRecord) -> None:
    run(store.ensure_account(ACCOUNT, NOW))
    for user in users:
        assert run(store.create_user(user))


# -- users -----------------------------------------------------------------------------


def test_a_renamed_user_takes_its_groups_policies_keys_and_sessions_along(
    store: Store, run: Run[Any]
) -> None:
    # Given a user with tags, a group, an inline and an attached policy, an access key, a
    # GetSessionToken session; and another user's key and an assumed-role session
    alice, bob = _user("alice", "/a/", {"team": "blue"}), _user("bob")
    _given_users(store, run, alice, bob)
    assert run(store.create_group(_group("devs")))
    run(store.add_group_member(ACCOUNT, "devs", "alice"))
    run(store.put_inline_policy(alice.arn, "own", DOCUMENT, 2048))
    policy = _policy("shared")
    assert run(store.create_managed_policy(policy, DOCUMENT))
    run(store.attach_policy(alice.arn, policy.arn, 10))
    run(store.add_access_key(_key("AKIAALICE0000001", alice), 2))
    run(store.add_access_key(_key("AKIABOB000000001", bob), 2))
    run(store.put_session(_session("ASIAALICE0000001", alice.arn, SessionKind.SESSION_TOKEN), NOW))
    assumed = f"arn:aws:sts::{ACCOUNT}:assumed-role/r/alice"
    run(store.put_session(_session("ASIAROLE00000001", assumed, SessionKind.ASSUMED_ROLE), NOW))

    # When the user is renamed and moved
    new_arn = f"{IAM}:user/b/alicia"
    moved = run(store.rename_user(ACCOUNT, "alice", "alicia", "/b/", new_arn))

    # Then its key and its session (not the others) are reported as now signing as it
    assert sorted(moved) == ["AKIAALICE0000001", "ASIAALICE0000001"]
    # And the user is known by its new name only, with its id and tags
    assert run(store.get_user(ACCOUNT, "alice")) is None
    renamed = run(store.get_user(ACCOUNT, "alicia"))
    assert renamed == UserRecord(
        ACCOUNT, "alicia", alice.user_id, new_arn, "/b/", {"team": "blue"}, NOW
    )
    # And what referred to it by name or ARN refers to the new one
    assert [u.name for u in run(store.list_group_members(ACCOUNT, "devs"))] == ["alicia"]
    assert [g.name for g in run(store.list_groups_for_user(ACCOUNT, "alicia"))] == ["devs"]
    assert run(store.get_inline_policies(new_arn)) == {"own": DOCUMENT}
    assert run(store.get_inline_policies(alice.arn)) == {}
    assert [p.arn for p in run(store.list_attached_policies(new_arn))] == [policy.arn]
    assert run(store.list_attached_policies(alice.arn)) == []
    assert [k.access_key_id for k in run(store.list_access_keys(new_arn))] == ["AKIAALICE0000001"]
    key = run(store.get_access_key("AKIAALICE0000001"))
    assert key is not None and key.principal_arn == new_arn
    session = run(store.get_session("ASIAALICE0000001"))
    assert session is not None and session.principal_arn == new_arn
    # And nothing of the other user's, nor the assumed-role session, changed
    other = run(store.get_session("ASIAROLE00000001"))
    assert other is not None and other.principal_arn == assumed
    bob_key = run(store.get_access_key("AKIABOB000000001"))
    assert bob_key is not None and bob_key.principal_arn == bob.arn


def test_a_user_cannot_take_another_users_name_in_any_case(store: Store, run: Run[Any]) -> None:
    # Given two users
    _given_users(store, run, _user("alice"), _user("bob"))
    # When one takes the other's name, in another case, Then AlreadyExists, nothing moved
    with pytest.raises(AlreadyExists, match=r"User with name BOB already exists\."):
        run(store.rename_user(ACCOUNT, "alice", "BOB", "/", f"{IAM}:user/BOB"))
    assert run(store.get_user(ACCOUNT, "alice")) == _user("alice")
    # When a user takes its own name in another case, Then it is renamed
    run(store.rename_user(ACCOUNT, "alice", "Alice", "/", f"{IAM}:user/Alice"))
    renamed = run(store.get_user(ACCOUNT, "Alice"))
    assert renamed is not None and renamed.user_id == _user("alice").user_id
    # When the user does not exist, Then NotFound
    with pytest.raises(NotFound):
        run(store.rename_user(ACCOUNT, "carol", "caroline", "/", f"{IAM}:user/caroline"))


# -- groups ----------------------------------------------------------------------------


def test_a_renamed_group_takes_its_members_and_policies_along(store: Store, run: Run[Any]) -> None:
    # Given a group with a member, an inline and an attached policy, and another group
    _given_users(store, run, _user("alice"))
    devs, ops = _group("devs", "/x/"), _group("ops")
    assert run(store.create_group(devs)) and run(store.create_group(ops))
    run(store.add_group_member(ACCOUNT, "devs", "alice"))
    run(store.add_group_member(ACCOUNT, "ops", "alice"))
    run(store.put_inline_policy(devs.arn, "own", DOCUMENT, 5120))
    policy = _policy("shared")
    assert run(store.create_managed_policy(policy, DOCUMENT))
    run(store.attach_policy(devs.arn, policy.arn, 10))
    # When it is renamed and moved
    new_arn = f"{IAM}:group/y/developers"
    run(store.rename_group(ACCOUNT, "devs", "developers", "/y/", new_arn))
    # Then it is known by its new name only, with its id, members and policies
    assert run(store.get_group(ACCOUNT, "devs")) is None
    assert run(store.get_group(ACCOUNT, "developers")) == GroupRecord(
        ACCOUNT, "developers", devs.group_id, new_arn, "/y/", NOW
    )
    assert [u.name for u in run(store.list_group_members(ACCOUNT, "developers"))] == ["alice"]
    assert [g.name for g in run(store.list_groups_for_user(ACCOUNT, "alice"))] == [
        "developers",
        "ops",
    ]
    assert run(store.get_inline_policies(new_arn)) == {"own": DOCUMENT}
    assert run(store.get_inline_policies(devs.arn)) == {}
    assert [p.arn for p in run(store.list_attached_policies(new_arn))] == [policy.arn]
    # And a rename onto the other group's name, in any case, is refused
    with pytest.raises(AlreadyExists, match=r"Group with name OPS already exists\."):
        run(store.rename_group(ACCOUNT, "developers", "OPS", "/", f"{IAM}:group/OPS"))
    with pytest.raises(NotFound):
        run(store.rename_group(ACCOUNT, "devs", "again", "/", f"{IAM}:group/again"))


# -- attachments by policy -------------------------------------------------------------


def test_a_policy_lists_the_users_groups_and_roles_it_is_attached_to(
    store: Store, run: Run[Any]
) -> None:
    # Given a policy attached to a user, a group and a role, and another policy
    alice = _user("alice", "/a/")
    _given_users(store, run, alice, _user("bob"))
    devs, reader = _group("devs"), _role("reader")
    assert run(store.create_group(devs)) and run(store.create_role(reader))
    shared, other = _policy("shared"), _policy("other")
    for policy in (shared, other):
        assert run(store.create_managed_policy(policy, DOCUMENT))
    for holder in (alice.arn, devs.arn, reader.arn):
        run(store.attach_policy(holder, shared.arn, 10))
    run(store.attach_policy(_user("bob").arn, other.arn, 10))
    # When the entities of each are listed, Then each has its own, with ids and paths
    entities = sorted(run(store.list_policy_entities(shared.arn)), key=lambda e: e.kind)
    assert entities == [
        AttachedEntity("Group", "devs", devs.group_id, "/"),
        AttachedEntity("Role", "reader", reader.role_id, "/"),
        AttachedEntity("User", "alice", alice.user_id, "/a/"),
    ]
    assert run(store.list_policy_entities(other.arn)) == [
        AttachedEntity("User", "bob", _user("bob").user_id, "/")
    ]
    # And a detached entity is no longer listed
    run(store.detach_policy(reader.arn, shared.arn))
    assert {e.kind for e in run(store.list_policy_entities(shared.arn))} == {"Group", "User"}
    assert run(store.list_policy_entities(f"{IAM}:policy/none")) == []


# -- access key use --------------------------------------------------------------------


def test_a_keys_last_use_is_the_latest_recorded(store: Store, run: Run[Any]) -> None:
    # Given a user's key that has never been used
    alice = _user("alice")
    _given_users(store, run, alice)
    run(store.add_access_key(_key("AKIAALICE0000001", alice), 2))
    assert run(store.get_key_use("AKIAALICE0000001")) is None
    # When a use is recorded, Then it is the key's last
    first = KeyUse(NOW + 10, "sns", "eu-west-2")
    run(store.record_key_use("AKIAALICE0000001", first))
    assert run(store.get_key_use("AKIAALICE0000001")) == first
    # When an earlier use arrives later (another node's), Then the later one stays
    run(store.record_key_use("AKIAALICE0000001", KeyUse(NOW + 5, "kms", "us-east-1")))
    assert run(store.get_key_use("AKIAALICE0000001")) == first
    # When a later use is recorded, Then it replaces the last
    later = KeyUse(NOW + 70, "sqs", "us-east-1")
    run(store.record_key_use("AKIAALICE0000001", later))
    assert run(store.get_key_use("AKIAALICE0000001")) == later
    # And the key's other fields are untouched by it
    key = run(store.get_access_key("AKIAALICE0000001"))
    assert key == _key("AKIAALICE0000001", alice)
    # When the key is gone (or never was), Then a use is no error and none is known
    run(store.delete_access_key(alice.arn, "AKIAALICE0000001"))
    run(store.record_key_use("AKIAALICE0000001", KeyUse(NOW + 80, "sns", "us-east-1")))
    assert run(store.get_key_use("AKIAALICE0000001")) is None
    assert run(store.get_key_use("AKIAUNKNOWN00001")) is None


def test_a_renamed_user_is_followed_by_trust_policies_and_saved_principals(
    store: Store, run: Run[Any]
) -> None:
    # Given a user that a role's trust policy names, and that published a sealed message
    # (its sealing key keeps the publisher, for the Decrypt made at delivery)
    alice, bob = _user("alice"), _user("bob")
    _given_users(store, run, alice, bob)
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": [alice.arn, bob.arn]}, "Action": "x"},
            {"Effect": "Deny", "NotPrincipal": {"AWS": alice.arn}, "Action": "y"},
        ],
    }
    role = _role("trusting")
    assert run(store.create_role(replace(role, trust_policy=json.dumps(trust))))
    topic = contract.topic_record()
    run(store.create_topic(topic, {}))
    sealing = replace(
        contract._sealing_key(topic),
        publisher_identity=json.dumps(
            {"account": ACCOUNT, "arn": alice.arn, "user_id": alice.user_id},
            separators=(",", ":"),
        ),
    )
    message = contract._sealed_with(topic, sealing)
    run(store.add_messages([message], sealing_keys=[sealing]))
    # When the user is renamed
    new_arn = f"{IAM}:user/alicia"
    run(store.rename_user(ACCOUNT, "alice", "alicia", "/", new_arn))
    # Then the trust policy names it by its new ARN, where it named it as a principal
    stored = run(store.get_role(ACCOUNT, "trusting"))
    assert stored is not None
    statements = json.loads(stored.trust_policy)["Statement"]
    assert statements[0]["Principal"]["AWS"] == [new_arn, bob.arn]
    assert statements[1]["NotPrincipal"]["AWS"] == new_arn
    # And the sealed message's publisher is the renamed user
    kept = run(store.get_sealing_key(sealing.sealing_id))
    assert kept is not None
    assert json.loads(kept.publisher_identity) == {
        "account": ACCOUNT,
        "arn": new_arn,
        "user_id": alice.user_id,
    }
