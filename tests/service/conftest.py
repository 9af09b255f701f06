"""Helpers for the Service tests: which processes of a session are still alive."""

from __future__ import annotations

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
