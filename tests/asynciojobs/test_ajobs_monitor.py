"""The live monitor: plain lines off a terminal, the live area on one (through a real pty)."""

from __future__ import annotations

import asyncio
import fcntl
import io
import os
import re
import signal
import struct
import subprocess
import sys
import termios
import textwrap
import time

from ajobs_helpers import boom, sleeper

from asynciojobs import Job, Scheduler
from asynciojobs.fakeclock import fake_clock_run
from asynciojobs.monitor import Monitor

HIDE, SHOW, SYNC = "\x1b[?25l", "\x1b[?25h", "\x1b[?2026h"


def _scenario():
    """a (1 s) -> b (fails at 2 s) -> c (skipped); a nested scheduler; a described job."""
    sched = Scheduler(on_failed_requirement="skip")
    a = Job(sleeper, 1, label="a", scheduler=sched)
    b = Job(boom, 1, "b is broken", label="b", scheduler=sched, required=a)
    Job(sleeper, 1, label="c", scheduler=sched, required=b)
    inner = Scheduler(Job(sleeper, 3, label="inner job"), label="group")
    sched.add(inner)
    Described(label="on a node", scheduler=sched)
    return sched


class Described(Job):
    """A job implementing the monitor protocol, as SshJob does."""

    def __init__(self, **kwds):
        super().__init__(sleeper, 0.5, **kwds)

    def monitor_group(self):
        return "node7"

    def monitor_details(self, tail=5):
        return {"tail": ["last line"][-tail:] if tail else [], "status": "exit 0"}


def test_plain_mode_one_line_per_start_and_end_naming_the_job():
    stream = io.StringIO()
    sched = _scenario()
    ok = fake_clock_run(sched.co_run(monitor=Monitor(stream, live=False)))
    assert ok is True  # b is not critical
    lines = stream.getvalue().splitlines()
    assert "\x1b" not in stream.getvalue()
    words = [line.split()[1:3] for line in lines[:-1]]
    for label in ("a", "b", "inner"):
        assert ["started", label] in words, lines
    assert ["done", "a"] in words and ["done", "inner"] in words
    failed = next(line for line in lines if line.split()[1] == "FAILED")
    assert failed.split()[0] == "2.000s" and failed.endswith("b: ValueError: b is broken")
    skipped = next(line for line in lines if " skipped " in line)
    assert "c: requirement `b` failed" in skipped
    assert any(re.search(r"started +on a node \[node7\]$", line) for line in lines)
    assert any(line.split()[1:3] == ["started", "group"] for line in lines)
    assert lines[-1].startswith("[3.0s] waiting 0 · running 0 · done 3 · failed 1 · skipped 1")


def test_monitor_true_through_orchestrate_writes_plain_lines_on_a_non_terminal(capsys):
    sched = Scheduler(Job(sleeper, 0.01, label="quick one"))
    assert sched.orchestrate(monitor=True) is True
    err = capsys.readouterr().err
    assert re.search(r"s started +quick one\n", err) and re.search(r"s done +quick one\n", err)


def test_monitor_is_a_subscriber_and_closes_with_the_run():
    stream = io.StringIO()
    monitor = Monitor(stream, live=False)
    sched = Scheduler(Job(sleeper, 1, label="x"))
    sched.subscribe(monitor)
    assert fake_clock_run(sched.co_run()) is True
    assert stream.getvalue().splitlines()[-1].startswith("[1.0s]")
    monitor.close()  # twice is fine
    assert fake_clock_run(sched.co_run()) is True  # and it follows a second run
    assert sum(1 for line in stream.getvalue().splitlines() if "started   x" in line) == 2


# ---- terminal mode, through a pty --------------------------------------------------------------
TTY_SCRIPT = textwrap.dedent("""
    import asyncio, sys
    from asynciojobs import Job, Scheduler

    async def talk(n, fail=False, pause=0.04):
        for i in range(4):
            print(f"job{n} line{i}")                   # output the user asked for
            await asyncio.sleep(pause)
        if fail:
            raise RuntimeError(f"broken {n}")

    sched = Scheduler(jobs_window=3)
    for n in range(5):
        Job(talk, n, n == 2, label=f"talker {n}", scheduler=sched)
    sched.add(Scheduler(Job(talk, 9, False, 0.1, label="inner talker"), label="the group"))
    if len(sys.argv) > 1:
        Job(asyncio.sleep, 60, label="very long", scheduler=sched)
    try:
        print("result", sched.run(monitor=True))
    except KeyboardInterrupt:
        print("interrupted")
""")


def _run_in_pty(tmp_path, *args, interrupt_after=None):
    script = tmp_path / "monitored.py"
    script.write_text(TTY_SCRIPT)
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    env.pop("NO_COLOR", None)
    start = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, str(script), *args],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        close_fds=True,
    )
    os.close(slave)
    chunks = []
    try:
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
            if interrupt_after and interrupt_after in b"".join(chunks):
                proc.send_signal(signal.SIGINT)
                interrupt_after = None
    finally:
        os.close(master)
        proc.wait(timeout=30)
    return b"".join(chunks).decode("utf-8", "replace"), time.monotonic() - start


