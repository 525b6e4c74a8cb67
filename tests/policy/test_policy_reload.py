"""Live reload: a valid file swaps atomically, an invalid one is refused and the old config keeps serving."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import Callable

import pytest

from proxy.policy import Config, ConfigError, ConfigHolder, check_config, default_config

GOOD = """
[sites."shop.example"]
upstream = "http://127.0.0.1:8000"
mode = "{mode}"
"""


def test_reload_swaps_in_a_valid_file(write_config: Callable[..., str]) -> None:
    path = write_config(GOOD.format(mode="defer"))
    holder = ConfigHolder(path)
    before = holder.current
    seen: list[tuple[Config, Config]] = []
    holder.subscribe(lambda new, old: seen.append((new, old)))

    write_config(GOOD.format(mode="strip"))
    assert holder.reload() == []

    assert holder.current is not before
    assert holder.current.sites["shop.example"].mode == "strip"
    assert before.sites["shop.example"].mode == "defer"  # whoever holds the old object still sees it whole
    assert seen == [(holder.current, before)]


def test_reload_refuses_an_invalid_file_and_keeps_serving(
    write_config: Callable[..., str], caplog: pytest.LogCaptureFixture
) -> None:
    path = write_config(GOOD.format(mode="defer"))
    holder = ConfigHolder(path)
    before = holder.current
    called: list[object] = []
    holder.subscribe(lambda new, old: called.append(new))

    write_config(GOOD.format(mode="strp"))
    with caplog.at_level(logging.ERROR, logger="proxy.policy"):
        problems = holder.reload()

    expected = ['site.toml:3: sites."shop.example".mode: "strp" is not a mode; did you mean "strip"?']
    assert problems == expected
    assert check_config(path) == (2, expected)  # the same messages as check-config
    assert holder.current is before
    assert called == []
    assert expected[0] in caplog.text
    assert "still serving the previous" in caplog.text


def test_reload_after_the_file_disappears_keeps_serving(write_config: Callable[..., str]) -> None:
    path = write_config(GOOD.format(mode="defer"))
    holder = ConfigHolder(path)
    before = holder.current
    os.remove(path)
    assert holder.reload() == ["site.toml: cannot read the file: no such file"]
    assert holder.current is before


def test_a_failing_subscriber_does_not_stop_the_others(
    write_config: Callable[..., str], caplog: pytest.LogCaptureFixture
) -> None:
    holder = ConfigHolder(write_config(GOOD.format(mode="defer")))
    calls: list[str] = []

    def broken(new: Config, old: Config) -> None:
        raise RuntimeError("cannot rebuild")

    holder.subscribe(broken)
    holder.subscribe(lambda new, old: calls.append(new.sites["shop.example"].mode))
    write_config(GOOD.format(mode="strip"))
    with caplog.at_level(logging.ERROR, logger="proxy.policy"):
        assert holder.reload() == []
    assert calls == ["strip"]
    assert "subscriber failed" in caplog.text


def test_unsubscribe(write_config: Callable[..., str]) -> None:
    holder = ConfigHolder(write_config(GOOD.format(mode="defer")))
    calls: list[Config] = []
    unsubscribe = holder.subscribe(lambda new, old: calls.append(new))
    unsubscribe()
    unsubscribe()  # twice is harmless
    assert holder.reload() == []
    assert calls == []


def test_holder_needs_a_valid_file_to_start(write_config: Callable[..., str]) -> None:
    with pytest.raises(ConfigError):
        ConfigHolder(write_config(GOOD.format(mode="strp")))


def test_zero_config_holder_has_nothing_to_reload() -> None:
    config = default_config(upstream="http://127.0.0.1:8000")
    holder = ConfigHolder(config=config)
    assert holder.reload() == []
    assert holder.current is config
    with pytest.raises(TypeError):
        ConfigHolder()


async def test_in_flight_request_finishes_under_its_config(write_config: Callable[..., str]) -> None:
    """What the server does: take holder.current once per request; a reload mid-request does not change it."""
    holder = ConfigHolder(write_config(GOOD.format(mode="defer")))
    started, reloaded = asyncio.Event(), asyncio.Event()

    async def request() -> tuple[str, str]:
        config = holder.current
        first = config.sites["shop.example"].mode
        started.set()
        await asyncio.wait_for(reloaded.wait(), timeout=5)
        return first, config.sites["shop.example"].mode

    task = asyncio.create_task(request())
    await asyncio.wait_for(started.wait(), timeout=5)
    write_config(GOOD.format(mode="strip"))
    assert holder.reload() == []
    reloaded.set()
    assert await asyncio.wait_for(task, timeout=5) == ("defer", "defer")
    assert holder.current.sites["shop.example"].mode == "strip"  # the next request sees the new file


async def test_sighup_wiring(write_config: Callable[..., str]) -> None:
    """The wiring docs/configuration.md shows: loop.add_signal_handler(SIGHUP, holder.reload)."""
    holder = ConfigHolder(write_config(GOOD.format(mode="defer")))
    swapped = asyncio.Event()
    holder.subscribe(lambda new, old: swapped.set())
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGHUP, holder.reload)
    try:
        write_config(GOOD.format(mode="strip"))
        os.kill(os.getpid(), signal.SIGHUP)
        await asyncio.wait_for(swapped.wait(), timeout=5)
    finally:
        loop.remove_signal_handler(signal.SIGHUP)
    assert holder.current.sites["shop.example"].mode == "strip"
