"""Real replicas for the scale-out tests: `consentry run` processes behind a real nginx.

`Cluster` owns a tiny upstream (`python -m http.server`), N replica processes
(`python -m proxy run --config replica-N.toml`, each with its own public and admin
port, all on one PostgreSQL database, the URL and the IP salt from the environment,
the signing keys from files) and an nginx that spreads requests round-robin over
them. Everything listens on 127.0.0.1 and every process is stopped by its PID.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from server.server_helpers import free_port

START_SECONDS = 90          # bounds, not speed claims: the machine may be loaded
STOP_SECONDS = 30
PRESTOP_SECONDS = 1.0       # the manifests' preStop pause, shortened: loopback has no propagation delay
SALT = "replicas-share-this-salt-0123456789"
KEYS = {"k1": "k1-secret-" + "a" * 40, "k2": "k2-secret-" + "b" * 40}


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return bool(resp.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def find_nginx() -> str:
    found = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(p, os.X_OK)), None)
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("nginx is required under CI=true (.ci/run installs nginx-light)")
        print("\nskipping the replica tests: no nginx binary (apt-get install nginx-light)", file=sys.stderr)
        pytest.skip("nginx unavailable")
    return found


@dataclass
class Replica:
    index: int
    directory: Path
    env: dict[str, str]
    port: int = field(default_factory=free_port)
    admin_port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    kids: tuple[str, ...] = ("k1",)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def config(self) -> Path:
        return self.directory / f"replica-{self.index}.toml"

    @property
    def log(self) -> Path:
        return self.directory / f"replica-{self.index}.log"

    def write_config(self, upstream_port: int) -> None:
        keys = "".join(f'[[consent.keys]]\nkid = "{kid}"\nsecret_file = "keys/{kid}"\n' for kid in self.kids)
        self.config.write_text(
            textwrap.dedent(
                f"""\
                [proxy]
                listen = "127.0.0.1:{self.port}"
                admin_listen = "127.0.0.1:{self.admin_port}"
                drain_timeout = 10.0
                trusted_proxies = ["127.0.0.1/32"]

                [proxy.limits]
                # Every test visitor comes from 127.0.0.1: lift the per-client decision limit.
                consent_decisions_per_minute = 1000000

                [receipts]
                url_env = "CONSENTRY_RECEIPTS_URL"
                ip_salt_env = "CONSENTRY_IP_SALT"

                [sites.default]
                upstream = "http://127.0.0.1:{upstream_port}"
                banner.enabled = false
                """
            )
            + keys,
            encoding="utf-8",
        )

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "proxy", "run", "--config", str(self.config)],
                env=self.env, stdout=log, stderr=subprocess.STDOUT, cwd=self.directory,
            )

    def wait_ready(self) -> None:
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"replica {self.index} exited {self.process.returncode}:\n{self.log_tail()}")
            if http_ok(f"http://127.0.0.1:{self.admin_port}/readyz"):
                return
            time.sleep(0.1)
        raise AssertionError(f"replica {self.index} not ready in {START_SECONDS}s:\n{self.log_tail()}")

    def kill(self) -> None:
        """SIGKILL: no drain, no cleanup, as when a node dies or the OOM killer strikes."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(STOP_SECONDS)

    def stop(self) -> int | None:
        """SIGTERM: stop accepting, drain in-flight requests, exit (what Kubernetes sends)."""
        if self.process is None or self.process.poll() is not None:
            return None if self.process is None else self.process.returncode
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(STOP_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(STOP_SECONDS)
            raise AssertionError(f"replica {self.index} did not drain and exit in {STOP_SECONDS}s") from None

    def log_tail(self) -> str:
        try:
            return self.log.read_text(encoding="utf-8", errors="replace")[-3000:]
        except OSError:
            return "(no log)"


NGINX_CONF = """\
worker_processes 1;
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/nginx-error.log warn;
events {{ worker_connections 2048; }}
http {{
    access_log off;
    client_body_temp_path {dir}/tmp/body;
    proxy_temp_path {dir}/tmp/proxy;
    fastcgi_temp_path {dir}/tmp/fastcgi;
    uwsgi_temp_path {dir}/tmp/uwsgi;
    scgi_temp_path {dir}/tmp/scgi;
    upstream consentry {{
{servers}
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://consentry;
            proxy_http_version 1.1;
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            # A refused connection goes to the next replica (nothing was sent yet); a
            # POST whose replica died mid-answer is not resent: the visitor sees 502.
            proxy_next_upstream error timeout;
            proxy_connect_timeout 2s;
            proxy_read_timeout 30s;
        }}
    }}
}}
"""


class Cluster:
    def __init__(self, directory: Path, database_url: str, replicas: int = 3) -> None:
        self.directory = directory
        self.database_url = database_url
        (directory / "keys").mkdir()
        for kid, secret in KEYS.items():
            (directory / "keys" / kid).write_text(secret + "\n", encoding="utf-8")
        self.env = {
            **os.environ,
            "CONSENTRY_RECEIPTS_URL": database_url,
            "CONSENTRY_IP_SALT": SALT,
            "PYTHONUNBUFFERED": "1",
        }
        self.env.pop("CONSENTRY_SECRET", None)   # the keys come from the files, as in production
        self.upstream_port = free_port()
        self.port = free_port()
        self.replicas = [Replica(i, directory, self.env) for i in range(replicas)]
        self.upstream: subprocess.Popen[bytes] | None = None
        self.nginx: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        site = self.directory / "site"
        site.mkdir()
        (site / "index.html").write_text("<!doctype html><html><head></head><body>upstream</body></html>", encoding="utf-8")
        self.upstream = subprocess.Popen(
            [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", "--directory", str(site), str(self.upstream_port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        for replica in self.replicas:
            replica.write_config(self.upstream_port)
            replica.start()
        for replica in self.replicas:
            replica.wait_ready()
        tmp = self.directory / "tmp"
        tmp.mkdir()
        for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (tmp / sub).mkdir()
            (tmp / sub).chmod(0o777)   # nginx workers drop root for nobody
        conf = self.write_nginx_conf()
        with (self.directory / "nginx-stderr.log").open("wb") as stderr:
            self.nginx = subprocess.Popen(
                [find_nginx(), "-c", str(conf), "-p", str(self.directory)], stdout=subprocess.DEVNULL, stderr=stderr
            )
        deadline = time.monotonic() + START_SECONDS
        while not http_ok(self.url + "/_consent/status"):
            if self.nginx.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("nginx did not start: " + (self.directory / "nginx-stderr.log").read_text())
            time.sleep(0.1)

    def write_nginx_conf(self, out: Replica | None = None) -> Path:
        servers = "\n".join(
            f"        server 127.0.0.1:{r.port} max_fails=1 fail_timeout=1s{' down' if r is out else ''};"
            for r in self.replicas
        )
        conf = self.directory / "nginx.conf"
        conf.write_text(NGINX_CONF.format(dir=self.directory, servers=servers, port=self.port), encoding="utf-8")
        return conf

    def reload_nginx(self, out: Replica | None = None) -> None:
        """What an endpoints update does for an ingress: new connections stop going to `out`
        (nginx reloads gracefully: old workers finish what they have)."""
        self.write_nginx_conf(out)
        assert self.nginx is not None
        self.nginx.send_signal(signal.SIGHUP)

    def restart(self, replica: Replica, kids: tuple[str, ...] | None = None, *, deregister: bool = False) -> None:
        """One step of a rolling update: drain and stop, (new config), start, wait until ready.

        With `deregister`, as Kubernetes does it: the replica leaves the balancer first and
        gets SIGTERM after the preStop pause, so it only drains what it already has.
        """
        if deregister:
            self.reload_nginx(out=replica)
            time.sleep(PRESTOP_SECONDS)
        code = replica.stop()
        assert code in (0, None, -signal.SIGKILL), f"replica {replica.index} exited {code} on SIGTERM:\n{replica.log_tail()}"
        if kids is not None:
            replica.kids = kids
            replica.write_config(self.upstream_port)
        replica.start()
        replica.wait_ready()
        if deregister:
            self.reload_nginx()
            time.sleep(PRESTOP_SECONDS)

    def close(self) -> None:
        for process in [self.nginx, self.upstream]:
            if process is not None and process.poll() is None:
                process.terminate()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(STOP_SECONDS)
                if process.poll() is None:
                    process.kill()
                    process.wait(STOP_SECONDS)
        for replica in self.replicas:
            if replica.process is not None and replica.process.poll() is None:
                replica.process.kill()
                replica.process.wait(STOP_SECONDS)


def cookie_of(resp: Any) -> str | None:
    for value in resp.headers.getall("Set-Cookie", []):
        if value.startswith("consentry="):
            return value.split(";", 1)[0]
    return None
