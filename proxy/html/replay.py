"""Replaying a verified rewrite when the same bytes come again.

Most pages come back from the upstream byte for byte, request after request, and a
rewrite is a function of its input and its context (consent, URL, snippet, encoding):
the same input in the same context gives the same output. ``RecordingRewriter`` wraps a
``Rewriter`` and keeps what one complete rewrite read and wrote. ``ReplayingRewriter``
then answers a later response from that record while its bytes match, and hands over to
a fresh rewriter at the first byte that differs.

Why the hand-over is exact: what a rewriter has emitted after any prefix of its input is
a prefix of its output for every continuation (it cannot see what comes next; the html
fuzz target checks that a split never changes the output). While the bytes match, the
replay emits the recorded output up to the last point the recording had emitted at that
much input, never further. At a difference, everything received so far is fed to a fresh
rewriter, and the part of its output already sent is dropped.

Two values inside the output differ between responses of one context: the CSP nonce
and the visitor's consent expiry in the snippet's state (``stamps``). The record keeps
the values it was made with, and a replay writes the response's own values over every
occurrence (a nonce is ``secrets.token_urlsafe(16)``, 22 characters, and an expiry an ISO
date of fixed length; the caller keys records by those lengths, so every offset holds).
A record is kept only when its input contains none of its stamps (all occurrences are
then ours). So every visitor with the same choices shares one record per page.

Standard library only; the cache (``ReplayCache``) is bounded in bytes.
"""

from __future__ import annotations

import re
import time
from bisect import bisect_right
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, Protocol

# A key whose page differed from its record this many times in a row is not recorded for
# VOLATILE_SECONDS: a page with a per-request token would cost a record's copy every time.
VOLATILE_AFTER = 3
VOLATILE_SECONDS = 60.0


class StreamingRewriter(Protocol):
    @property
    def encoding(self) -> str | None: ...

    def feed(self, data: bytes) -> bytes: ...
    def close(self) -> bytes: ...
    def body_reopener(self) -> bytes | None: ...


@dataclass(slots=True)
class RewriteRecord:
    """One complete rewrite: what it read, what it wrote, and where it was after each feed."""

    input: bytes
    output: bytes
    fed: list[int]          # input bytes read after each feed
    emitted: list[int]      # output bytes written after the same feed
    encoding: str | None
    reopener: bytes | None  # body_reopener() after close, when the caller asked for it
    asked_reopener: bool
    entries: tuple[Any, ...]  # what the rewrite reported (Report.entries)
    stamps: tuple[bytes, ...]  # the per-response values it was made with (nonce, expiry)
    diverged: int = 0       # how many records of this key before it the page differed from
    # The output cut at every stamp: the pieces between them, and which stamp each cut was.
    between_stamps: list[bytes] = field(default_factory=list)
    stamp_order: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        assert all(self.stamps), "an empty stamp would match everywhere"
        if self.stamps and not self.between_stamps:
            pattern = re.compile(b"|".join(re.escape(stamp) for stamp in self.stamps))
            self.between_stamps = pattern.split(self.output)
            self.stamp_order = [self.stamps.index(found) for found in pattern.findall(self.output)]

    def output_with(self, stamps: tuple[bytes, ...]) -> bytes:
        """The recorded output with ``stamps`` (this response's values, in the record's
        order and of the same lengths) written over the recorded ones."""
        if not self.stamps:
            return self.output
        assert [len(stamp) for stamp in stamps] == [len(stamp) for stamp in self.stamps], \
            "a replay needs stamps like the record's"
        pieces = [self.between_stamps[0]]
        for which, after in zip(self.stamp_order, self.between_stamps[1:], strict=True):
            pieces.append(stamps[which])
            pieces.append(after)
        return b"".join(pieces)

    @property
    def size(self) -> int:
        return len(self.input) + len(self.output) * (2 if self.stamps else 1) + 16 * len(self.fed) + 512


@dataclass(slots=True)
class _Volatile:
    until: float
    size: int = 64


@dataclass
class ReplayCache:
    """Records by context key, least recently used first out, at most ``max_bytes`` in all.

    A record over an eighth of the budget is not kept (one big page must not empty it).
    """

    max_bytes: int
    _entries: OrderedDict[Hashable, RewriteRecord | _Volatile] = field(default_factory=OrderedDict)
    _size: int = 0
    hits: int = 0
    misses: int = 0

    @property
    def size(self) -> int:
        return self._size

    @property
    def record_limit(self) -> int:
        return self.max_bytes // 8

    def lookup(self, key: Hashable) -> RewriteRecord | None:
        """The record for ``key``, if there is one (see ``volatile``); counted in hits/misses."""
        entry = self._entries.get(key)
        if entry is None or isinstance(entry, _Volatile):
            self.misses += 1
            return None
        self.hits += 1
        self._entries.move_to_end(key)
        return entry

    def volatile(self, key: Hashable) -> bool:
        """Whether ``key``'s page differed from its record too often lately to record it."""
        entry = self._entries.get(key)
        if not isinstance(entry, _Volatile):
            return False
        if entry.until > time.monotonic():
            return True
        self._drop(key)
        return False

    def store(self, key: Hashable, record: RewriteRecord) -> None:
        if record.diverged >= VOLATILE_AFTER:
            self._put(key, _Volatile(time.monotonic() + VOLATILE_SECONDS))
        elif record.size <= self.record_limit:
            self._put(key, record)
        else:
            self._drop(key)

    def _put(self, key: Hashable, entry: RewriteRecord | _Volatile) -> None:
        self._drop(key)
        self._entries[key] = entry
        self._size += entry.size
        while self._size > self.max_bytes and self._entries:
            _, evicted = self._entries.popitem(last=False)
            self._size -= evicted.size

    def _drop(self, key: Hashable) -> None:
        old = self._entries.pop(key, None)
        if old is not None:
            self._size -= old.size

    def __len__(self) -> int:
        return len(self._entries)


