"""Settings: a flag wins over the environment, which wins over the default."""

from __future__ import annotations

from pathlib import Path

import pytest

from herald import config


def test_defaults_when_nothing_is_given() -> None:
    settings = config.from_sources({}, {})
    assert (settings.host, settings.port, settings.tls_port) == ("127.0.0.1", 4566, 4567)
    assert settings.data_dir == Path(".herald")
    assert settings.tls_cert is None and settings.root_access_key_id is None


@pytest.mark.parametrize(
    ("flags", "env", "expected_port"),
    [
        ({}, {"HERALD_PORT": "5000"}, 5000),
        ({"port": 6000}, {"HERALD_PORT": "5000"}, 6000),
        ({"port": None}, {"HERALD_PORT": "5000"}, 5000),
        ({}, {"HERALD_PORT": ""}, 4566),
    ],
)
def test_a_flag_wins_over_the_environment(
    flags: dict[str, object], env: dict[str, str], expected_port: int
) -> None:
    assert config.from_sources(flags, env).port == expected_port


def test_every_serve_setting_has_an_environment_variable(tmp_path: Path) -> None:
    env = {
        "HERALD_HOST": "::1",
        "HERALD_PORT": "1",
        "HERALD_TLS_PORT": "2",
        "HERALD_DATA_DIR": str(tmp_path),
        "HERALD_TLS_CERT": "c.pem",
        "HERALD_TLS_KEY": "k.pem",
        "HERALD_ROOT_ACCESS_KEY_ID": "AKIAEXAMPLE",
        "HERALD_ROOT_SECRET_ACCESS_KEY": "secret",
        "HERALD_MAX_REQUEST_BYTES": "2048",
        "HERALD_MAX_CONNECTIONS": "8",
        "HERALD_LOG_LEVEL": "WARNING",
        "HERALD_ACCESS_LOG": "true",
    }
    settings = config.from_sources({}, env)
    assert settings == config.Settings(
        host="::1",
        port=1,
        tls_port=2,
        data_dir=tmp_path,
        tls_cert=Path("c.pem"),
        tls_key=Path("k.pem"),
        root_access_key_id="AKIAEXAMPLE",
        root_secret_access_key="secret",
        max_request_bytes=2048,
        max_connections=8,
        log_level="warning",
        access_log=True,
    )
    assert "secret" not in repr(settings)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"HERALD_PORT": "http"}, "port must be a number"),
        ({"HERALD_PORT": "70000"}, "between 0 and 65535"),
        ({"HERALD_PORT": "5000", "HERALD_TLS_PORT": "5000"}, "must differ"),
        ({"HERALD_TLS_CERT": "c.pem"}, "go together"),
        ({"HERALD_ROOT_ACCESS_KEY_ID": "AKIA"}, "go together"),
        ({"HERALD_MAX_REQUEST_BYTES": "10"}, "at least 1024"),
    ],
)
def test_a_bad_setting_is_refused_in_words(env: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        config.from_sources({}, env)
