"""A command that leaves a process in the background holding its output (issue 14, section 2),
and a testbed tutorial run from a new user's HOME (sections 1 and 2 together), on the farm.

The background process keeps the session's stderr open, so sshd never closes the channel: the
command must still end ``output_grace`` seconds after its exit status, with its output, and the
process must keep running on the host (the tests kill it afterwards, by pid)."""
# ruff: noqa: F811 (test parameters are the fixtures imported from sshjobs_helpers)

from __future__ import annotations

import asyncio
import logging
import os
import signal
from pathlib import Path

import pytest
from sshjobs_helpers import Collect, collect, nodes  # noqa: F401 (fixtures)

from asynciojobs import Scheduler
from sshjobs import (
    Formatter,
    HostKeyError,
    LocalNode,
    Pull,
    Push,
    Run,
    RunScript,
    RunString,
    SshJob,
    SshNode,
)

#: starts a child that keeps stderr (not stdout) open, as ``netcat -l PORT > FILE &`` does
BACKGROUND = "sleep 300 > /dev/null & echo $! > {pidfile}"


def running(pid: int, what: bytes = b"sleep") -> bool:
    """Whether ``pid`` is alive and runs ``what`` (the farm's sshds share our pid space)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().startswith(what)
    except OSError:
        return False


@pytest.fixture
def background_pids():
    """Pids of the background processes a test started; killed afterwards whatever happens."""
    pids: list[int] = []
    yield pids
    for pid in pids:
        if running(pid):
            os.kill(pid, signal.SIGKILL)


def take_pid(path: Path, pids: list[int]) -> int:
    pid = int(path.read_text())
    pids.append(pid)
    return pid


class Events(Collect):
    """Also records the verbose events on stderr."""

    def __init__(self) -> None:
        super().__init__()
        self.verbose = True
        self.told: list[str] = []

    def stderr_line(self, line, hostname):
        self.told.append(line)


def test_background_child_does_not_hold_the_command(nodes, background_pids, caplog):
    host = nodes.farm.direct[0]
    events = Events()
    node = nodes.node(host, formatter=events)
    command = (
        "echo before; echo warn >&2; printf 'no newline'; "
        + BACKGROUND.format(pidfile="held.pid")
        + "; exit 3"
    )
    job = SshJob(node, commands=[Run(command, allowed_exits=[3]), Run("echo after")])
    with caplog.at_level(logging.DEBUG, logger="sshjobs.session"):
        assert Scheduler(job, timeout=60).run(), job.raised_exception()
    first, second = job.results
    assert first.exit_status == 3 and second.exit_status == 0
    # output written before the exit status is all there, partial line included
    assert events.stdout(node.hostname) == b"before\nno newlineafter\n"
    assert events.stderr(node.hostname) == b"warn\n" and first.stderr_tail == b"warn\n"
    pid = take_pid(nodes.farm.home_of(host) / "held.pid", background_pids)
    assert running(pid)  # nothing was killed
    assert any("kept its output open" in r.getMessage() for r in caplog.records)
    told = [line for line in events.told if "background process kept its output" in line]
    assert len(told) == 1 and "2s" in told[0]


def test_grace_per_node_per_command_and_unlimited(nodes, background_pids):
    host = nodes.farm.direct[1]
    node = nodes.node(host, output_grace=0)
    late = "; (sleep 1; echo late) & echo early"
    job = SshJob(
        node,
        commands=[
            Run(BACKGROUND.format(pidfile="a.pid") + late),  # node's grace: 0
            Run(BACKGROUND.format(pidfile="b.pid"), output_grace=0.1),
            # no limit: the output ends when the short-lived child is done, not before
            Run("(sleep 1; echo waited) &", output_grace=float("inf")),
        ],
    )
    assert Scheduler(job, timeout=60).run(), job.raised_exception()
    out = nodes.formatter.stdout(node.hostname)
    assert b"early\n" in out and b"late" not in out  # after the grace: not ours
    assert out.endswith(b"waited\n")
    for name in ("a.pid", "b.pid"):
        assert running(take_pid(nodes.farm.home_of(host) / name, background_pids))


def test_a_held_session_frees_its_slot(nodes, background_pids):
    """With one session per connection, the next command runs: the held one is closed."""
    host = nodes.farm.direct[0]
    node = nodes.node(host, max_sessions=1, output_grace=0.2)
    job = SshJob(
        node,
        commands=[Run(BACKGROUND.format(pidfile=f"s{i}.pid")) for i in range(3)]
        + [Run("echo done")],
    )
    assert Scheduler(job, timeout=60).run(), job.raised_exception()
    assert nodes.formatter.stdout(node.hostname).endswith(b"done\n")
    for i in range(3):
        assert running(take_pid(nodes.farm.home_of(host) / f"s{i}.pid", background_pids))


def test_local_node_background_child(tmp_path, background_pids):
    events = Events()
    node = LocalNode(formatter=events, cwd=str(tmp_path))
    command = "echo before; " + BACKGROUND.format(pidfile="local.pid") + "; exit 4"
    job = SshJob(
        node,
        commands=[
            Run(command, allowed_exits=[4]),
            Run("sleep 300 > /dev/null 2>&1 & echo quiet", capture=None),
        ],
    )
    assert Scheduler(job, timeout=60).run(), job.raised_exception()
    assert job.results[0].exit_status == 4
    assert events.stdout("LOCALNODE") == b"before\nquiet\n"
    assert running(take_pid(tmp_path / "local.pid", background_pids))
    assert sum("kept its output open" in line for line in events.told) == 1


def test_local_node_unlimited_grace_waits_for_the_pipes(tmp_path):
    node = LocalNode(formatter=Collect(), output_grace=None)
    result = asyncio.run(node.execute("(sleep 0.5; echo late) &", capture=True))
    assert result.stdout == b"late\n"


TUTORIAL_SCRIPT = """#!/bin/bash
# a tutorial's configuration script: pushed, then run with arguments
case "$1" in
  configure) echo "configuring $2 with $3 on $(hostname)"; echo "$2=$3" > config.out ;;
  *) echo "unknown subcommand $1" >&2; exit 1 ;;
