"""Email delivery through a real SMTP server (aiosmtpd): the confirmation email and its
link, notifications in "email" and "email-json" form, SMTP login, encrypted topics arriving
decrypted, and a relay that refuses the recipient."""

from __future__ import annotations

import email
import email.message
import email.policy
import json
import re
import socket
import ssl
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session

from tests.e2e.harness import HeraldProcess
from tests.e2e.test_delivery_http import _certificate_authority

USER, PASSWORD = "herald", "smtp-secret-not-in-logs"
REFUSED = "nobody@refused.example"


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[tuple[Envelope, email.message.EmailMessage]] = []
        self.lock = threading.Lock()

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self, server: Any, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if address == REFUSED:
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802 - aiosmtpd's hook name
        self, server: Any, session: Session, envelope: Envelope
    ) -> str:
        assert isinstance(envelope.content, bytes)
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, email.message.EmailMessage)
        with self.lock:
            self.messages.append((envelope, parsed))
        return "250 Message accepted"

    def wait_for(
        self, to: str, count: int, timeout: float = 20
    ) -> list[email.message.EmailMessage]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                found = [m for e, m in self.messages if to in e.rcpt_tos]
            if len(found) >= count:
                return found
            time.sleep(0.02)
        raise AssertionError(f"{count} messages for {to} did not arrive: {len(found)} did")


def _authenticate(
    server: Any, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login == USER.encode()
        and auth_data.password == PASSWORD.encode()
    )
    return AuthResult(success=ok, handled=False)


@pytest.fixture(scope="module")
def smtp_tls(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ssl.SSLContext]:
    """The relay's certificate, from a CA that Herald is told to trust."""
    return _certificate_authority(tmp_path_factory.mktemp("smtp-ca"))


@pytest.fixture(scope="module")
def mailbox(smtp_tls: tuple[Path, ssl.SSLContext]) -> Iterator[tuple[Mailbox, int]]:
    """A relay that requires STARTTLS and a login, as a real one would."""
    box = Mailbox()
    with socket.socket() as probe:  # aiosmtpd checks its port by connecting: not 0
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(
        box,
        hostname="127.0.0.1",
        port=port,
        authenticator=_authenticate,
        auth_required=True,
        tls_context=smtp_tls[1],
        require_starttls=True,
    )
    controller.start()
    try:
        yield box, port
    finally:
        controller.stop()


@pytest.fixture(scope="module")
def herald(
    tmp_path_factory: pytest.TempPathFactory,
    mailbox: tuple[Mailbox, int],
    smtp_tls: tuple[Path, ssl.SSLContext],
) -> Iterator[HeraldProcess]:
    process = HeraldProcess(
        tmp_path_factory.mktemp("herald-email"),
        extra_args=[
            "--delivery-ca-bundle", str(smtp_tls[0]),
            "--smtp-host", "127.0.0.1",
            "--smtp-port", str(mailbox[1]),
            "--smtp-user", USER,
            "--smtp-from", "alerts@herald.test",
        ],
        extra_env={"HERALD_SMTP_PASSWORD": PASSWORD},
    ).start()  # fmt: skip
    yield process
    process.stop()
    assert PASSWORD not in "".join(process.output)


def _link(text: str, herald: HeraldProcess) -> str:
    match = re.search(re.escape(herald.https_url) + r"/\?Action=ConfirmSubscription\S+", text)
    assert match, text
    return match[0]


def _follow(url: str, herald: HeraldProcess) -> str:
    context = ssl.create_default_context(cafile=herald.ca_bundle)
    with urllib.request.urlopen(url, context=context) as answer:
        return str(answer.read().decode())


