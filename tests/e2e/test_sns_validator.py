"""The signatures of what Herald delivers to HTTP endpoints, checked by an independent
verifier: AWS's `sns-validator` npm package (tests/js, installed by `make test`), run by
Node.js through tests/js/validate.js. Herald's certificate is trusted through
NODE_EXTRA_CA_CERTS, and the validator accepts exactly Herald's TLS host and port as the
SigningCertURL host. A missing node, npm or tests/js/node_modules fails, never skips."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import HeraldProcess
from tests.e2e.receiver import Receiver

JS = Path(__file__).resolve().parent.parent / "js"
UNICODE = "Grüße aus Köln — 東京 ✓ 🚀\nzweite Zeile"


@dataclass(frozen=True)
class Verdict:
    exit_code: int
    results: list[dict[str, Any]]
    stderr: str


@dataclass(frozen=True)
class Delivered:
    """What the receiver got, as bytes on the wire, and the documents parsed."""

    bodies: list[bytes]

    @property
    def documents(self) -> list[dict[str, Any]]:
        return [json.loads(body) for body in self.bodies]

    def notification(self, version: str) -> dict[str, Any]:
        return next(
            d
            for d in self.documents
            if d["Type"] == "Notification" and d["SignatureVersion"] == version and "Subject" in d
        )


@pytest.fixture(scope="module")
def node() -> str:
    """Node.js, npm and sns-validator installed in tests/js (`make test` runs `npm ci`)."""
    executable = shutil.which("node")
    assert executable, "Node.js (node) must be installed to run sns-validator"
    assert shutil.which("npm"), "npm must be installed to install sns-validator"
    installed = JS / "node_modules" / "sns-validator" / "package.json"
    assert installed.is_file(), "sns-validator is missing: run `make test` (npm ci in tests/js)"
    return executable


@pytest.fixture(scope="module")
def herald(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HeraldProcess]:
    process = HeraldProcess(tmp_path_factory.mktemp("herald-sns-validator")).start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()


@pytest.fixture(scope="module")
def delivered(herald: HeraldProcess, receiver: Receiver) -> Delivered:
    """Confirmations and notifications of a SignatureVersion 1 and a 2 topic, with and
    without a Subject, one of them Unicode, as the receiver got them."""
    sns: Any = herald.client("sns")
    topics = [
        sns.create_topic(Name="signed-v1")["TopicArn"],
        sns.create_topic(Name="signed-v2", Attributes={"SignatureVersion": "2"})["TopicArn"],
    ]
    for topic in topics:
        sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=receiver.url)
    receiver.wait_for(lambda rs: len(rs) >= len(topics))
    for confirmation in receiver.of_type("SubscriptionConfirmation"):
        document = confirmation.json()
        sns.confirm_subscription(TopicArn=document["TopicArn"], Token=document["Token"])

    for topic in topics:
        sns.publish(TopicArn=topic, Message="with a subject", Subject="Greetings")
        sns.publish(TopicArn=topic, Message="without a subject")
        sns.publish(
            TopicArn=topic,
            Message=UNICODE,
            MessageAttributes={"colour": {"DataType": "String", "StringValue": "blau"}},
        )
    receiver.wait_for(lambda rs: len(rs) >= len(topics) * 4)
    return Delivered([r.body for r in receiver.received])


def cert_host(herald: HeraldProcess) -> str:
    """Herald's TLS host as sns-validator tests it: url.parse(SigningCertURL).host."""
    return f"127.0.0.1:{herald.tls_port}"


def validate(node: str, herald: HeraldProcess, documents: list[bytes], host: str | None) -> Verdict:
    """Run validate.js on the documents (JSON texts, unchanged) as one JSON array; with
    host None, sns-validator accepts only its default, AWS's certificate hosts."""
    env = {**os.environ, "NODE_EXTRA_CA_CERTS": herald.ca_bundle}
    done = subprocess.run(
        [node, str(JS / "validate.js"), *(["--cert-host", host] if host is not None else [])],
        input=b"[" + b",".join(documents) + b"]",
        capture_output=True,
        env=env,
        timeout=60,
    )
    results = [json.loads(line) for line in done.stdout.decode().splitlines()]
    return Verdict(done.returncode, results, done.stderr.decode())


def test_every_document_herald_delivers_passes_sns_validator(
    node: str, herald: HeraldProcess, delivered: Delivered
) -> None:
    # Given both signature versions, with and without a Subject, and Unicode in a Message
    documents = delivered.documents
    kinds = {(d["Type"], d["SignatureVersion"], "Subject" in d) for d in documents}
    assert kinds == {
        ("SubscriptionConfirmation", "1", False),
        ("SubscriptionConfirmation", "2", False),
        ("Notification", "1", True),
        ("Notification", "1", False),
        ("Notification", "2", True),
        ("Notification", "2", False),
    }
    assert sum(d.get("Message") == UNICODE for d in documents) == 2
    assert {d["SigningCertURL"].split("/SimpleNotificationService-")[0] for d in documents} == {
        herald.https_url
    }

    # When sns-validator checks each, as bytes on the wire
    verdict = validate(node, herald, delivered.bodies, cert_host(herald))

    # Then every signature is valid
    assert verdict.results == [
        {"index": i, "ok": True, "type": d["Type"], "messageId": d["MessageId"]}
        for i, d in enumerate(documents)
    ], verdict.stderr
    assert verdict.exit_code == 0, verdict.stderr


@pytest.mark.parametrize("version", ["1", "2"])
@pytest.mark.parametrize(
    ("field", "value"),
    [("Message", "with a subject!"), ("Subject", "Greetings!"), ("Timestamp", "2020-01-01")],
)
def test_a_tampered_notification_is_rejected(
    node: str, herald: HeraldProcess, delivered: Delivered, version: str, field: str, value: str
) -> None:
    # Given a notification as delivered, and a copy with one signed field changed
    original = delivered.notification(version)
    tampered = {**original, field: value}

    # When sns-validator checks both
    documents = [json.dumps(d).encode() for d in (original, tampered)]
    verdict = validate(node, herald, documents, cert_host(herald))

    # Then the original passes and the copy does not
    assert verdict.results == [
        {"index": 0, "ok": True, "type": "Notification", "messageId": original["MessageId"]},
        {"index": 1, "ok": False, "error": "The message signature is invalid."},
    ], verdict.stderr
    assert verdict.exit_code == 1


def test_sns_validator_refuses_a_certificate_host_it_was_not_told_to_trust(
    node: str, herald: HeraldProcess, delivered: Delivered
) -> None:
    # Given a notification whose SigningCertURL is on Herald's TLS port
    body = json.dumps(delivered.notification("1")).encode()

    # When sns-validator expects AWS's hosts, or Herald's host on no port or another port
    for host in [None, f"127.0.0.1:{herald.tls_port + 1}", "127.0.0.1"]:
        verdict = validate(node, herald, [body], host)

        # Then it refuses the certificate's URL before fetching it
        assert verdict.results == [
            {"index": 0, "ok": False, "error": "The certificate is located on an invalid domain."}
        ], verdict.stderr
        assert verdict.exit_code == 1
