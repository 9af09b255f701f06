"""The installed ``sshjobs`` console script as a real process against the farm: streams and exit
codes as a shell sees them, no colors or progress when piped, and Ctrl-C (SIGINT)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from fixtures.waiting import empty, wait_until

SSHJOBS = str(Path(sys.executable).with_name("sshjobs"))


def spawn(*args, **kwargs):
    return subprocess.Popen(
        [SSHJOBS, *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )


def run(*args, timeout=60):
    return subprocess.run(
        [SSHJOBS, *map(str, args)], capture_output=True, text=True, timeout=timeout
    )


def test_piped_output_is_plain_and_exit_codes_reach_the_shell(farm):
    names = [h.name for h in farm.direct]
    done = run("run", "-t", ",".join(names), "--", "echo out; echo err >&2; exit 3")
    assert done.returncode == 1
    assert sorted(done.stdout.splitlines()) == sorted(f"{n}: out" for n in names)
    assert "\x1b" not in done.stdout + done.stderr  # no color, no progress line when piped
    assert sorted(done.stderr.splitlines()) == sorted(
        [f"{n}: err" for n in names] + [f"sshjobs: {n}: exit status 3" for n in names]
    )
    assert run("run", "-t", "fit[05-01]", "--", "true").returncode == 2
    assert run("--version").stdout.startswith("sshjobs ")


def test_python_dash_m_is_the_same_command(farm):
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "sshjobs",
            "run",
            "-r",
            "-t",
            farm.direct[0].name,
            "--",
            "echo via-m",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (done.returncode, done.stdout) == (0, "via-m\n"), done.stderr


def _remote_sleepers(farm, host, marker):
    check = subprocess.run(
        farm.ssh_argv(host, f"pgrep -f {marker} || true"),
        capture_output=True,
        text=True,
        timeout=30,
    )
    return [line for line in check.stdout.split() if line.strip()]


@pytest.mark.parametrize("via_gateway", [False, True])
def test_ctrl_c_exits_130_and_leaves_nothing_running(farm, via_gateway):
    host = farm.private[0] if via_gateway else farm.direct[0]
    target = f"gateway->{host.name}" if via_gateway else host.name
    marker = f"98765{int(via_gateway)}"
    pattern = f"'slee[p] {marker}'"  # the bracket keeps pgrep's own shell from matching
    process = spawn("run", "-t", target, "--", f"echo started; sleep {marker}")
    try:
        assert process.stdout.readline() == f"{host.name}: started\n"
        assert _remote_sleepers(farm, host, pattern)  # the check below can see the command
        process.send_signal(signal.SIGINT)
        _stdout, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 130, stderr
    assert f"sshjobs: {host.name}: interrupted" in stderr
    wait_until(
        lambda: _remote_sleepers(farm, host, pattern),
        until=empty,
        interval=0.1,
        message=f"the interrupted command gone from {host.name}",
    )


def _on_terminal(argv, env, stream="stdout"):
    """Run argv with ``stream`` on a pseudo-terminal, the other piped:
    (exit code, bytes written on the terminal, bytes of the piped stream)."""
    import pty

    leader, follower = pty.openpty()
    redirect = (
        {"stdout": follower, "stderr": subprocess.PIPE}
        if stream == "stdout"
        else {"stdout": subprocess.PIPE, "stderr": follower}
    )
    try:
        done = subprocess.run(argv, env=env, timeout=60, **redirect)
    finally:
        os.close(follower)
    output = b""
    try:
        while chunk := os.read(leader, 4096):
            output += chunk
    except OSError:  # EIO once the terminal is drained and closed
        pass
    finally:
        os.close(leader)
    piped = done.stderr if stream == "stdout" else done.stdout
    return done.returncode, output.replace(b"\r\n", b"\n"), piped


def test_progress_line_on_a_terminal_stderr_only(farm):
    names = [h.name for h in farm.direct]
    env = dict(os.environ, NO_COLOR="1")
    code, err, out = _on_terminal(
        [SSHJOBS, "run", "-t", ",".join(names), "--", "echo line; echo warn >&2"],
        env,
        stream="stderr",
    )
    assert code == 0
    assert sorted(out.decode().splitlines()) == sorted(f"{n}: line" for n in names)
    text = err.decode()
    assert f"[sshjobs] {len(names)}/{len(names)} done, 0 failed, 0 running" in text
    # wiped at the end, replaced by a summary
    assert text.endswith(f"\r\x1b[K[sshjobs] {len(names)} hosts: {len(names)} ok\n")
    for name in names:  # stderr lines start on a wiped line, never glued to the progress text
        assert f"\r\x1b[K{name}: warn\n" in text


@pytest.mark.parametrize("no_color", [False, True])
def test_colors_on_a_terminal_unless_no_color(farm, no_color):
    env = dict(os.environ)
    env.pop("NO_COLOR", None)
    if no_color:
        env["NO_COLOR"] = "1"
    name = farm.direct[0].name
    code, output, _ = _on_terminal([SSHJOBS, "run", "-t", name, "--", "echo tty"], env)
    assert code == 0
    if no_color:
        assert output == f"{name}: tty\n".encode()
    else:
        assert b"\x1b[" in output and output.endswith(b": tty\n") and name.encode() in output


def test_closed_stdout_stops_the_run_quietly(farm):
    names = ",".join(h.name for h in farm.direct)
    process = spawn("run", "-t", names, "--", "seq 1000000000")
    try:
        assert process.stdout.readline().endswith(": 1\n")
        process.stdout.close()  # like `| head -1`
        process.wait(timeout=30)
        stderr = process.stderr.read()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stderr.close()
    assert process.returncode == 141
    assert "unreachable" not in stderr and "interrupted" not in stderr, stderr
