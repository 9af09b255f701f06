"""``Service`` on the farm's real sshd hosts (no systemd there: the plain back-end).

The scripts are sent with the OpenSSH client (``farm.ssh_argv``), so this tests the remote
behaviour on its own; ``tests/scenario/test_scenario_farm.py`` drives the same commands through
SshJobs. The farm's hosts share this machine's pid namespace, so the test can check in /proc that
no process of a stopped service remains.
"""

from __future__ import annotations

import subprocess

import pytest
from fixtures.waiting import wait_until

from sshjobs.service import Service


class Remote:
    """Runs service scripts on one farm host, and stops whatever it started at the end."""

    def __init__(self, farm, host, user: str = "root") -> None:
        self.farm, self.host, self.user = farm, host, user
        self.started: list[Service] = []

    def run(self, script: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            self.farm.ssh_argv(self.host, script, user=self.user),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def start(self, service: Service) -> subprocess.CompletedProcess:
        self.started.append(service)
        return self.run(service.start_script())

    def sid(self, service: Service) -> int:
        home = self.farm.home_of(self.host, self.user)
        return int((home / ".sshjobs/services" / service.service_id / "pid").read_text().split()[0])

    def close(self) -> None:
        for service in self.started:
            self.run(service.stop_script())


@pytest.fixture
def remote(farm, request):
    # a private host, reached through the gateway, as root and as the unprivileged user
    remote = Remote(farm, farm.private[0], getattr(request, "param", "root"))
    yield remote
    remote.close()


TREE = "echo env=$FARM_VALUE; sh -c 'sleep 300 & sleep 301 & wait' & sleep 302 & wait"


@pytest.mark.parametrize("remote", ["root", "unprivileged"], indirect=True)
def test_service_lifecycle_on_a_private_host(remote, farm, members):
    if remote.user == "unprivileged":
        remote.user = farm.user
    service = Service(TREE, service_id="tree", environ={"FARM_VALUE": "it works"})
    started = remote.start(service)
    assert started.returncode == 0, started.stderr
    sid = remote.sid(service)
    # sh, sh -c, sleep 300, sleep 301, sleep 302
    wait_until(
        lambda: members(sid),
        until=lambda pids: len(pids) >= 5,
        interval=0.02,
        message="the service's five processes run",
    )
    status = remote.run(service.status_script())
    assert status.returncode == 0 and "running" in status.stdout

    restarted = remote.start(service)  # stop_if_running: the old tree goes, a new one runs
    assert restarted.returncode == 0, restarted.stderr
    new_sid = remote.sid(service)
    assert new_sid != sid and members(sid) == [] and members(new_sid)
    wait_until(
        lambda: members(new_sid),
        until=lambda pids: len(pids) >= 5,
        interval=0.02,
        message="the restarted service's five processes run",
    )

    stopped = remote.run(service.stop_script())
    assert stopped.returncode == 0, stopped.stderr
    assert members(new_sid) == []
    status = remote.run(service.status_script())
    assert status.returncode == 3 and "not running" in status.stdout
    journal = remote.run(service.journal_script())
    assert journal.stdout.splitlines() == ["env=it works", "env=it works"]


def test_ssh_returns_at_once_and_the_service_survives_the_session(remote, members):
    """The start command's ssh session ends while the service keeps running: the service
    holds none of the session's channels and is not hung up when it closes."""
    service = Service("sleep 300", service_id="detached")
    assert remote.start(service).returncode == 0
    sid = remote.sid(service)
    # a second, unrelated session: the service is still there
    assert remote.run("true").returncode == 0
    assert members(sid)
    assert remote.run(service.status_script()).returncode == 0
