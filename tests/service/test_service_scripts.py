"""The shell scripts of ``Service``, run by the local /bin/sh (dash) and bash.

These check the script logic itself (process tree, pid file, exit codes) on this machine,
which has no systemd, so the plain back-end is the one chosen at run time. The same scripts
sent over SSH to the farm are tested in ``test_service_farm.py``.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
from pathlib import Path

import pytest
from fixtures.waiting import wait_until

from sshjobs.service import Service


class Host:
    """Runs service scripts with a private HOME, and stops whatever is left at the end."""

    def __init__(self, home: Path, shell: str) -> None:
        self.home = home
        self.shell = shell
        self.started: list[Service] = []

    def run(self, script: str, **env: str) -> subprocess.CompletedProcess:
        environ = {"PATH": os.environ["PATH"], "HOME": str(self.home), **env}
        # like sshd: the script runs from the home directory
        return subprocess.run(
            [self.shell, "-c", script],
            env=environ,
            capture_output=True,
            text=True,
            timeout=30,
            cwd=self.home,
            check=False,
        )

    def sid(self, service: Service) -> int:
        return int(
            (self.home / ".sshjobs/services" / service.service_id / "pid").read_text().split()[0]
        )

    def start(self, service: Service) -> subprocess.CompletedProcess:
        self.started.append(service)
        return self.run(service.start_script())


@pytest.fixture(params=["sh", "bash"])
def host(request, tmp_path):
    host = Host(tmp_path, request.param)
    yield host
    for service in host.started:
        host.run(service.stop_script())


TREE = "echo ready $GREETING; sleep 300 & sleep 301 & (sleep 302; true) & wait"


def test_start_status_stop_kills_the_whole_tree(host, members):
    service = Service(TREE, service_id="tree", environ={"GREETING": "hello world"})
    started = host.start(service)
    assert started.returncode == 0, started.stderr
    sid = host.sid(service)
    assert f"pid {sid}" in started.stdout
    wait_until(
        lambda: members(sid),
        until=lambda pids: len(pids) >= 4,
        interval=0.02,
        message="the shell and its three children run",
    )
    status = host.run(service.status_script())
    assert (status.returncode, status.stdout) == (0, f"service tree: running, pid {sid}\n")
    stopped = host.run(service.stop_script())
    assert stopped.returncode == 0, stopped.stderr
    assert members(sid) == []
    status = host.run(service.status_script())
    assert (status.returncode, status.stdout) == (3, "service tree: not running\n")
    # the environment reached the process, and its output went to the log
    assert host.run(service.journal_script()).stdout == "ready hello world\n"


def test_start_again_restarts(host, members):
    service = Service("sleep 300 & wait", service_id="again")
    assert host.start(service).returncode == 0
    first = host.sid(service)
    assert host.start(service).returncode == 0
    second = host.sid(service)
    assert first != second
    assert members(first) == [] and members(second) != []


def test_start_without_stop_if_running_refuses(host, members):
    service = Service("sleep 300", service_id="once", stop_if_running=False)
    assert host.start(service).returncode == 0
    sid = host.sid(service)
    again = host.run(service.start_script())
    assert again.returncode == 1 and "already running" in again.stderr
    assert host.sid(service) == sid and members(sid) != []


def test_a_tree_ignoring_term_is_killed(host, members):
    service = Service(
        "trap '' TERM; sh -c \"trap '' TERM; sleep 300\" & sleep 301; wait",
        service_id="stubborn",
        stop_timeout=0.3,
    )
    assert host.start(service).returncode == 0
    sid = host.sid(service)
    assert host.run(service.stop_script()).returncode == 0
    assert members(sid) == []


def test_stop_and_status_of_a_service_never_started(host):
    service = Service("sleep 300", service_id="never")
    assert host.run(service.stop_script()).returncode == 0
    assert host.run(service.status_script()).returncode == 3
    assert "no log yet" in host.run(service.journal_script()).stdout
    journal = host.run(service.journal_script(since="1 hour ago"))
    assert "since= ignored" in journal.stderr and "no log yet" in journal.stdout


def test_status_output_goes_to_a_file(host, tmp_path):
    service = Service("sleep 300", service_id="report")
    host.start(service)
    target = tmp_path / "status.txt"
    result = host.run(service.status_script(output=str(target)))
    assert result.returncode == 0 and result.stdout == ""
    assert target.read_text().startswith("service report: running")


def test_shell_syntax_and_quotes_in_the_command(host):
    service = Service(
        """echo "it's $((1 + 2))" 'x  y' > out.tmp; mv out.tmp out.txt; sleep 300""",
        service_id="quotes",
    )
    assert host.start(service).returncode == 0
    out = host.home / "out.txt"
    wait_until(out.exists, interval=0.02, message=f"{out} written")
    host.run(service.stop_script())
    assert out.read_text() == "it's 3 x  y\n"


def test_systemd_backend_commands(tmp_path):
    """With systemd the script drives systemd-run / systemctl / journalctl: fake ones on
    PATH record their arguments (this machine has no systemd)."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    calls = tmp_path / "calls"
    for tool in ("systemd-run", "systemctl", "journalctl"):
        fake = bindir / tool
        fake.write_text(
            f'#!/bin/sh\necho {tool} "$@" >> {calls}\n[ "$1" = is-active ] && exit 0\nexit 0\n'
        )
        fake.chmod(0o755)
    service = Service(
        "echo $A",
        service_id="unit",
        environ={"A": "1 2"},
        tty=True,
        systemd_type="notify",
        backend="systemd",
    )
    host = Host(tmp_path, "sh")
    env = {"PATH": f"{bindir}:{os.environ['PATH']}"}
    for script in (
        service.start_script(),
        service.stop_script(),
        service.status_script(),
        service.journal_script(since="1 hour ago"),
    ):
        assert host.run(script, **env).returncode == 0
    assert calls.read_text().splitlines() == [
        "systemctl is-active --quiet unit",
        "systemctl stop unit",
        "systemctl reset-failed unit",
        "systemd-run --pty --unit=unit --service-type=notify --setenv=A=1 2 /bin/sh -c echo $A",
        "systemctl stop unit",
        "systemctl status unit",
        "journalctl --no-pager --unit=unit --since=1 hour ago",
    ]


