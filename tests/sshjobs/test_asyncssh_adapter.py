"""sshjobs leaves asyncssh as it is: importing sshjobs and running jobs changes nothing in
asyncssh, ctypes or shlex; the speed-ups live in sshjobs' own connection objects, and the
process-wide ones only in the ``sshjobs`` command's process (sshjobs.transport.loader)."""

from __future__ import annotations

import json
import logging
import os
import shlex
import subprocess
import sys

import pytest

from sshjobs.transport import fastpath
from sshjobs.transport import loader as asyncssh_loader

PROBE = (
    "import asyncssh.crypto.pq as pq, ctypes.util; "
    "print(pq.mlkem_available, pq.sntrup_available, ctypes.util.find_library.__module__)"
)

#: every attribute sshjobs ever replaced process-wide (and a few neighbours)
WATCHED = """
import asyncssh, asyncssh.config, asyncssh.logging, asyncssh.connection, asyncssh.auth
import ctypes.util, shlex
def watched():
    conn = asyncssh.connection.SSHClientConnection
    return {
        "SSHLogger.log": id(asyncssh.logging.SSHLogger.log),
        "SSHLogger.get_child": id(asyncssh.logging.SSHLogger.get_child),
        "asyncssh.config.shlex": id(asyncssh.config.shlex),
        "shlex.split": id(shlex.split),
        "ctypes.util.find_library": id(ctypes.util.find_library),
        "asyncssh.connect": id(asyncssh.connect),
        "SSHClientConnection": id(conn),
        **{f"SSHClientConnection.{name}": id(getattr(conn, name)) for name in (
            "send_packet", "send_service_request", "try_next_auth", "_connection_made",
            "_process_service_accept", "_process_ext_info")},
        "SSHClientConnection._packet_handlers": id(conn._packet_handlers),
        "handlers": sorted(map(id, conn._packet_handlers.values())),
        "_ClientPublicKeyAuth._start": id(asyncssh.auth._ClientPublicKeyAuth._start),
        "SSHConfig.load": id(asyncssh.config.SSHConfig.__dict__["load"]),
    }
"""

RUN = (
    WATCHED
    + """
import json, os, sys
before = watched()
import sshjobs, sshjobs.cli
from sshjobs import Run, SshJob, SshNode
from asynciojobs import Scheduler
after_import = watched()
spec = json.loads(os.environ["TARGET"])
node = SshNode(spec["host"], port=spec["port"], username="root", keys=[spec["key"]],
               known_hosts=spec["known_hosts"])
ok = Scheduler(SshJob(node, commands=[Run("true")])).run()
after_run = watched()
changed = sorted(k for k in before if before[k] != after_import[k] or before[k] != after_run[k])
print(json.dumps({"ok": ok, "changed": changed}))
"""
)


def _run(code: str, env: dict | None = None) -> str:
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    ).stdout.strip()


@pytest.mark.parametrize("fast", ["1", "0"])
def test_import_and_run_change_nothing_in_asyncssh_ctypes_or_shlex(farm, fast):
    host = farm.hosts[0]
    target = json.dumps(
        {
            "host": host.address,
            "port": host.port,
            "key": str(farm.client_key),
            "known_hosts": str(farm.known_hosts),
        }
    )
    result = json.loads(_run(RUN, {"TARGET": target, "SSHJOBS_FAST_HANDSHAKE": fast}))
    assert result == {"ok": True, "changed": []}


def test_the_watch_sees_a_patch():
    """The comparison above can fail: the same probe, with the command's speed-ups applied
    (what ``sshjobs`` does in its own process), names what they changed."""
    code = WATCHED + (
        "before = watched()\n"
        "from sshjobs.transport.loader import _memoise_config_tokeniser\n"
        "_memoise_config_tokeniser()\n"
        "after = watched()\n"
        "print(sorted(k for k in before if before[k] != after[k]))"
    )
    assert _run(code) == "['asyncssh.config.shlex']"


def test_same_post_quantum_support_as_a_plain_import():
    speed_up = "from sshjobs.transport.loader import speed_up_this_process as s; s(); "
    assert _run(speed_up + PROBE) == _run(PROBE)
    assert _run(speed_up + PROBE).endswith(" ctypes.util")  # find_library restored


def test_the_command_applies_its_speed_ups_in_its_own_process_only():
    code = (
        "import sshjobs.cli, asyncssh.config, shlex; print(asyncssh.config.shlex is shlex); "
        "from sshjobs.transport.loader import speed_up_this_process as s; s(); "
        "print(type(asyncssh.config.shlex).__name__)"
    )
    assert _run(code).split() == ["True", "_MemoisedShlex"]


def test_a_liboqs_on_ld_library_path_is_looked_up(tmp_path, monkeypatch):
    monkeypatch.setenv("LD_LIBRARY_PATH", str(tmp_path))
    before = asyncssh_loader.may_have_liboqs()
    (tmp_path / "liboqs.so.5").write_bytes(b"")
    assert asyncssh_loader.may_have_liboqs()
    if not before:  # this machine has no liboqs: the shortcut applies without the file
        (tmp_path / "liboqs.so.5").unlink()
        assert not asyncssh_loader.may_have_liboqs()


class _Unprintable:
    def __str__(self) -> str:
        raise AssertionError("formatted although not logged")


class _Conn:
    """Stands for a connection of ours: what _check_log_levels looks at."""

    def __init__(self) -> None:
        from asyncssh.logging import logger

        self._logger = logger.get_child(context="conn=1")


def test_our_connections_format_log_arguments_only_when_logged(caplog):
    conn = _Conn()
    fastpath._check_log_levels(conn)
    channel = conn._logger.get_child("channel", context="chan=0")  # as asyncssh derives it
    with caplog.at_level("INFO", logger="asyncssh"):
        conn._logger.debug("never shown %s", [_Unprintable()])  # below INFO: not formatted
        channel.debug1("never shown %s", [_Unprintable()])
        conn._logger.info("shown %s and %s", [b"ab", "cd"], ("host", 22))
        channel.info("channel %s", b"x")
    assert [r.getMessage() for r in caplog.records] == [
        "[conn=1] shown ab,cd and host, port 22",
        "[conn=1, chan=0] channel x",
    ]


def test_other_asyncssh_loggers_are_left_as_they_are(caplog):
    """A logger that is not one of our connections' still formats as asyncssh does (which
    is why the probe below raises): sshjobs changed nothing for it."""
    from asyncssh.logging import logger

    other = logger.get_child("other", context="conn=2")
    with (
        caplog.at_level(logging.INFO, logger="asyncssh"),
        pytest.raises(AssertionError, match="formatted although not logged"),
    ):
        other.debug("shown? %s", [_Unprintable()])


def test_memoised_tokeniser_splits_as_shlex_and_errors_still_raise():
    memo = asyncssh_loader._MemoisedShlex()
    for line in [
        'Host a b "c d"',
        "IdentityFile ~/.ssh/id_ed25519",
        "User=root",
        "ProxyCommand ssh -W %h:%p gw",
        "Host 'x y'",
    ]:
        first, second = memo.split(line), memo.split(line)
        assert first == second == shlex.split(line)
        first.append("changed")  # callers get their own list
        assert memo.split(line) == shlex.split(line)
    for _ in range(2):
        with pytest.raises(ValueError, match="quotation"):
            memo.split('Host "unterminated')
