"""``consentry doctor`` against a real machine: a live upstream on loopback, a SQLite store,
ports that are free or taken; each problem printed with its fix, the exit code says so."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from proxy import cli


@pytest.fixture
def upstream() -> Iterator[str]:
    class Quiet(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def policy(tmp_path: Path, upstream: str, *, trusted: str = "", admin: str | None = None) -> Path:
    path = tmp_path / "site.toml"
    admin = admin or f"127.0.0.1:{free_port()}"
    path.write_text(
        f'[proxy]\nlisten = "127.0.0.1:{free_port()}"\nadmin_listen = "{admin}"\ntrusted_proxies = [{trusted}]\n'
        f'[receipts]\nurl = "sqlite:///{tmp_path}/receipts.db"\n'
        f'[[consent.keys]]\nkid = "k1"\nalg = "HS256"\nsecret = "{"k" * 48}"\n'
        f'[sites."shop.example"]\nupstream = "{upstream}"\n',
        encoding="utf-8",
    )
    return path


def run(argv: list[str], capsys) -> tuple[int, str]:
    code = cli.main(argv)
    out, err = capsys.readouterr()
    return code, out + err


def test_a_healthy_setup_is_all_ok(tmp_path, upstream, capsys):
    code, out = run(["doctor", "--config", str(policy(tmp_path, upstream))], capsys)
    assert code == 0, out
    assert "FAIL" not in out and "0 problems" in out
    assert f"ok    upstream {upstream} (site shop.example): accepts connections" in out
    assert "ok    consent keys: sign and verify with k1 (HS256)" in out
    assert "opens and accepts writes" in out


def test_each_problem_is_named_with_its_fix(tmp_path, capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        dead = f"http://127.0.0.1:{free_port()}"
        code, out = run(["doctor", "--config", str(policy(tmp_path, dead, trusted='"0.0.0.0/0"',
                                                           admin=f"127.0.0.1:{port}"))], capsys)
    assert code == 1
    assert f"FAIL  upstream {dead} (site shop.example)" in out and "fix: start the site" in out
    assert f"FAIL  admin 127.0.0.1:{port}" in out and "--admin-listen" in out
    assert "FAIL  trusted_proxies: 0.0.0.0/0 trusts X-Forwarded-* from most of the internet" in out
    assert "3 problems" in out


def test_zero_config_warns_about_a_random_key(tmp_path, upstream, capsys, monkeypatch):
    monkeypatch.delenv("CONSENTRY_SECRET", raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    code, out = run(["doctor", "--upstream", upstream, "--listen", f"127.0.0.1:{free_port()}"], capsys)
    assert code == 0, out
    assert "WARN  consent keys: a random key is used" in out and "fix: set CONSENTRY_SECRET" in out
    assert "admin 127.0.0.1:0: ok" not in out and "a free port is chosen at start-up" in out
