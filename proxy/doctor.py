"""``consentry doctor``: a loaded policy checked against the machine it is about to run on.

A policy can be valid (``check-config``) and still fail at start-up or at the first
visitor: an upstream that does not answer, a key file that does not hold a usable key,
a receipts store that cannot be written, a port another process holds, a trusted-proxy
list that trusts the whole internet. ``run_checks`` tries each of them for real
(connects, signs and verifies a token, writes to the store and rolls back, binds the
ports) and returns one ``Check`` per finding with the fix; the CLI prints them. Network
checks are bounded by ``timeout``. Logs nothing, prints nothing; must not import
aiohttp or mitmproxy.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from proxy.policy import Config

__all__ = ["Check", "run_checks"]

Status = Literal["ok", "warn", "fail"]


@dataclass(frozen=True, slots=True)
class Check:
    """One finding: what was checked, how it went, what was seen, and the fix."""

    name: str
    status: Status
    detail: str
    fix: str = ""


def _upstreams(config: Config) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for site_id, site in config.sites.items():
        found.setdefault(str(site.upstream), []).append(site_id)
    return found


async def _connect(url: str, timeout: float) -> str | None:
    """None when a TCP connection to the URL's host and port succeeds, else why not."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(parts.hostname, port), timeout)
    except TimeoutError:
        return f"no answer within {timeout:g} s"
    except OSError as error:
        return error.strerror or str(error)
    writer.close()
    try:
        await writer.wait_closed()
    except OSError:
        pass
    return None


async def _check_upstreams(config: Config, timeout: float) -> list[Check]:
    upstreams = _upstreams(config)
    results = await asyncio.gather(*(_connect(url, timeout) for url in upstreams))
    checks = []
    for (url, sites), problem in zip(upstreams.items(), results, strict=True):
        name = f"upstream {url} (site {', '.join(sites)})"
        if problem is None:
            checks.append(Check(name, "ok", "accepts connections"))
        else:
            checks.append(Check(name, "fail", problem,
                                "start the site, or correct `upstream` in its site table (zero-config: --upstream URL)"))
    return checks


def _check_keys(config: Config, zero_config: bool) -> list[Check]:
    from proxy.consent import KeyRing, issue_token, verify_token_verbose

    keys = list(config.consent.keys)
    try:
        ring = KeyRing.from_specs(keys)
    except (ValueError, OSError) as error:
        return [Check("consent keys", "fail", str(error),
                      "check private_key_file / secret_file paths and their contents (consentry keys generate makes new ones)")]
    checks: list[Check] = []
    ids = ", ".join(f"{key.kid} ({key.alg})" for key in keys) or "none"
    for site_id, site in config.sites.items():
        try:
            token, _ = issue_token(ring, site=site, categories=["necessary"])
            ok, detail = verify_token_verbose(ring, token, site=site)
        except Exception as error:   # noqa: BLE001 - any failure here is the finding itself
            ok, detail = False, f"{type(error).__name__}: {error}"
        if not ok:
            checks.append(Check(f"consent keys (site {site_id})", "fail", f"a token signed now does not verify: {detail}",
                                "the first key must have a private key or secret; see docs/configuration.md (key rotation)"))
    if not checks:
        checks.append(Check("consent keys", "ok", f"sign and verify with {ids}"))
    if any(key.ephemeral for key in keys):
        checks.append(Check("consent keys", "warn", "a random key is used: consent cookies do not survive a restart",
                            "set CONSENTRY_SECRET (32+ characters)" if zero_config
                            else "add a [[consent.keys]] entry (consentry keys generate)"))
    return checks


