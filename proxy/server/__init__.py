"""The reverse proxy (aiohttp): the only package that imports aiohttp.

``make_app(holder)`` builds the public app (forwarding, HTML rewriting through the
engine, the consent API); ``run(holder, workers=N)`` serves it with the admin
listener, signals and workers. Module map: ``app`` (factory, dispatch), ``forward``
(proxying), ``html_body`` (streaming rewrite), ``codings`` (gzip/deflate/br/zstd),
``headers`` (header rules), ``consent_api`` (``/_consent/``), ``websocket``,
``admin`` (health, readiness, metrics), ``run`` (listeners, signals, workers).
"""

from proxy.server.app import make_app
from proxy.server.run import run, start_servers

__all__ = ["make_app", "run", "start_servers"]
