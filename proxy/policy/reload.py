"""Live reload: hold the current ``Config`` and swap it for a fully validated new one on demand.

``ConfigHolder.reload()`` re-reads the file and, only if it is valid, replaces
the reference in one assignment; anything that took ``holder.current`` at the
start of a request keeps its own (immutable) Config until it finishes. An
invalid file is refused with the same messages ``check-config`` prints, logged,
and the old configuration keeps serving. Subscribers rebuild what depends on the
configuration (key ring, engines, receipts store) after each swap. The server
wires SIGHUP to ``reload`` (see docs/configuration.md). Must not depend on aiohttp,
mitmproxy, jwt or ``proxy.html``.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path

from proxy.policy.config import Config
from proxy.policy.loader import load_config
from proxy.policy.problems import ConfigError

__all__ = ["ConfigHolder", "Subscriber"]

log = logging.getLogger(__name__)

type Subscriber = Callable[[Config, Config], None]
"""Called as ``callback(new, old)`` after a successful swap."""


class ConfigHolder:
    """The configuration in use, replaced atomically by ``reload()``."""

    def __init__(self, path: str | os.PathLike[str] | None = None, *, config: Config | None = None) -> None:
        """Load ``path`` (raises ``ConfigError``), or hold ``config`` (zero-config: nothing to reload)."""
        if (path is None) == (config is None):
            raise TypeError("give a path or a config")
        self.path = Path(path) if path is not None else None
        if config is None:
            assert path is not None  # checked above
            config = load_config(Path(path))
        self._current = config
        self._subscribers: list[Subscriber] = []
        # Two SIGHUPs in a row must not interleave their swaps and callbacks.
        self._lock = threading.Lock()

    @property
    def current(self) -> Config:
        """The configuration to use; take it once per request and keep using that object."""
        return self._current

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Call ``callback(new, old)`` after every successful reload; returns a function that unsubscribes."""
        self._subscribers.append(callback)
        return lambda: self._subscribers.remove(callback) if callback in self._subscribers else None

    def reload(self) -> list[str]:
        """Re-read the file; swap it in if valid. Returns the problems (empty on success)."""
        with self._lock:
            if self.path is None:
                log.info("no configuration file to reload (started without --config)")
                return []
            try:
                new = load_config(self.path)
            except ConfigError as error:
                lines = error.lines()
                log.error("configuration reload refused, still serving the previous one:\n%s", "\n".join(lines))
                return lines
            old, self._current = self._current, new
            log.info("configuration reloaded from %s: %d site(s)", self.path, len(new.sites))
            for callback in list(self._subscribers):
                try:
                    callback(new, old)
                except Exception:
                    # One failing subscriber must not stop the others from seeing the new config.
                    log.exception("a configuration subscriber failed after reload")
            return []