async def _check_receipts(config: Config, timeout: float) -> Check:
    from proxy.receipts import open_store

    url = str(config.receipts.url)
    shown = _redact(url)
    try:
        store = await asyncio.wait_for(open_store(url, ip_salt=config.receipts.ip_salt), timeout * 2)
    except Exception as error:   # noqa: BLE001 - the store's own error is the finding
        return Check(f"receipts {shown}", "fail", f"cannot open: {error}",
                     "fix [receipts] url (a writable directory for SQLite, a reachable server for PostgreSQL)")
    try:
        await asyncio.wait_for(store.check_writable(), timeout * 2)
    except Exception as error:   # noqa: BLE001
        return Check(f"receipts {shown}", "fail", f"not writable: {error}",
                     "give the proxy's user write access to the database (file and directory) or fix the credentials")
    finally:
        await store.close()
    return Check(f"receipts {shown}", "ok", "opens and accepts writes")


def _redact(url: str) -> str:
    try:
        password = urlsplit(url).password
    except ValueError:
        return url
    return url.replace(f":{password}@", ":***@", 1) if password else url


def _check_port(name: str, option: str, address: tuple[str, int] | None) -> Check:
    if address is None:
        return Check(name, "ok", "off")
    host, port = address
    shown = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    if port == 0:
        return Check(f"{name} {shown}", "ok", "a free port is chosen at start-up")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        info = socket.getaddrinfo(host or None, port, family, socket.SOCK_STREAM)[0]
        with socket.socket(info[0], socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(info[4])
    except OSError as error:
        return Check(f"{name} {shown}", "fail", error.strerror or str(error),
                     f"stop what holds it, or choose another with {option} HOST:PORT")
    return Check(f"{name} {shown}", "ok", "free")


def _check_trusted(networks: Iterable[str], admin: tuple[str, int] | None) -> list[Check]:
    checks: list[Check] = []
    nets = [ipaddress.ip_network(text, strict=False) for text in networks]
    wide = [str(net) for net in nets if net.prefixlen < (8 if net.version == 4 else 16)]
    public = [str(net) for net in nets if net.is_global and net.prefixlen >= (8 if net.version == 4 else 16)]
    if wide:
        checks.append(Check("trusted_proxies", "fail", f"{', '.join(wide)} trusts X-Forwarded-* from most of the internet",
                            "list only the addresses of your TLS terminator / load balancer"))
    if public:
        checks.append(Check("trusted_proxies", "warn", f"{', '.join(public)} are public addresses",
                            "make sure only your own load balancer can connect from them"))
    if not nets:
        checks.append(Check("trusted_proxies", "ok",
                            "none: X-Forwarded-* is ignored (behind a TLS terminator, list it so cookies get Secure)"))
    elif not wide and not public:
        checks.append(Check("trusted_proxies", "ok", ", ".join(str(net) for net in nets)))
    if admin is not None:
        host = admin[0]
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = host == "localhost"
        if not loopback:
            checks.append(Check("admin_listen", "warn", f"{host} is not loopback: /metrics is reachable from the network",
                                'bind it to 127.0.0.1 (or firewall it), or set admin_listen = "off"'))
    return checks


def run_checks(
    config: Config,
    *,
    listen: tuple[str, int] | None = None,
    admin_listen: tuple[str, int] | str | None = None,
    timeout: float = 3.0,
    zero_config: bool = False,
) -> list[Check]:
    """Every check for ``config``; ``listen``/``admin_listen`` override its ``[proxy]`` table."""
    public = listen or config.proxy.listen_address
    if admin_listen == "off":
        admin = None
    elif isinstance(admin_listen, tuple):
        admin = admin_listen
    else:
        admin = config.proxy.admin_address

    async def network() -> tuple[list[Check], Check]:
        return await _check_upstreams(config, timeout), await _check_receipts(config, timeout)

    upstreams, receipts = asyncio.run(network())
    return [
        Check("policy", "ok", f"{len(config.sites)} site{'s' if len(config.sites) != 1 else ''}: "
              + ", ".join(f"{sid} -> {site.upstream}" for sid, site in config.sites.items())),
        *upstreams,
        *_check_keys(config, zero_config),
        receipts,
        _check_port("listen", "--listen", public),
        _check_port("admin", "--admin-listen", admin),
        *_check_trusted(config.proxy.trusted_proxies, admin),
    ]