def test_email_confirmation_link_then_a_notification(
    herald: HeraldProcess, mailbox: tuple[Mailbox, int]
) -> None:
    box, _ = mailbox
    sns: Any = herald.client("sns")
    topic = sns.create_topic(Name="mail", Attributes={"DisplayName": "Ops alerts"})["TopicArn"]
    to = "alice@example.com"
    sns.subscribe(TopicArn=topic, Protocol="email", Endpoint=to)

    confirmation = box.wait_for(to, 1)[0]
    assert confirmation["Subject"] == "AWS Notification - Subscription Confirmation"
    assert confirmation["From"].addresses[0].addr_spec == "alerts@herald.test"
    assert confirmation["From"].addresses[0].display_name == "Ops alerts"
    text = confirmation.get_content()
    assert topic in text
    answer = _follow(_link(text, herald), herald)
    arn = answer.split("<SubscriptionArn>")[1].split("</SubscriptionArn>")[0]
    assert (
        sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]["PendingConfirmation"]
        == "false"
    )

    sns.publish(TopicArn=topic, Message="disk almost full", Subject="Disk")
    notification = box.wait_for(to, 2)[1]
    assert notification["Subject"] == "Disk"
    body = notification.get_content()
    assert body.startswith("disk almost full")
    assert f"{herald.https_url}/?Action=Unsubscribe&SubscriptionArn={arn}" in body

    sns.publish(TopicArn=topic, Message="no subject")
    assert box.wait_for(to, 3)[2]["Subject"] == "AWS Notification Message"


def test_email_json_gets_the_json_documents(
    herald: HeraldProcess, mailbox: tuple[Mailbox, int]
) -> None:
    box, _ = mailbox
    sns: Any = herald.client("sns", tls=True)
    topic = sns.create_topic(Name="mail-json", Attributes={"KmsMasterKeyId": "alias/aws/sns"})[
        "TopicArn"
    ]
    to = "bob@example.com"
    sns.subscribe(TopicArn=topic, Protocol="email-json", Endpoint=to)
    document = json.loads(box.wait_for(to, 1)[0].get_content())
    assert document["Type"] == "SubscriptionConfirmation"
    sns.confirm_subscription(TopicArn=topic, Token=document["Token"])

    secret = "sealed at rest, plain in the mailbox"
    message_id = sns.publish(TopicArn=topic, Message=secret)["MessageId"]
    notification = json.loads(box.wait_for(to, 2)[1].get_content())
    assert notification["Type"] == "Notification"
    assert notification["MessageId"] == message_id
    assert notification["Message"] == secret
    on_disk = b"".join(p.read_bytes() for p in herald.data_dir.rglob("*") if p.is_file())
    assert secret.encode() not in on_disk


def test_a_refused_recipient_is_not_retried(
    herald: HeraldProcess, mailbox: tuple[Mailbox, int]
) -> None:
    sns: Any = herald.client("sns")
    topic = sns.create_topic(Name="mail-refused")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="email", Endpoint=REFUSED)
    deadline = time.monotonic() + 20
    while "given up after 1 attempts" not in "".join(herald.output):
        assert time.monotonic() < deadline, "".join(herald.output[-20:])
        time.sleep(0.05)
    assert "550" in "".join(herald.output)


def test_a_wrong_smtp_password_is_retried_not_dropped(
    tmp_path_factory: pytest.TempPathFactory,
    mailbox: tuple[Mailbox, int],
    smtp_tls: tuple[Path, ssl.SSLContext],
) -> None:
    process = HeraldProcess(
        tmp_path_factory.mktemp("herald-email-bad"),
        extra_args=["--delivery-ca-bundle", str(smtp_tls[0]),
                    "--smtp-host", "127.0.0.1", "--smtp-port", str(mailbox[1]),
                    "--smtp-user", USER],
        extra_env={"HERALD_SMTP_PASSWORD": "wrong"},
    ).start()  # fmt: skip
    try:
        sns: Any = process.client("sns")
        topic = sns.create_topic(Name="mail-bad-login")["TopicArn"]
        sns.subscribe(TopicArn=topic, Protocol="email", Endpoint="carol@example.com")
        deadline = time.monotonic() + 20
        while "retrying in" not in "".join(process.output):
            assert time.monotonic() < deadline, "".join(process.output[-20:])
            time.sleep(0.05)
        assert "refused Herald's login" in "".join(process.output)
    finally:
        process.stop()
