"""Log records leave the event loop through a bounded queue, never by a blocking write.

A proxy that writes its access log to stdout from the event loop stops serving when
stdout stops draining (a pipe nobody reads, a stalled log shipper, a terminal on Ctrl-S):
the write blocks the loop, and with it every request. ``consentry run`` therefore hands
each record to a stdlib ``QueueHandler`` whose queue is bounded: putting a record never
waits; when the queue is full the record is dropped and counted (``dropped_counts()``,
shown as ``consentry_log_records_dropped_total{log}``). A ``QueueListener`` thread writes
the records to the file descriptor with ``os.write`` (no Python buffer lock a fork could
leave held), and when it catches up after drops it writes one line saying how many were
lost, so a gap in the log is never silent.

Forked workers get their own queue and writer thread (``os.register_at_fork``); a
process flushes what is queued, for a bounded time, before it exits (``flush``).
Standard library only.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import queue
import threading
from logging.handlers import QueueHandler, QueueListener

__all__ = ["FdStream", "Handoff", "dropped_counts", "flush", "hand_off", "stop"]


class FdStream:
    """A text stream over a file descriptor written with ``os.write``: no buffer, no lock.

    Once the reader has gone (EPIPE) or the descriptor fails, writes are dropped quietly:
    a log line must never turn into a traceback on another stream.
    """

    def __init__(self, fd: int, encoding: str = "utf-8") -> None:
        self.fd = fd
        self.encoding = encoding
        self.broken = False

    def write(self, text: str) -> int:
        if self.broken:
            return 0
        data = memoryview(text.encode(self.encoding, errors="backslashreplace"))
        try:
            while data:
                data = data[os.write(self.fd, data):]
        except OSError:
            self.broken = True
        return len(text)

    def flush(self) -> None:
        pass


class _DroppingQueueHandler(QueueHandler):
    """Puts without waiting; a full queue drops the record and counts it."""

    def __init__(self, records: queue.Queue[logging.LogRecord | None]) -> None:
        super().__init__(records)
        self.dropped = 0

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        # The message is made now (its arguments may change once the caller moves on);
        # exc_info stays for the destination's formatter (same process, no pickling).
        import copy

        record = copy.copy(record)
        record.msg = record.getMessage()
        record.args = None
        return record

    def enqueue(self, record: logging.LogRecord) -> None:
        try:
            self.queue.put_nowait(record)
        except queue.Full:
            self.dropped += 1


class _Listener(QueueListener):
    """The stdlib listener, plus a line about records dropped while it was behind."""

    def __init__(self, records: queue.Queue[logging.LogRecord | None], target: logging.Handler,
                 source: _DroppingQueueHandler, name: str) -> None:
        super().__init__(records, target, respect_handler_level=True)
        self._records = records
        self._source = source
        self._name = name
        self._reported = source.dropped

    def handle(self, record: logging.LogRecord) -> None:
        self._report_drops()
        super().handle(record)
        if self._records.empty():
            # Caught up: say so now, not only when the next record comes (a burst may be
            # followed by silence). A drop after this check leaves a record to handle.
            self._report_drops()

    def _report_drops(self) -> None:
        dropped = self._source.dropped
        if dropped != self._reported:
            lost, self._reported = dropped - self._reported, dropped
            note = logging.LogRecord("consentry.log", logging.WARNING, __file__, 0,
                                     "%d %s log records dropped: the log destination was not reading fast enough",
                                     (lost, self._name), None)
            super().handle(note)

    def stop_within(self, timeout: float) -> None:
        """Write what is queued and stop, waiting at most ``timeout`` seconds."""
        thread = self._thread
        if thread is None:
            return
        with contextlib.suppress(queue.Full):
            self._records.put(None, timeout=timeout)   # None: QueueListener's sentinel
        thread.join(timeout)
        self._thread = None


class Handoff:
    """One destination (a handler) behind a bounded queue and its writer thread."""

    def __init__(self, name: str, target: logging.Handler, size: int) -> None:
        self.name = name
        self.target = target
        self.size = size
        records: queue.Queue[logging.LogRecord | None] = queue.Queue(size)
        self.handler = _DroppingQueueHandler(records)
        self._listener = _Listener(records, target, self.handler, name)
        self._listener.start()

    @property
    def dropped(self) -> int:
        return self.handler.dropped

    def stop(self, timeout: float = 2.0) -> None:
        self._listener.stop_within(timeout)

    def _after_fork_in_child(self) -> None:
        # The parent's thread does not exist here and may have held the queue's lock at
        # the fork: a fresh queue, a fresh thread, this process's own count.
        records: queue.Queue[logging.LogRecord | None] = queue.Queue(self.size)
        self.handler.queue = records
        self.handler.dropped = 0
        self._listener = _Listener(records, self.target, self.handler, self.name)
        self._listener.start()


_handoffs: dict[str, Handoff] = {}
_lock = threading.Lock()


def hand_off(name: str, target: logging.Handler, size: int) -> logging.Handler:
    """A handler that passes records to ``target`` through a queue of ``size`` records.

    ``name`` labels the drop counter; handing off the same name again replaces (and
    stops) the earlier handoff.
    """
    with _lock:
        earlier = _handoffs.pop(name, None)
        handoff = Handoff(name, target, size)
        _handoffs[name] = handoff
    if earlier is not None:
        earlier.stop(0.5)
    return handoff.handler


def stop(name: str, timeout: float = 2.0) -> None:
    """Write what ``name``'s queue holds (bounded by ``timeout``) and forget the handoff."""
    with _lock:
        handoff = _handoffs.pop(name, None)
    if handoff is not None:
        handoff.stop(timeout)


def dropped_counts() -> dict[str, int]:
    """Records dropped in this process because a queue was full, by handoff name."""
    return {name: handoff.dropped for name, handoff in sorted(_handoffs.items())}


def flush(timeout: float = 2.0) -> None:
    """Write what is queued (at most ``timeout`` seconds per destination), then stop."""
    for handoff in list(_handoffs.values()):
        handoff.stop(timeout)


def _after_fork_in_child() -> None:
    for handoff in _handoffs.values():
        handoff._after_fork_in_child()


os.register_at_fork(after_in_child=_after_fork_in_child)
atexit.register(flush)
