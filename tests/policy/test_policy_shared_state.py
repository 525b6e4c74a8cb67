"""What replicas must share: the receipts URL from a secret, and the refusal to run a shared
(PostgreSQL) store with a per-process random key or salt."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from proxy.policy import ConfigError, load_config

PG = "postgresql://consentry:hunter2-secret@db.internal:5432/consent"
SITE = '[sites.default]\nupstream = "http://127.0.0.1:8000"\n'


def problems(path: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return [str(problem) for problem in caught.value.problems]


def test_url_env_is_read_and_used(write_config: Callable[..., str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLICY_TEST_DB", PG)
    monkeypatch.setenv("POLICY_TEST_SALT", "a-salt-every-replica-shares")
    config = load_config(write_config(f'[receipts]\nurl_env = "POLICY_TEST_DB"\nip_salt_env = "POLICY_TEST_SALT"\n{SITE}'))
    assert config.receipts.url == PG
    assert config.receipts.ip_salt == b"a-salt-every-replica-shares"
    assert config.receipts.shared
    assert "hunter2" not in repr(config.receipts)


def test_url_file_is_relative_to_the_config_and_stripped(write_config: Callable[..., str], tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "db-url").write_text(f"  {PG}\n", encoding="utf-8")
    (tmp_path / "secrets" / "salt").write_text("salt-from-a-file\n", encoding="utf-8")
    config = load_config(
        write_config(f'[receipts]\nurl_file = "secrets/db-url"\nip_salt_file = "secrets/salt"\n{SITE}')
    )
    assert config.receipts.url == PG
    assert config.receipts.ip_salt == b"salt-from-a-file"


def test_sqlite_from_env_is_not_shared(write_config: Callable[..., str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLICY_TEST_DB", "sqlite:///var/lib/consentry/receipts.db")
    config = load_config(write_config(f'[receipts]\nurl_env = "POLICY_TEST_DB"\n{SITE}'))
    assert config.receipts.url == "sqlite:///var/lib/consentry/receipts.db"
    assert not config.receipts.shared


def test_missing_env_names_the_key(write_config: Callable[..., str]) -> None:
    path = write_config(f'[receipts]\nurl_env = "POLICY_TEST_DB"\n{SITE}')
    assert problems(path) == ["site.toml:2: receipts.url_env: environment variable POLICY_TEST_DB is not set"]


def test_missing_file_names_the_key(write_config: Callable[..., str]) -> None:
    path = write_config(f'[receipts]\nurl_file = "nope/db-url"\n{SITE}')
    [problem] = problems(path)
    assert problem.startswith('site.toml:2: receipts.url_file: cannot read "nope/db-url"')
    assert problem.endswith("no such file")


def test_bad_url_from_env_is_reported_without_its_password(
    write_config: Callable[..., str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POLICY_TEST_DB", "mysql://consentry:hunter2-secret@db/consent")
    [problem] = problems(write_config(f'[receipts]\nurl_env = "POLICY_TEST_DB"\n{SITE}'))
    assert problem == (
        "site.toml:2: receipts.url_env: environment variable POLICY_TEST_DB holds no usable receipts URL: "
        '"mysql://consentry:***@db/consent" is not a sqlite:///PATH, sqlite:PATH or postgresql:// URL'
    )


def test_two_url_sources_are_refused(write_config: Callable[..., str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLICY_TEST_DB", PG)
    path = write_config(f'[receipts]\nurl = "sqlite:r.db"\nurl_env = "POLICY_TEST_DB"\n{SITE}')
    [problem] = problems(path)
    assert "receipts: give one of url, url_env or url_file, not url and url_env" in problem


def test_shared_store_without_a_salt_is_refused(write_config: Callable[..., str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLICY_TEST_DB", PG)
    [problem] = problems(write_config(f'[receipts]\nurl_env = "POLICY_TEST_DB"\n{SITE}'))
    assert problem.startswith("site.toml:2: receipts.url_env: a PostgreSQL store is shared by replicas")
    assert "ip_salt_env" in problem and "hunter2" not in problem


def test_shared_store_with_a_random_key_is_refused(
    write_config: Callable[..., str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CONSENTRY_SECRET")
    monkeypatch.setenv("POLICY_TEST_SALT", "a-salt-every-replica-shares")
    path = write_config(f'[receipts]\nurl = "{PG}"\nip_salt_env = "POLICY_TEST_SALT"\n{SITE}')
    [problem] = problems(path)
    assert problem.startswith("site.toml: consent.keys: the receipts store is PostgreSQL (receipts.url)")
    assert "CONSENTRY_SECRET" in problem


def test_single_process_sqlite_keeps_its_random_salt(write_config: Callable[..., str]) -> None:
    config = load_config(write_config(f'[receipts]\nurl = "sqlite:r.db"\n{SITE}'))
    assert config.receipts.ip_salt is None and not config.receipts.shared


@pytest.mark.parametrize("value", ["0", "61", '"5"'])
def test_write_timeout_is_bounded(write_config: Callable[..., str], value: str) -> None:
    [problem] = problems(write_config(f"[receipts]\nwrite_timeout = {value}\n{SITE}"))
    assert problem.startswith("site.toml:2: receipts.write_timeout:")
