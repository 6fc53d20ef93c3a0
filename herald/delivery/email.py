"""Sending email through the operator's SMTP relay (aiosmtplib), in SNS's formats.

A permanent refusal (5xx) is a client-side failure; an unreachable relay or a temporary
refusal (4xx) is a server-side one, retried by the customer-managed policy.
"""

from __future__ import annotations

import email.message
import email.utils
import ssl
from dataclasses import dataclass, field

import aiosmtplib

from herald.delivery.failures import DeliveryFailed

NOTIFICATION_SUBJECT = "AWS Notification Message"
CONFIRMATION_SUBJECT = "AWS Notification - Subscription Confirmation"


@dataclass(frozen=True)
class SMTPSettings:
    host: str | None
    port: int = 25
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    sender: str = "no-reply@sns.herald.invalid"
    tls_context: ssl.SSLContext | None = None


def notification_text(message: str, unsubscribe_url: str) -> str:
    """The body of an "email" notification: the message, then the unsubscribe link."""
    return (
        f"{message}\n\n--\nIf you wish to stop receiving notifications from this topic, "
        f"please click or visit the link below to unsubscribe:\n{unsubscribe_url}\n\n"
        "Please do not reply directly to this email.\n"
    )


def confirmation_text(topic_arn: str, subscribe_url: str) -> str:
    return (
        f"You have chosen to subscribe to the topic: \n{topic_arn}\n\n"
        "To confirm this subscription, click or visit the link below (If this was in error "
        f"no action is necessary): \nConfirm subscription:\n{subscribe_url}\n\n"
        "Please do not reply directly to this email.\n"
    )


class EmailSender:
    def __init__(self, settings: SMTPSettings, timeout: float = 10.0) -> None:
        self._settings = settings
        self._timeout = timeout

    async def send(self, to: str, subject: str, text: str, from_name: str) -> None:
        settings = self._settings
        if not settings.host:
            raise DeliveryFailed(
                "NoSMTPRelay",
                "Herald has no SMTP relay to send email through (--smtp-host)",
                client_side=False,
            )
        message = email.message.EmailMessage()
        try:
            message["From"] = email.utils.formataddr((from_name, settings.sender))
            message["To"] = to
            message["Subject"] = subject
            message["Date"] = email.utils.formatdate(localtime=False)
            message["Message-ID"] = email.utils.make_msgid(domain=settings.sender.split("@")[-1])
            message.set_content(text)
        except (ValueError, TypeError) as exc:
            # What cannot be put in an email now never can: not retried.
            raise DeliveryFailed(
                "InvalidMessage", f"The message cannot be sent as email: {exc}", client_side=True
            ) from None
        try:
            await aiosmtplib.send(
                message,
                hostname=settings.host,
                port=settings.port,
                username=settings.user,
                password=settings.password,
                timeout=self._timeout,
                tls_context=settings.tls_context,
                # A login never goes in clear: STARTTLS is then required, not optional.
                start_tls=True if settings.user else None,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            refused = exc.recipients[0] if exc.recipients else None
            code = refused.code if refused is not None else 550
            raise DeliveryFailed(
                str(code), f"The SMTP relay refused {to}: {refused}"[:512], client_side=code >= 500
            ) from None
        except aiosmtplib.SMTPAuthenticationError as exc:
            # The operator's credentials, not the recipient: worth retrying once fixed.
            raise DeliveryFailed(
                str(exc.code),
                f"The SMTP relay refused Herald's login: {exc.code}",
                client_side=False,
            ) from None
        except aiosmtplib.SMTPResponseException as exc:
            raise DeliveryFailed(
                str(exc.code),
                f"The SMTP relay answered {exc.code} {exc.message}"[:512],
                client_side=exc.code >= 500,
            ) from None
        except (TimeoutError, aiosmtplib.SMTPException, OSError) as exc:
            raise DeliveryFailed(
                type(exc).__name__,
                f"The SMTP relay could not be reached: {exc}"[:512],
                client_side=False,
            ) from None