def test_tty_mode_live_area_above_which_output_stays_whole(tmp_path):
    out, elapsed = _run_in_pty(tmp_path)
    assert out.startswith(HIDE) and out.rstrip().endswith("result True")
    assert out.rfind(SHOW) > out.rfind(SYNC), "cursor shown again after the last frame"
    assert out.count("\x1b[?2026h") == out.count("\x1b[?2026l")
    # every line of the jobs' output starts on a cleared line, whole
    for n in (0, 1, 2, 3, 4, 9):
        for i in range(4):
            assert re.search(rf"(\x1b\[J|\r\n)job{n} line{i}\r\n", out), (n, i, out[-2000:])
    plain = re.sub(r"\x1b\[[0-9;]*m", "", out)  # colours off
    # a failure is shown as it happens, with its reason
    assert re.search(r"FAILED +talker 2: RuntimeError: broken 2", plain)
    assert "waiting" in plain and "running" in plain and "▸ the group" in plain
    assert re.search(r"\s+\d+\.\ds  talker \d", plain)  # a running job with its elapsed time
    assert re.search(r"\s+\d+\.\ds  inner talker", plain)  # under its group
    # at most ~10 redraws a second: a redraw is a frame starting with the counts line
    redraws = len(re.findall(r"\x1b\[\?2026h(?:\r(?:\x1b\[\d+A)?\x1b\[J)?\[\d", out))
    assert 1 <= redraws <= 10 * elapsed + 2, (redraws, elapsed)
    assert re.search(r"\[\d+\.\ds\] waiting 0 · running 0 · done 5 · failed 1 · skipped 0", plain)


def test_tty_mode_ctrl_c_leaves_the_terminal_clean(tmp_path):
    out, _ = _run_in_pty(tmp_path, "long", interrupt_after=b"very long")
    assert "interrupted" in out
    last_frame = out.rfind(SYNC)
    assert out.rfind(SHOW) > last_frame
    assert out.count("\x1b[?2026h") == out.count("\x1b[?2026l")
    tail = out[out.rfind(SHOW) - 300 :]
    assert "\x1b[J" in tail  # the live area was erased before the summary


def test_frame_fits_the_terminal_width():
    monitor = Monitor(io.StringIO(), live=True, color=False, rows=3)

    async def main():
        sched = Scheduler(*(Job(sleeper, 1, label="x" * 300) for _ in range(10)))
        seen = []

        async def look():
            await asyncio.sleep(0.5)
            seen.extend(monitor.frame_lines())

        await asyncio.gather(sched.co_run(monitor=monitor), look())
        return seen

    lines = fake_clock_run(main())
    assert 2 <= len(lines) <= 4 and all(len(line) < 80 for line in lines)
    assert lines[-1].strip().startswith("…") and "more running" in lines[-1]


def test_subscriber_event_kinds_narrow_what_it_receives():
    sched = Scheduler(on_failed_requirement="skip")
    a = Job(sleeper, 1, label="a", scheduler=sched)
    b = Job(boom, 1, "b is broken", label="b", scheduler=sched, required=a)
    Job(sleeper, 1, label="c", scheduler=sched, required=b)

    class Failures(list):
        event_kinds = frozenset({"failed", "skipped", "finished"})

        def __call__(self, event):
            self.append((event.kind, event.job.label))

    narrow, everything = Failures(), []
    sched.subscribe(narrow)
    sched.subscribe(lambda event: everything.append(event.kind))
    assert fake_clock_run(sched.co_run()) is True
    assert narrow == [
        ("run-started", None),
        ("failed", "b"),
        ("skipped", "c"),
        ("finished", None),
    ]  # run-started: always (kinds are read after it)
    assert everything.count("started") == 2 and everything.count("done") == 1


def test_tty_mode_on_plain_jobs_reads_the_job_states_not_their_events():
    """No nested scheduler, no described job: the terminal monitor takes only the rare
    events; running jobs and counts come from the jobs' states, at each redraw."""
    stream = io.StringIO()
    monitor = Monitor(stream, live=True, color=False, rows=5)
    sched = Scheduler(on_failed_requirement="skip")
    a = Job(sleeper, 1, label="a", scheduler=sched)
    b = Job(boom, 2, "b is broken", label="b", scheduler=sched, required=a)
    Job(sleeper, 1, label="c", scheduler=sched, required=b)
    Job(sleeper, 5, label="d", scheduler=sched)
    seen = []

    async def probe():
        await asyncio.sleep(1.5)
        seen.append((monitor.event_kinds, monitor.frame_lines()))

    Job(probe, label="probe", scheduler=sched)
    assert fake_clock_run(sched.co_run(monitor=monitor)) is True
    kinds, frame = seen[0]
    assert "started" not in kinds and "done" not in kinds and "failed" in kinds
    assert "running 3" in frame[0] and "done 1" in frame[0] and "waiting 1" in frame[0]
    assert sorted(line.split()[-1] for line in frame[1:]) == ["b", "d", "probe"]
    out = stream.getvalue()
    assert "FAILED" in out and "b is broken" in out
    last = out.rstrip().splitlines()[-2]  # then the cursor comes back
    assert "done 3" in last and "failed 1" in last and "skipped 1" in last
    assert monitor.tally()["running"] == 0 and monitor.event_kinds is None
