"""PostgreSQL for tests: a schema per test store in the database named by
HERALD_TEST_DATABASE_URL (by default herald_test on the local server, which `.ci/run`
creates). A missing PostgreSQL fails the tests that need it; they never skip."""

from __future__ import annotations

import hashlib
import os
import urllib.parse

import psycopg

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/herald_test"
_created: list[str] = []


def base_url() -> str:
    return os.environ.get("HERALD_TEST_DATABASE_URL", DEFAULT_URL)


def _ensure_database() -> None:
    """Create the test database when the server has none of that name."""
    url = base_url()
    try:
        psycopg.connect(url, connect_timeout=10).close()
        return
    except psycopg.OperationalError as exc:
        if "does not exist" not in str(exc):
            raise
    parts = urllib.parse.urlsplit(url)
    name = parts.path.lstrip("/")
    admin = urllib.parse.urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')


def schema_url(key: str) -> str:
    """A URL whose connections work in a schema of their own, named after ``key`` (the
    same key gives the same schema: a restart), created empty on first use."""
    schema = "t_" + hashlib.sha256(key.encode()).hexdigest()[:24]
    if schema not in _created:
        if not _created:
            _ensure_database()
        with psycopg.connect(base_url(), autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            conn.execute(f'CREATE SCHEMA "{schema}"')
        _created.append(schema)
    options = urllib.parse.quote(f"-csearch_path={schema}")
    separator = "&" if "?" in base_url() else "?"
    return f"{base_url()}{separator}options={options}"


def drop_created() -> None:
    if not _created:
        return
    with psycopg.connect(base_url(), autocommit=True) as conn:
        for schema in _created:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    _created.clear()
