"""Worker supervision: a dead worker is replaced within a second, a stuck one killed and replaced.

The parent forks ``count`` workers and then only supervises. Each worker writes a
heartbeat (the monotonic clock, shared by all processes on Linux) into a shared
anonymous memory map once a second from its event loop; a worker whose loop is blocked
(a runaway computation, a deadlock, a stopped process) stops beating, and after
``watchdog_timeout`` seconds the parent kills it with SIGKILL. A worker beats only once it
serves; before its first beat it has ``STARTUP_ALLOWANCE`` (or the timeout, if longer). Every worker that exits
without being asked to is replaced under the same index (so the same admin port), with
a short back-off when it keeps dying at start. The same memory map holds the restart
counts by cause (``exit``, ``signal``, ``stuck``), which every worker exposes on its
``/metrics`` as ``consentry_worker_restarts_total``.

This is gunicorn's arbiter model (heartbeat + timeout + respawn) in about a hundred
lines: gunicorn's aiohttp worker would own the listeners and the app runner, while each
Consentry worker needs its own admin port, the connection guard on its runner and an
in-process SIGHUP reload. Standard library only; must not import aiohttp.
"""

from __future__ import annotations

import contextlib
import logging
import mmap
import os
import signal
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from proxy import loghandoff

log = logging.getLogger(__name__)

CAUSES = ("exit", "signal", "stuck")
EXIT_DO_NOT_RESTART = 69   # a worker that cannot bind its port: restarting cannot help
# Before its first heartbeat a worker gets at least this long (seconds) to start serving.
STARTUP_ALLOWANCE = 60.0
_SLOT = struct.Struct("d")
_COUNT = struct.Struct("q")


class Board:
    """Shared memory: one heartbeat per worker, one restart counter per cause."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._map = mmap.mmap(-1, _SLOT.size * workers + _COUNT.size * len(CAUSES))

    def beat(self, index: int) -> None:
        _SLOT.pack_into(self._map, index * _SLOT.size, time.monotonic())

    def clear(self, index: int) -> None:
        """A fresh worker has not beaten yet (0.0: before any monotonic reading)."""
        _SLOT.pack_into(self._map, index * _SLOT.size, 0.0)

    def last_beat(self, index: int) -> float:
        return float(_SLOT.unpack_from(self._map, index * _SLOT.size)[0])

    def _offset(self, cause: str) -> int:
        return _SLOT.size * self.workers + _COUNT.size * CAUSES.index(cause)

    def count_restart(self, cause: str) -> None:
        offset = self._offset(cause)
        _COUNT.pack_into(self._map, offset, _COUNT.unpack_from(self._map, offset)[0] + 1)

    def restarts(self) -> dict[str, int]:
        return {cause: int(_COUNT.unpack_from(self._map, self._offset(cause))[0]) for cause in CAUSES}


@dataclass(slots=True)
class WorkerSlot:
    index: int
    pid: int = 0
    started: float = 0.0
    quick_deaths: int = 0
    killed_as_stuck: bool = False


# Set in a worker process after the fork: what serve() beats into.
current: tuple[Board, int] | None = None


@dataclass(slots=True)
class Supervisor:
    count: int
    start_worker: Callable[[int], int]       # runs in the child; returns its exit status
    watchdog_timeout: float = 30.0
    poll: float = 0.25
    board: Board = field(init=False)
    slots: list[WorkerSlot] = field(init=False)
    stopping: bool = False

    def __post_init__(self) -> None:
        self.board = Board(self.count)
        self.slots = [WorkerSlot(index) for index in range(self.count)]

    def _spawn(self, slot: WorkerSlot) -> None:
        global current
        self.board.clear(slot.index)   # no heartbeat yet: the start-up allowance applies
        pid = os.fork()
        if pid == 0:
            current = (self.board, slot.index)
            for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                signal.signal(signum, signal.SIG_DFL)
            code = 1
            try:
                code = self.start_worker(slot.index)
            finally:
                # os._exit skips atexit: write the worker's queued log records first (bounded).
                with contextlib.suppress(BaseException):
                    loghandoff.flush(2.0)
                os._exit(code)
        slot.pid, slot.started, slot.killed_as_stuck = pid, time.monotonic(), False

    def _signal_all(self, signum: int) -> None:
        for slot in self.slots:
            if slot.pid:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(slot.pid, signum)

    def run(self) -> int:
        """Start the workers and supervise them until SIGTERM/SIGINT; the worst exit status."""
        def on_signal(signum: int, _frame: object) -> None:
            if signum == signal.SIGHUP:
                self._signal_all(signal.SIGHUP)
                return
            self.stopping = True
            self._signal_all(signal.SIGTERM)

        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(signum, on_signal)
        for slot in self.slots:
            self._spawn(slot)
        log.info("started %d workers: %s", self.count, [slot.pid for slot in self.slots])
        worst = 0
        while any(slot.pid for slot in self.slots):
            worst = max(worst, self._reap())
            if not self.stopping:
                self._watch()
            time.sleep(self.poll)
        return worst

    def _reap(self) -> int:
        worst = 0
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return worst
            if pid == 0:
                return worst
            slot = next((s for s in self.slots if s.pid == pid), None)
            if slot is None:
                continue
            slot.pid = 0
            code = os.waitstatus_to_exitcode(status)
            if self.stopping:
                if code != 0:
                    worst = max(worst, 1)
                    log.error("worker %d exited with status %d while stopping", pid, code)
                continue
            if code == EXIT_DO_NOT_RESTART:
                log.error("worker %d cannot serve (status %d); stopping all workers", pid, code)
                self.stopping = True
                self._signal_all(signal.SIGTERM)
                worst = code
                continue
            cause = "stuck" if slot.killed_as_stuck else ("signal" if os.WIFSIGNALED(status) else "exit")
            self.board.count_restart(cause)
            lived = time.monotonic() - slot.started
            slot.quick_deaths = slot.quick_deaths + 1 if lived < 5 else 0
            delay = min(5.0, 0.1 * 2 ** slot.quick_deaths) if slot.quick_deaths > 1 else 0.0
            log.error("worker %d (index %d) %s (status %d) after %.1fs; replacing it%s", pid, slot.index,
                      {"stuck": "was stuck and killed", "signal": "was killed", "exit": "exited"}[cause], code, lived,
                      f" in {delay:.1f}s" if delay else "")
            if delay:
                time.sleep(delay)
            self._spawn(slot)

    def _watch(self) -> None:
        now = time.monotonic()
        for slot in self.slots:
            if not slot.pid or slot.killed_as_stuck:
                continue
            last = self.board.last_beat(slot.index)
            if last == 0.0:
                # Still starting (policy, catalogue, receipts store, listeners): its loop beats
                # only once it serves, so a slow start on a busy machine is not a stuck loop.
                silent, limit = now - slot.started, max(self.watchdog_timeout, STARTUP_ALLOWANCE)
            else:
                silent, limit = now - last, self.watchdog_timeout
            if silent > limit:
                log.error("worker %d (index %d) sent no heartbeat for %.0fs%s; killing it", slot.pid, slot.index,
                          silent, "" if last else " since it was started")
                slot.killed_as_stuck = True
                with contextlib.suppress(ProcessLookupError):
                    os.kill(slot.pid, signal.SIGKILL)


def restart_counts() -> dict[str, int]:
    """The restart counters, as a worker sees them (all zero outside a supervised worker)."""
    if current is None:
        return dict.fromkeys(CAUSES, 0)
    return current[0].restarts()
