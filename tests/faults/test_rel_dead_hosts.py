"""Dead hosts (issue 8, case 1): a closed port, a host dropping packets silently, sshd killed
before and during a command, a link cut during a long command. Each is reported for that host
within the connect timeout plus the keepalive detection time, the other hosts finish, the run
ends, and the CLI's exit code says "unreachable" (3).
"""

from __future__ import annotations

import asyncio
import re
import subprocess
import threading
import time

import pytest
from faultkit import SSHJOBS, Lines, kill_remote, marker, node, remote_matching
from fixtures.waiting import wait_until, wait_until_async

from asynciojobs import Scheduler
from sshjobs import CommandFailedError, Run, SshConnectionError, SshJob

#: slack for a loaded 2-core machine on top of each bound below (without detection, each
#: of these waits would be endless, or 30 s for the default connect timeout)
MARGIN = 8.0


@pytest.fixture
def farm(faulty_farm):
    if not faulty_farm.isolated:
        pytest.skip(faulty_farm.isolation_reason)
    return faulty_farm


def test_lib_closed_port_and_silent_host_others_finish(farm):
    refused_host, silent_host = farm.direct
    farm.stop(refused_host)
    farm.blackhole(silent_host)
    lines = Lines()
    gateway = node(farm, farm.gateway, formatter=lines)
    refused = node(farm, refused_host, formatter=lines)
    silent = node(farm, silent_host, formatter=lines, timeout=1.5)
    healthy = node(farm, farm.private[0], via=gateway, formatter=lines)
    jobs = {
        name: SshJob(n, command="echo fine", critical=False)
        for name, n in [("refused", refused), ("silent", silent), ("healthy", healthy)]
    }
    start = time.monotonic()
    assert Scheduler(*jobs.values()).run() is True  # non-critical: the run completes
    elapsed = time.monotonic() - start
    assert elapsed < 1.5 + MARGIN
    refused_error = jobs["refused"].raised_exception()
    assert isinstance(refused_error, SshConnectionError)
    assert refused_error.host == refused_host.address and "refused" in str(refused_error)
    silent_error = jobs["silent"].raised_exception()
    assert isinstance(silent_error, SshConnectionError)
    assert silent_error.host == silent_host.address and "timed out" in str(silent_error)
    assert jobs["healthy"].raised_exception() is None
    assert lines.stdout(healthy.hostname) == b"fine\n"


def test_lib_sshd_killed_before_and_during_a_command(farm):
    before_host, during_host, other_host = farm.private
    tag = marker()
    lines = Lines()
    gateway = node(farm, farm.gateway, formatter=lines)
    before = node(farm, before_host, via=gateway, formatter=lines)
    during = node(farm, during_host, via=gateway, formatter=lines)
    other = node(farm, other_host, via=gateway, formatter=lines)

    async def main():
        first = SshJob(before, command="echo up", critical=False, keep_connection=True)
        assert await Scheduler(first).co_run()
        assert before.is_connected()
        farm.stop(before_host, kill_sessions=True)  # killed between two commands
        second = SshJob(before, command="echo again", critical=False)
        long = SshJob(during, command=f"sleep {tag}", critical=False)
        fine = SshJob(other, commands=[Run("echo fine")], critical=False)
        task = asyncio.create_task(Scheduler(second, long, fine).co_run())
        await asyncio.to_thread(
            wait_until,
            lambda: remote_matching(farm, [during_host], tag),
            timeout=10,
            message="the long command runs",
        )
        killed_at = time.monotonic()
        farm.stop(during_host, kill_sessions=True)  # killed during the command
        assert await asyncio.wait_for(task, 30) is True
        return second, long, fine, time.monotonic() - killed_at

    second, long, fine, after_kill = asyncio.run(main())
    error = second.raised_exception()
    assert isinstance(error, SshConnectionError) and error.host == before.hostname
    assert after_kill < MARGIN
    error = long.raised_exception()
    if error is None:
        # sshd's session died with its command but still reported how the command ended (a
        # non-critical job records that failure instead of raising)
        [result] = long.results
        assert result.signal in ("KILL", "TERM", "HUP") or result.exit_status == 137, result
        assert result.host == during.hostname and not result.ok
    else:
        assert isinstance(error, (SshConnectionError, CommandFailedError)), error
        assert error.host == during.hostname
    assert fine.raised_exception() is None and lines.stdout(other.hostname) == b"fine\n"


