"""Helpers for the scenario tests: which processes are alive (the farm's hosts share this
machine's pid namespace, so a test can check that a remote command is gone)."""

from __future__ import annotations

from pathlib import Path

import pytest


def processes_running(fragment: str) -> list[int]:
    """Pids of live processes whose command line contains ``fragment``."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if fragment.encode() in cmdline.read_bytes().replace(b"\0", b" "):
                found.append(int(cmdline.parent.name))
        except OSError:
            continue
    return found


@pytest.fixture
def running():
    """``running(fragment)`` → pids of live processes whose command line contains it."""
    return processes_running
