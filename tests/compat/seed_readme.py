"""What the two seed-README suites share (``test_compat_seed_early.py``: the ``Engine`` era,
``test_compat_seed_scheduler.py``: the ``Scheduler`` era): the READMEs' coroutines, the jobs of
their examples c (a forever monitor) and d (a global timeout), what those print, and readers
of the output. The two READMEs differ in names only (``mycoro`` then ``in_out``), so the
coroutines are made here for a given name.

A module, not conftest.py: test directories each have a conftest, and ``from conftest import``
picks whichever came first.
"""
# ruff: noqa: UP032  (the READMEs' code is kept as written there)

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from typing import Any

from asynciojobs import Job


def announcing(name: str) -> Callable[[float], Coroutine[Any, Any, float]]:
    """The READMEs' first coroutine, printed as ``name``: says when it enters and exits,
    sleeps in the middle, returns the number of milliseconds."""

    async def coroutine(timeout):
        print("-> {}({})".format(name, timeout))
        await asyncio.sleep(timeout)
        print("<- {}({})".format(name, timeout))
        # return something easy to recognize: the number of milliseconds
        return 1000 * timeout

    coroutine.__name__ = coroutine.__qualname__ = name
    return coroutine


async def boom(n):
    await asyncio.sleep(n)
    raise Exception("boom after {}s".format(n))


def lines(capsys) -> list[str]:
    """The lines printed since the last read."""
    return capsys.readouterr().out.splitlines()


def badges_of(listing: str) -> dict[str, str]:
    """label -> badge text (the 7 characters after the id) of each line of a listing printed by
    ``list()``."""
    out = {}
    for line in listing.splitlines():
        if "`" not in line:
            continue
        label = line.split("`")[1]
        out[label] = line[3:10]
    return out


def example_c_jobs(name: str) -> tuple[Job, Job, Job, Job]:
    """Example c: three coroutines (printed as ``name``) report on a message bus, a forever
    job prints the bus; c3 requires c1."""
    message_bus = asyncio.Queue()

    async def monitor_loop(bus):
        while True:
            message = await bus.get()
            print("BUS: {}".format(message))

    async def on_bus(timeout, bus):
        await bus.put("-> {}({})".format(name, timeout))
        await asyncio.sleep(timeout)
        await bus.put("<- {}({})".format(name, timeout))
        # return something easy to recognize
        return 10 * timeout

    c1, c2, c3, c4 = (
        Job(on_bus(0.2, message_bus), label="c1"),
        Job(on_bus(0.4, message_bus), label="c2"),
        Job(on_bus(0.3, message_bus), label="c3"),
        Job(monitor_loop(message_bus), forever=True, label="monitor"),
    )
    c3.requires(c1)
    return c1, c2, c3, c4


def check_example_c_output(name: str, out: list[str]) -> None:
    """What example c prints on the bus: both first coroutines start, then c1 ends and lets
    c3 start."""
    assert sorted(out[:2]) == ["BUS: -> {}(0.2)".format(name), "BUS: -> {}(0.4)".format(name)]
    assert out[2:] == [
        "BUS: <- {}(0.2)".format(name),
        "BUS: -> {}(0.3)".format(name),
        "BUS: <- {}(0.4)".format(name),
        "BUS: <- {}(0.3)".format(name),
    ]


#: the badges of example c's jobs once the run is over
EXAMPLE_C_BADGES = {"c1": "  ☉ ☓  ", "c2": "  ☉ ☓  ", "c3": "  ☉ ☓  ", "monitor": "  ☉ ↺ ∞"}


async def forever_printer():
    """Example d's forever job: a line every 0.1 s, until the global timeout."""
    for i in range(100000):
        print("{}: forever {}".format(time.strftime("%H:%M:%S"), i))
        await asyncio.sleep(0.1)


def check_example_d_output(out: list[str]) -> None:
    """A 0.25 s timeout lets example d's job print three lines."""
    assert [line.split(": ")[1] for line in out] == ["forever 0", "forever 1", "forever 2"]


#: ``list()`` after example e (non-critical boom in a chain): the chain went on
EXAMPLE_E_LISTING = [
    "01   ☉ ☓   <Job `NOLABEL`>[[ -> 200.0]]",
    "02   ★ ☓   <Job `boom`>!! exception => Exception:boom after 0.2s!! - requires {01}",
    "03   ☉ ☓   <Job `NOLABEL`>[[ -> 300.0]] - requires {02}",
]

#: ``list()`` after example f (critical boom in a chain): the run stopped there
EXAMPLE_F_LISTING = [
    "01   ☉ ☓   <Job `NOLABEL`>[[ -> 200.0]]",
    "02 ⚠ ★ ☓   <Job `boom`>!! CRIT. EXC. => Exception:boom after 0.2s!! - requires {01}",
    "03     ⚐   <Job `NOLABEL`> - requires {02}",
]