def test_lib_link_cut_during_long_command_detected_by_keepalive(farm):
    direct_cut, direct_ok = farm.direct
    private_cut = farm.private[2]
    tag = marker()
    lines = Lines()
    keepalive = {"keepalive_interval": 0.5, "keepalive_count_max": 2}
    gateway = node(farm, farm.gateway, formatter=lines)
    cut_a = node(farm, direct_cut, formatter=lines, **keepalive)
    cut_b = node(farm, private_cut, via=gateway, formatter=lines, **keepalive)
    ok = node(farm, direct_ok, formatter=lines)

    async def main():
        jobs = [
            SshJob(n, command=f"echo started; sleep {tag}", critical=False) for n in (cut_a, cut_b)
        ]
        fine = SshJob(ok, command=f"sleep 2; echo {tag}", critical=False)
        task = asyncio.create_task(Scheduler(*jobs, fine).co_run())
        await asyncio.to_thread(
            wait_until,
            lambda: remote_matching(farm, [direct_cut, private_cut], f"sleep {tag}"),
            until=lambda running: len(running) == 2,
            timeout=10,
            message="both run",
        )
        cut_at = time.monotonic()
        farm.cut(direct_cut)
        farm.cut(private_cut)
        assert await asyncio.wait_for(task, 30) is True
        return jobs, fine, time.monotonic() - cut_at

    try:
        jobs, fine, after_cut = asyncio.run(main())
    finally:
        farm.reset()
        kill_remote(farm, [direct_cut, private_cut], tag)  # their sshd never heard of it
    assert after_cut < 0.5 * 2 + 2 + MARGIN  # keepalive + the healthy 2 s job
    for job, n in zip(jobs, (cut_a, cut_b), strict=False):
        error = job.raised_exception()
        assert isinstance(error, SshConnectionError) and error.host == n.hostname, error
        assert lines.stdout(n.hostname) == b"started\n"
    assert fine.raised_exception() is None
    assert lines.stdout(ok.hostname) == f"{tag}\n".encode()


def _stderr_lines_with_times(process):
    """(monotonic time, line) of each stderr line, read by a thread as they come."""
    return _lines_with_times(process.stderr)


def _lines_with_times(stream):
    """(monotonic time, line) of each line of ``stream``, read by a thread as they come."""
    got: list[tuple[float, str]] = []

    def reader():
        for line in stream:
            got.append((time.monotonic(), line.rstrip("\n")))

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    return got, thread


