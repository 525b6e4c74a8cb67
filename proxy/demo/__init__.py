"""``consentry demo``: the bundled demo legacy site with the proxy in front of it.

``run_demo`` starts the demo site (``proxy.demo.site``) and the Consentry proxy
(``proxy.server.make_app``) on free loopback ports, announces the URLs to open, and
runs until cancelled. ``start_demo`` does the same and hands back the running pair, so
tests drive exactly what a user runs. Embedded defaults: one site for every host, a
fresh signing key per run (or ``CONSENTRY_SECRET`` when set, so cookies survive a
restart), receipts in a temporary SQLite file, Google Consent Mode "basic". An adapter
like the server: it may import aiohttp; it never prints (``announce`` does).
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from proxy.demo.site import make_demo_app

__all__ = ["DemoServers", "demo_config", "make_demo_app", "run_demo", "start_demo"]

log = logging.getLogger(__name__)


def demo_config(upstream: str, *, receipts_url: str, secret: str | None = None,
                site: Mapping[str, Any] | None = None) -> Any:
    """The demo's configuration: zero-config defaults plus the demo's few settings."""
    from proxy.policy.loader import build_config

    secret = secret or os.environ.get("CONSENTRY_SECRET") or secrets.token_urlsafe(48)
    data: dict[str, Any] = {
        "consent": {"keys": [{"kid": "default", "alg": "HS256", "secret": secret}]},
        "receipts": {"url": receipts_url},
        # The demo's GTM container loads analytics tags only, and the policy says so: a
        # container's category is the strictest of what it loads (marketing when unsaid).
        "sites": {"default": {"upstream": upstream, "google_consent_mode": "basic",
                              "tag_manager_loads": ["analytics"], **(site or {})}},
    }
    return build_config(data, name="<demo>")


async def _listen(app: web.Application, host: str, port: int) -> tuple[web.AppRunner, int]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    bound = runner.addresses[0][1]
    return runner, bound


@dataclass
class DemoServers:
    """The running demo: the site, the proxy in front of it, and how to stop both."""

    site_url: str
    proxy_url: str
    runners: list[web.AppRunner] = field(default_factory=list)
    workdir: tempfile.TemporaryDirectory[str] | None = None

    async def close(self) -> None:
        for runner in reversed(self.runners):
            await runner.cleanup()
        self.runners.clear()
        if self.workdir is not None:
            self.workdir.cleanup()
            self.workdir = None


async def start_demo(*, host: str = "127.0.0.1", demo_port: int = 0, proxy_port: int = 0,
                     holder: Callable[[str, str], Any] | None = None) -> DemoServers:
    """Start the demo site and the proxy; ``holder(upstream, receipts_url)`` may supply the config."""
    from proxy.server import make_app

    workdir = tempfile.TemporaryDirectory(prefix="consentry-demo-")
    servers = DemoServers(site_url="", proxy_url="", workdir=workdir)
    try:
        site_runner, site_port = await _listen(make_demo_app(), host, demo_port)
        servers.runners.append(site_runner)
        upstream = f"http://{host}:{site_port}"
        # sqlite:/// + an absolute path (four slashes in all), as proxy.receipts reads it.
        receipts_url = "sqlite:///" + str(Path(workdir.name).absolute() / "receipts.db")  # noqa: ASYNC240 - once, at start-up
        config = holder(upstream, receipts_url) if holder else demo_config(upstream, receipts_url=receipts_url)
        proxy_runner, bound_proxy = await _listen(make_app(config), host, proxy_port)
        servers.runners.append(proxy_runner)
    except BaseException:
        await servers.close()
        raise
    servers.site_url = f"{upstream}/"
    servers.proxy_url = f"http://{host}:{bound_proxy}/"
    return servers


async def run_demo(announce: Callable[[str], None], *, host: str = "127.0.0.1",
                   demo_port: int = 0, proxy_port: int = 0) -> None:
    """Run the demo until cancelled, announcing where to point a browser."""
    servers = await start_demo(host=host, demo_port=demo_port, proxy_port=proxy_port)
    try:
        announce(f"Demo site (no Consentry, trackers load): {servers.site_url}")
        announce(f"Through Consentry (open this one):       {servers.proxy_url}")
        announce(f"Preferences page without JavaScript:     {servers.proxy_url}_consent/")
        announce("Press Ctrl+C to stop.")
        await asyncio.Event().wait()
    finally:
        await servers.close()