class RecordingRewriter:
    """A rewriter that also records its rewrite; ``on_complete(record)`` after ``close()``.

    Past ``limit`` bytes (input plus output) it stops recording and keeps nothing more.
    ``ask_reopener``: the record keeps ``body_reopener()`` (computed at close), for a
    caller that will ask for it; otherwise it is never computed here.
    """

    def __init__(self, rewriter: StreamingRewriter, *, stamps: tuple[bytes, ...], limit: int, entries: list[Any],
                 on_complete: Callable[[RewriteRecord], None], ask_reopener: bool, diverged: int = 0) -> None:
        self._rewriter = rewriter
        self._stamps = stamps
        self._limit = limit
        self._entries = entries            # the report's list: what it gains is this rewrite's
        self._first_entry = len(entries)
        self._on_complete = on_complete
        self._ask_reopener = ask_reopener
        self._diverged = diverged
        self._input: list[bytes] | None = []
        self._output: list[bytes] = []
        self._fed: list[int] = []
        self._emitted: list[int] = []
        self._read = 0
        self._written = 0

    @property
    def encoding(self) -> str | None:
        return self._rewriter.encoding

    def feed(self, data: bytes) -> bytes:
        out = self._rewriter.feed(data)
        if self._input is not None:
            self._read += len(data)
            self._written += len(out)
            if self._read + self._written > self._limit:
                self._input = None
                self._output = []
                self._fed = []
                self._emitted = []
            else:
                self._input.append(data)
                self._output.append(out)
                self._fed.append(self._read)
                self._emitted.append(self._written)
        return out

    def close(self) -> bytes:
        out = self._rewriter.close()
        if self._input is None:
            return out
        reopener = self._rewriter.body_reopener() if self._ask_reopener else None
        self._output.append(out)
        data = b"".join(self._input)
        self._input = None
        if any(stamp in data for stamp in self._stamps):
            return out   # the page itself holds a stamp: its occurrences are not all ours
        record = RewriteRecord(
            input=data, output=b"".join(self._output), fed=self._fed, emitted=self._emitted,
            encoding=self._rewriter.encoding, reopener=reopener, asked_reopener=self._ask_reopener,
            entries=tuple(self._entries[self._first_entry:]), stamps=self._stamps, diverged=self._diverged,
        )
        self._output = []
        self._on_complete(record)
        return out

    def body_reopener(self) -> bytes | None:
        return self._rewriter.body_reopener()


class ReplayingRewriter:
    """Answers from ``record`` while the input matches it; then from ``fresh()`` (see module).

    ``entries`` is the report's list: on a whole replay the record's entries are added to
    it at ``close()``; after a difference the fresh rewriter reports everything itself.
    ``diverged`` is set when the input differed (the caller then records the new version).
    """

    def __init__(self, record: RewriteRecord, fresh: Callable[[], StreamingRewriter], *, stamps: tuple[bytes, ...],
                 entries: list[Any]) -> None:
        self._record = record
        self._fresh_factory = fresh
        self._entries = entries
        self._output = record.output_with(stamps)
        self._read = 0       # input bytes matched so far
        self._sent = 0       # output bytes sent
        self._fresh: StreamingRewriter | None = None
        self._drop = 0       # output of the fresh rewriter already sent from the record
        self.diverged = False

    @property
    def encoding(self) -> str | None:
        return self._fresh.encoding if self._fresh is not None else self._record.encoding

    def feed(self, data: bytes) -> bytes:
        if self._fresh is not None:
            return self._after_send(self._fresh.feed(data))
        record = self._record
        end = self._read + len(data)
        if end <= len(record.input) and record.input[self._read:end] == data:
            self._read = end
            # The output the recording had written once it had read at most this much.
            index = bisect_right(record.fed, end) - 1
            upto = record.emitted[index] if index >= 0 else 0
            if upto <= self._sent:
                return b""
            out = self._output[self._sent:upto]
            self._sent = upto
            return out
        return self._hand_over(record.input[:self._read] + data)

    def close(self) -> bytes:
        if self._fresh is None:
            record = self._record
            if self._read == len(record.input):
                self._entries.extend(record.entries)
                out = self._output[self._sent:]
                self._sent = len(self._output)
                return out
            out = self._hand_over(record.input[:self._read])   # the input stopped short
        else:
            out = b""
        assert self._fresh is not None
        return out + self._after_send(self._fresh.close())

    def body_reopener(self) -> bytes | None:
        if self._fresh is not None:
            return self._fresh.body_reopener()
        if self._record.asked_reopener:
            return self._record.reopener
        # Not recorded (the caller did not ask then): work it out from the input, without
        # reporting the elements twice.
        reported = len(self._entries)
        again = self._fresh_factory()
        again.feed(self._record.input)
        again.close()
        del self._entries[reported:]
        return again.body_reopener()

    def _hand_over(self, received: bytes) -> bytes:
        self.diverged = True
        self._fresh = self._fresh_factory()
        self._drop = self._sent
        return self._after_send(self._fresh.feed(received))

    def _after_send(self, out: bytes) -> bytes:
        if self._drop:
            dropped = min(self._drop, len(out))
            self._drop -= dropped
            out = out[dropped:]
        return out