def test_cli_every_kind_of_dead_host_in_one_run_exit_3(farm):
    """One run over 5 hosts: refused, silent (-c 5), killed during, cut during, and a healthy
    one. The CLI has the library's keepalive (5 s x 3): a cut link is reported within ~15 s.
    (-c 5 applies to every host: shorter ones made healthy hosts time out on a loaded box.)"""
    refused, silent = farm.direct
    healthy, killed, cut = farm.private
    tag = marker()
    (farm.tmp_of(healthy) / f"quick-{tag}").write_text("")
    farm.stop(refused)
    farm.blackhole(silent)
    targets = f"{refused.name},{silent.name},gateway->private[1-3]"
    command = f"echo started; test -e /tmp/quick-{tag} || sleep {tag}"
    start = time.monotonic()
    process = subprocess.Popen(
        [SSHJOBS, "run", "-c", "5", "-t", targets, "--", command],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    errors, reader = _stderr_lines_with_times(process)
    outputs, out_reader = _lines_with_times(process.stdout)
    try:
        wait_until(
            lambda: remote_matching(farm, [killed, cut], f"sleep {tag}"),
            until=lambda running: len(running) == 2,
            timeout=20,
            message="the long commands run",
        )
        # the remote sleep can run while its "started" is still on its way to us: a fault
        # injected then rightly loses that line
        wait_until(
            lambda: list(outputs),
            until=lambda seen: len(seen) == 3,
            timeout=20,
            message="every host's 'started' reached the client",
        )
        fault_at = time.monotonic()
        farm.stop(killed, kill_sessions=True)
        farm.cut(cut)
        process.wait(timeout=60)  # the run ends by itself
        ended = time.monotonic()
        out_reader.join(5)
        stdout = "".join(line + "\n" for _, line in outputs)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        farm.reset()
        kill_remote(farm, [cut], tag)
    reader.join(5)
    process.stdout.close()
    process.stderr.close()
    assert process.returncode == 3, (errors, stdout)
    assert sorted(stdout.splitlines()) == sorted(
        f"{h.name}: started" for h in (healthy, killed, cut)
    )
    by_host = {}
    names = {h.name for h in farm.hosts}
    for when, line in errors:
        found = re.match(r"sshjobs: (\S+): (.*)", line)
        if not found:  # the remote commands' own stderr (bash saying "Killed"), prefixed
            assert line.split(":")[0] in names, f"neither a host error nor host output: {line!r}"
            continue
        assert found.group(1) not in by_host, f"two lines for {found.group(1)}: {errors}"
        by_host[found.group(1)] = (when, found.group(2))
    assert set(by_host) == {refused.name, silent.name, killed.name, cut.name}, (errors, stdout)
    assert by_host[refused.name][1].startswith("unreachable: connection refused")
    assert by_host[refused.name][0] - start < MARGIN
    assert by_host[silent.name][1].startswith("unreachable: timed out after 5")
    assert by_host[silent.name][0] - start < 5 + MARGIN
    reason = by_host[killed.name][1]
    # sshd's session dies with its command: the loss comes first, or sshd still reports how
    # the command ended (killed by the signal, or its shell's 128+9)
    assert (
        reason.startswith("unreachable: connection lost")
        or "killed by signal" in reason
        or reason == "exit status 137"
    ), reason
    assert by_host[killed.name][0] - fault_at < MARGIN
    assert by_host[cut.name][1].startswith("unreachable: connection lost")
    assert by_host[cut.name][0] - fault_at < 5 * 3 + 5 + MARGIN  # keepalive 5 s x 3
    assert ended - fault_at < 5 * 3 + 5 + MARGIN


def test_lib_gateway_link_cut_fails_the_hosts_behind_it_only(farm):
    """Testbeds sit behind one gateway: when its link goes, every host behind it is reported
    (keepalive on the gateway's connection), a direct host finishes, the run ends."""
    tag = marker()
    lines = Lines()
    keepalive = {"keepalive_interval": 0.5, "keepalive_count_max": 2}
    gateway = node(farm, farm.gateway, formatter=lines, **keepalive)
    behind = [node(farm, h, via=gateway, formatter=lines, **keepalive) for h in farm.private]
    direct = node(farm, farm.direct[0], formatter=lines)

    async def main():
        jobs = [SshJob(n, command=f"echo started; sleep {tag}", critical=False) for n in behind]
        fine = SshJob(direct, command=f"sleep 2; echo {tag}", critical=False)
        task = asyncio.create_task(Scheduler(*jobs, fine).co_run())
        await asyncio.to_thread(
            wait_until,
            lambda: remote_matching(farm, farm.private, f"sleep {tag}"),
            until=lambda running: len(running) == len(farm.private),
            timeout=20,
            message="every host behind the gateway runs",
        )
        # the remote sleep can be seen before its "started" line has crossed the link: wait
        # for the line, or a cut in between would rightly lose it
        await wait_until_async(
            lambda: {n.hostname: lines.stdout(n.hostname) for n in behind},
            until=lambda seen: all(out == b"started\n" for out in seen.values()),
            timeout=20,
            interval=0.02,
            message="every host behind the gateway sent 'started'",
        )
        cut_at = time.monotonic()
        farm.cut(farm.gateway)
        assert await asyncio.wait_for(task, 30) is True
        return jobs, fine, time.monotonic() - cut_at

    try:
        jobs, fine, after_cut = asyncio.run(main())
    finally:
        farm.reset()
        kill_remote(farm, farm.private, tag)  # the gateway's sshd never heard we left
    assert after_cut < 0.5 * 2 + 2 + MARGIN
    for job, n in zip(jobs, behind, strict=False):
        error = job.raised_exception()
        assert isinstance(error, SshConnectionError) and error.host == n.hostname, error
        assert lines.stdout(n.hostname) == b"started\n"
    assert fine.raised_exception() is None
    assert lines.stdout(direct.hostname) == f"{tag}\n".encode()
    assert not gateway.is_connected() and not any(n.is_connected() for n in behind)
