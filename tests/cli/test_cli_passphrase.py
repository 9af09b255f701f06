"""sshjobs with a passphrase-protected key (``run -i``, apssh's ``-k``): asked once on the
terminal (no echo), one line and a non-zero exit before any connection when there is no
terminal to ask on."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import asyncssh
import pytest

SSHJOBS = str(Path(sys.executable).with_name("sshjobs"))
PASSPHRASE = "right horse"


@pytest.fixture
def encrypted_key(farm, tmp_path):
    path = tmp_path / "id_encrypted"
    asyncssh.read_private_key(str(farm.client_key)).write_private_key(
        str(path), passphrase=PASSPHRASE
    )
    return path


#: the two command lines taking key files: (argv before the keys, key option, bad-input exit code)
FRONTS = {"run": (["run"], "-i", 2), "apssh": (["apssh"], "-k", 1)}


def _argv(front: str, key: Path, host: str, command: str, keys: int = 1) -> list[str]:
    words, option, _ = FRONTS[front]
    separator = ["--"] if front == "run" else []
    return [SSHJOBS, *words, "-r", *[option, str(key)] * keys, "-t", host, *separator, command]


@pytest.mark.parametrize("front", FRONTS)
def test_without_a_terminal_one_line_and_an_error_before_connecting(farm, encrypted_key, front):
    before = farm.accepted_connections(farm.direct[0])
    done = subprocess.run(
        _argv(front, encrypted_key, farm.direct[0].name, "true"),
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == FRONTS[front][2], done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and "passphrase-protected" in lines[0] and "ssh-add" in lines[0]
    assert farm.accepted_connections(farm.direct[0]) == before


def _read_until(fd: int, needle: bytes, seen: bytearray, timeout: float = 60) -> bool:
    deadline = time.monotonic() + timeout
    while needle not in seen and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # the child closed the terminal
                return needle in seen
            if not chunk:
                break
            seen += chunk
    return needle in seen


@pytest.mark.parametrize("front", FRONTS)
@pytest.mark.parametrize("right", [True, False], ids=["right", "wrong"])
def test_on_a_terminal_the_passphrase_is_asked_once_without_echo(farm, encrypted_key, front, right):
    answer, status = (PASSPHRASE, 0) if right else ("wrong", FRONTS[front][2])
    argv = _argv(front, encrypted_key, farm.direct[0].name, "echo logged-in", keys=2)
    pid, fd = pty.fork()
    if pid == 0:  # the child: sshjobs on the terminal
        os.execv(argv[0], argv)
    seen = bytearray()
    try:
        assert _read_until(fd, b"Passphrase for", seen), bytes(seen)
        os.write(fd, answer.encode() + b"\n")
        _read_until(fd, b"\x00never", seen, timeout=60 if status == 0 else 30)
    finally:
        _, code = os.waitpid(pid, 0)
        os.close(fd)
    assert os.waitstatus_to_exitcode(code) == status, bytes(seen)
    text = bytes(seen).decode(errors="replace")
    assert answer not in text  # no echo
    assert text.count("Passphrase for") == 1  # two encrypted -i keys, one question
    if status == 0:
        assert "logged-in" in text
    else:
        assert "cannot decrypt" in text