@pytest.mark.parametrize(
    ("kwds", "message"),
    [
        ({"service_id": "a b"}, "service_id 'a b': use letters, digits and _.@:- only"),
        ({"service_id": "x;rm"}, "service_id 'x;rm': use letters, digits and _.@:- only"),
        ({"service_id": "ok", "environ": {"A-B": "1"}}, "environ: 'A-B' is not a valid variable"),
        ({"service_id": "ok", "backend": "docker"}, "backend 'docker': expected one of auto, "),
    ],
)
def test_bad_arguments(kwds, message):
    with pytest.raises(ValueError, match=f"^{re.escape(message)}"):
        Service("true", **kwds)


def test_commands_are_runs_with_labels_and_run_options():
    from sshjobs import Run

    service = Service("sleep 1", service_id="web")
    start = service.start_command()
    assert isinstance(start, Run) and start.get_label_line() == "start service web"
    assert start.command_line() == service.start_script()
    assert service.stop_command(label="bye").get_label_line() == "bye"
    assert service.status_command(allowed_exits=[3]).allowed_exits == {3}
    assert service.journal_command().command_line() == service.journal_script()
    verbose = Service("sleep 1", service_id="web", verbose=True).start_command()
    assert verbose.get_label_line() == "start service web: sleep 1"


def test_deferred_command_is_rendered_when_the_command_runs(host, members):
    from sshjobs import Deferred, Variables

    variables = Variables()
    service = Service(Deferred("sleep {{ seconds }}", variables), service_id="deferred")
    start, stop = service.start_command(), service.stop_command()
    variables["seconds"] = "313"  # known only after the commands were built
    host.started.append(service)
    assert host.run(start.command_line()).returncode == 0
    sid = host.sid(service)

    def command_lines() -> list[bytes]:
        found = []
        for pid in members(sid):
            with contextlib.suppress(OSError):  # gone meanwhile
                found.append(Path(f"/proc/{pid}/cmdline").read_bytes())
        return found

    wait_until(
        command_lines,
        until=lambda found: b"sleep\x00313\x00" in found,
        interval=0.02,
        message="the rendered 'sleep 313' runs in the service's session",
    )
    assert host.run(stop.command_line()).returncode == 0
    assert members(sid) == []


def test_a_stale_pid_file_never_designates_another_session(host, members):
    """The service died and its pid now leads an unrelated session: status says not running
    and stop leaves that session alone."""
    stranger = subprocess.Popen(["setsid", "sleep", "300"])
    try:
        service = Service("sleep 300", service_id="stale")
        directory = host.home / ".sshjobs/services/stale"
        directory.mkdir(parents=True)
        (directory / "pid").write_text(f"{stranger.pid} 12345\n")  # not its start time
        assert host.run(service.status_script()).returncode == 3
        assert host.run(service.stop_script()).returncode == 0
        assert stranger.poll() is None and members(stranger.pid) == [stranger.pid]
    finally:
        stranger.kill()
        stranger.wait()
