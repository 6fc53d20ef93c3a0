"""Settings: one frozen object, built once from flags and an environment mapping.

Every flag of ``herald serve`` has an environment variable ``HERALD_<NAME>``; a flag given
on the command line wins over the environment, which wins over the default.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from herald.store import factory

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 4566
DEFAULT_TLS_PORT = 4567
DEFAULT_DATA_DIR = ".herald"
DEFAULT_MAX_REQUEST_BYTES = 2 * 1024 * 1024  # a 1 MiB message with its JSON wrapping
DEFAULT_MAX_CONNECTIONS = 1024
BOOTSTRAP_ACCOUNT = "000000000000"


@dataclass(frozen=True)
class Settings:
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    tls_port: int = DEFAULT_TLS_PORT
    data_dir: Path = Path(DEFAULT_DATA_DIR)
    tls_cert: Path | None = None
    tls_key: Path | None = None
    root_access_key_id: str | None = None
    root_secret_access_key: str | None = field(default=None, repr=False)
    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES
    log_level: str = "info"
    access_log: bool = False
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    root_key: str | None = field(default=None, repr=False)  # base64 of 32 bytes
    kms_crypto_rps: int = 10_000
    kms_management_rps: int = 100
    data_key_reuse_seconds: int = 300
    trusted_proxies: tuple[str, ...] = ()  # CIDRs whose X-Forwarded-Proto counts
    metrics: bool = True  # serve /metrics
    # Herald's HTTPS endpoint as subscribers reach it (SigningCertURL, SubscribeURL,
    # UnsubscribeURL); by default the TLS listener's own address.
    public_url: str | None = None
    delivery_ca_bundle: Path | None = None  # CAs for HTTPS endpoints, else the system's
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_user: str | None = None
    smtp_password: str | None = field(default=None, repr=False)
    smtp_from: str = "no-reply@sns.herald.invalid"
    # A postgresql:// URL: several Herald nodes share that database. None: SQLite in
    # the data folder.
    database_url: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        for name in ("port", "tls_port"):
            value = getattr(self, name)
            if not 0 <= value <= 65535:
                raise ValueError(f"{name} must be between 0 and 65535, not {value}")
        if self.port and self.port == self.tls_port:
            raise ValueError("port and tls-port must differ")
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("--tls-cert and --tls-key go together")
        if (self.root_access_key_id is None) != (self.root_secret_access_key is None):
            raise ValueError(
                "HERALD_ROOT_ACCESS_KEY_ID and HERALD_ROOT_SECRET_ACCESS_KEY go together"
            )
        if self.max_request_bytes < 1024:
            raise ValueError("max-request-bytes must be at least 1024")
        if self.kms_crypto_rps < 1 or self.kms_management_rps < 1:
            raise ValueError("kms-crypto-rps and kms-management-rps must be at least 1")
        if not 1 <= self.data_key_reuse_seconds <= 86400:
            raise ValueError("data-key-reuse-seconds must be between 1 and 86400")
        for cidr in self.trusted_proxies:
            try:
                ipaddress.ip_network(cidr, strict=False)
            except ValueError:
                raise ValueError(
                    f"trusted-proxy must be an address or CIDR, not {cidr!r}"
                ) from None
        if self.max_connections < 1:
            raise ValueError("max-connections must be at least 1")
        if self.public_url is not None and not self.public_url.startswith("https://"):
            raise ValueError(f"public-url must be an https:// URL, not {self.public_url!r}")
        if not 0 < self.smtp_port <= 65535:
            raise ValueError(f"smtp-port must be between 1 and 65535, not {self.smtp_port}")
        if (self.smtp_user is None) != (self.smtp_password is None):
            raise ValueError("--smtp-user and HERALD_SMTP_PASSWORD go together")
        if self.database_url is not None:
            factory.check_url(self.database_url)
        if "@" not in self.smtp_from:
            raise ValueError(f"smtp-from must be an email address, not {self.smtp_from!r}")

    @property
    def database_path(self) -> Path:
        return self.data_dir / "herald.db"

    @property
    def root_key_path(self) -> Path:
        return self.data_dir / "root.key"

    @property
    def credentials_path(self) -> Path:
        return self.data_dir / "credentials"


def from_sources(flags: Mapping[str, object | None], env: Mapping[str, str]) -> Settings:
    """Build Settings from parsed flags (None when not given) and an environment."""

    def pick(name: str) -> str | None:
        value = flags.get(name)
        if value is not None:
            return str(value)
        return env.get("HERALD_" + name.upper())

    def number(name: str, default: int) -> int:
        value = pick(name)
        if value is None or value == "":
            return default
        try:
            return int(value)
        except ValueError:
            raise ValueError(f"{name.replace('_', '-')} must be a number, not {value!r}") from None

    def path(name: str) -> Path | None:
        value = pick(name)
        return Path(value) if value else None

    return Settings(
        host=pick("host") or DEFAULT_HOST,
        port=number("port", DEFAULT_PORT),
        tls_port=number("tls_port", DEFAULT_TLS_PORT),
        data_dir=path("data_dir") or Path(DEFAULT_DATA_DIR),
        tls_cert=path("tls_cert"),
        tls_key=path("tls_key"),
        root_access_key_id=env.get("HERALD_ROOT_ACCESS_KEY_ID") or None,
        root_secret_access_key=env.get("HERALD_ROOT_SECRET_ACCESS_KEY") or None,
        max_request_bytes=number("max_request_bytes", DEFAULT_MAX_REQUEST_BYTES),
        max_connections=number("max_connections", DEFAULT_MAX_CONNECTIONS),
        log_level=(pick("log_level") or "info").lower(),
        access_log=(pick("access_log") or "").lower() in ("1", "true", "yes"),
        root_key=env.get("HERALD_ROOT_KEY") or None,
        kms_crypto_rps=number("kms_crypto_rps", 10_000),
        kms_management_rps=number("kms_management_rps", 100),
        data_key_reuse_seconds=number("data_key_reuse_seconds", 300),
        trusted_proxies=tuple(
            p.strip() for p in (pick("trusted_proxy") or "").split(",") if p.strip()
        ),
        metrics=(pick("metrics") or "true").lower() not in ("0", "false", "no", "off"),
        public_url=(pick("public_url") or "").rstrip("/") or None,
        delivery_ca_bundle=path("delivery_ca_bundle"),
        smtp_host=pick("smtp_host") or None,
        smtp_port=number("smtp_port", 25),
        smtp_user=pick("smtp_user") or None,
        smtp_password=env.get("HERALD_SMTP_PASSWORD") or None,
        smtp_from=pick("smtp_from") or "no-reply@sns.herald.invalid",
        database_url=pick("database") or env.get("HERALD_DATABASE_URL") or None,
    )
