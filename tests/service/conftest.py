"""Helpers for the Service tests: which processes of a session are still alive."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest


def session_members(sid: int) -> list[int]:
    """Pids of live (non-zombie) processes of session ``sid``, read from /proc (the farm's
    hosts share this machine's pid namespace)."""
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z" and int(fields[3]) == sid:
            pids.append(int(stat.parent.name))
    return pids


@pytest.fixture
def members():
    """``members(sid)`` → pids of the live processes of session ``sid``."""
    return session_members


def wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    """Poll ``predicate`` until true (a remote process tree forks asynchronously: there is no
    event to wait on from here)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


@pytest.fixture
def settled():
    """``settled(predicate)`` → True once the predicate holds (within 10 s)."""
    return wait_for