esac
"""

#: ``netcat -l PORT > RANDOM &`` where no netcat is installed: one connection's bytes to stdout
LISTENER = (
    "import socket, sys; s = socket.socket(); "
    "s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(({addr!r}, 10000)); "
    "s.listen(1); c, _ = s.accept(); sys.stdout.buffer.write(c.makefile('rb').read())"
)
SENDER = (
    "import socket, sys; c = socket.create_connection(({addr!r}, 10000), timeout=20); "
    "c.sendall(open(sys.argv[1], 'rb').read()); c.close()"
)
#: until the receiver has ended (an ended orphan may stay a zombie of the farm's subreaper)
WAIT_RECEIVER = (
    "while grep -q python /proc/$(cat receiver.pid)/cmdline 2>/dev/null; do sleep 0.1; done"
)


def tutorial(farm, tmp_path: Path, formatter: Formatter, run: int) -> tuple[list, Scheduler]:
    """R2lab-shaped: a gateway reached by address, two nodes behind it reached by the names
    the gateway knows; Push of a script and RunScript with arguments on one node; on the
    other a receiver left in the background (``netcat -l ... > RANDOM &``), to which the first
    node then sends a file; Pull of the results. No host-key setting anywhere."""
    gateway, (node1, node2) = farm.gateway, farm.private[:2]
    gw = SshNode(gateway.address, port=gateway.port, username="root", formatter=formatter)
    fit01 = SshNode(node1.name, port=node1.port, username="root", gateway=gw, formatter=formatter)
    fit02 = SshNode(node2.name, port=node2.port, username="root", gateway=gw, formatter=formatter)
    script = tmp_path / "configure.sh"
    script.write_text(TUTORIAL_SCRIPT)
    payload = tmp_path / "RANDOM"
    payload.write_bytes(os.urandom(50_000))
    pulled = tmp_path / f"pulled{run}"
    pulled.mkdir()
    listener, sender = LISTENER.format(addr=node2.address), SENDER.format(addr=node2.address)
    check = SshJob(gw, command=Run("echo gateway ready"))
    receiver = SshJob(
        fit02,
        required=check,
        commands=[
            Run(f'rm -f RANDOM; python3 -c "{listener}" > RANDOM & echo $! > receiver.pid'),
            Run("echo receiver started"),
        ],
    )
    configure = SshJob(
        fit01,
        required=receiver,
        commands=[
            Push(localpaths=[str(script), str(payload)], remotepath="."),
            RunScript(script, "configure", "wlan0", f"run{run}"),
            RunString('#!/bin/sh\necho "args: $*"\n', "a", "b c", quote=True),
            Run(f'python3 -c "{sender}" RANDOM'),
            Pull(remotepaths=["config.out"], localpath=str(pulled)),
        ],
    )
    received = SshJob(
        fit02,
        required=configure,
        commands=[Run(WAIT_RECEIVER), Pull(remotepaths=["RANDOM"], localpath=str(pulled))],
    )
    scheduler = Scheduler(check, receiver, configure, received, timeout=60)
    return [check, receiver, configure, received], scheduler


def test_tutorial_from_a_new_users_home(faulty_farm, tmp_path, monkeypatch, background_pids):
    farm = faulty_farm
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True, mode=0o700)
    (home / ".ssh" / "id_ed25519").write_bytes(farm.client_key.read_bytes())
    os.chmod(home / ".ssh" / "id_ed25519", 0o600)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("SSHJOBS_HOST_KEYS", raising=False)
    gateway, (node1, node2) = farm.gateway, farm.private[:2]
    known = home / ".ssh" / "known_hosts"

    for run in (1, 2):  # a new user's first run, then a second run
        out = Collect()
        jobs, scheduler = tutorial(farm, tmp_path, out, run)
        assert scheduler.run(), [job.raised_exception() for job in jobs]
        assert f"configuring wlan0 with run{run} on private1\n".encode() in out.stdout()
        assert b"args: a b c\n" in out.stdout() and b"receiver started\n" in out.stdout()
        assert (tmp_path / f"pulled{run}" / "config.out").read_text() == f"wlan0=run{run}\n"
        # the receiver outlived its command, received the file, then ended by itself
        assert (tmp_path / f"pulled{run}" / "RANDOM").read_bytes() == (
            tmp_path / "RANDOM"
        ).read_bytes()
        # both levels recorded once, each under the name the client used
        names = [line.split()[0] for line in known.read_text().splitlines()]
        assert sorted(names) == sorted(
            [
                gateway.address if gateway.port == 22 else f"[{gateway.address}]:{gateway.port}",
                *(h.name if h.port == 22 else f"[{h.name}]:{h.port}" for h in (node1, node2)),
            ]
        )

    # a node re-imaged since: refused, naming it; the gateway and the other node still run
    farm.replace_host_key(node1)
    out = Collect()
    (check, receiver, configure, _), _ = tutorial(farm, tmp_path, out, 3)
    for job in (check, receiver, configure):
        job.critical = False
    Scheduler(check, receiver, configure, timeout=60).run()
    assert check.raised_exception() is None and receiver.raised_exception() is None
    pid = take_pid(farm.home_of(node2) / "receiver.pid", background_pids)
    assert running(pid, b"python")  # still listening: nobody sent anything
    error = configure.raised_exception()
    assert isinstance(error, HostKeyError) and error.host == node1.name
    message = str(error)
    removed = node1.name if node1.port == 22 else f"'[{node1.name}]:{node1.port}'"
    assert f"ssh-keygen -R {removed} -f {known}" in message
    assert "'Host private*' with 'StrictHostKeyChecking no'" in message
