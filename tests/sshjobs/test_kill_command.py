"""The remote kill command line works in every POSIX shell a host may have as login shell."""

import os
import shutil
import subprocess

import pytest
from fixtures.waiting import empty, wait_until

from sshjobs.session import kill_group_command

SHELLS = [shell for shell in ("dash", "bash", "sh") if shutil.which(shell)]


@pytest.mark.parametrize("shell", SHELLS)
def test_kill_group_command_kills_the_whole_group(shell):
    # a process group of its own, with a child: both must go
    leader = subprocess.Popen(["sh", "-c", "sleep 300 & sleep 300; wait"], start_new_session=True)
    try:
        wait_until(
            lambda: _group_members(leader.pid),
            until=lambda members: len(members) >= 3,
            interval=0.01,
            message="the group's shell and its two sleeps run",
        )
        subprocess.run([shell, "-c", kill_group_command(leader.pid, grace=0.5)], check=True)
        assert leader.wait(timeout=5) != 0
        wait_until(
            lambda: _group_members(leader.pid),
            until=empty,
            timeout=5,
            interval=0.02,
            message=f"{shell} killed every process of the group",
        )
    finally:
        if leader.poll() is None:
            os.killpg(leader.pid, 9)
            leader.wait()


def _group_members(pgid: int) -> list[int]:
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(entry))
    return members
