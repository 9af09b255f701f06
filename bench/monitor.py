"""Benchmark: what the live monitor costs on a run of many no-op jobs.

The same scheduler (N no-op jobs, no requirement, no window) run without a monitor, with a
subscriber doing nothing (the cost of the event stream itself), with the monitor in
plain-line mode (one line per start and end, written to a file), and with the
monitor in terminal mode drawing into a pseudo-terminal (a pty whose other end is drained by
another process, as a terminal would). Each of ``--repeat`` fresh processes runs
``--rounds`` rounds of the four modes, interleaved (after a warm-up round), and keeps the
best of each mode; the median over the processes is printed (the machine is shared: medians
of bests are what is stable).

    .venv/bin/python bench/monitor.py                 # 10,000 jobs
    .venv/bin/python bench/monitor.py --jobs 50000 --repeat 3
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import time

MODES = ("none", "subscriber", "plain", "tty")


async def noop() -> None:
    return None


_TTY: list = []


def _terminal() -> object:
    """The slave side of a pseudo-terminal whose master side another process drains, as a
    terminal would (one per process)."""
    if not _TTY:
        import pty

        master, slave = pty.openpty()
        subprocess.Popen(["cat"], stdin=master, stdout=subprocess.DEVNULL)
        os.close(master)
        _TTY.append(os.fdopen(slave, "w"))
    return _TTY[0]


def _ignore_event(event: object) -> None:
    """The cheapest subscriber: measures the event stream itself."""


def measure(mode: str, jobs: int) -> tuple[float, float]:
    """In this (fresh) process: wall and CPU seconds of one run in ``mode`` ."""
    from asynciojobs import Job, Scheduler
    from asynciojobs.monitor import Monitor

    scheduler = Scheduler(*(Job(noop) for _ in range(jobs)))
    monitor: object = False
    if mode == "subscriber":  # the cost of the event stream itself: a subscriber doing nothing
        monitor = _ignore_event
    elif mode == "plain":
        monitor = Monitor(open(os.devnull, "w"), live=False)  # noqa: SIM115
    elif mode == "tty":
        monitor = Monitor(_terminal(), live=True)
    gc.collect()
    start, cpu = time.perf_counter(), time.process_time()
    assert scheduler.run(monitor=monitor)
    return time.perf_counter() - start, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5, help="fresh processes")
    parser.add_argument("--rounds", type=int, default=5, help="rounds in each process")
    parser.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inner:  # rounds of the four modes, interleaved; the best of each
        best: dict[str, list[float]] = {}
        for round_ in range(args.rounds + 1):
            for mode in MODES:
                wall, cpu = measure(mode, args.jobs)
                if round_:  # the first round warms up
                    old = best.get(mode, [wall, cpu])
                    best[mode] = [min(old[0], wall), min(old[1], cpu)]
        print(json.dumps(best))
        return
    walls: dict[str, list[float]] = {mode: [] for mode in MODES}
    cpus: dict[str, list[float]] = {mode: [] for mode in MODES}
    for _ in range(args.repeat):
        out = subprocess.run(
            [
                sys.executable,
                __file__,
                "--inner",
                "--jobs",
                str(args.jobs),
                "--rounds",
                str(args.rounds),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        for mode, (wall, cpu) in json.loads(out.stdout.strip().splitlines()[-1]).items():
            walls[mode].append(wall)
            cpus[mode].append(cpu)
    print(
        f"{args.jobs} no-op jobs; {args.repeat} processes x {args.rounds} interleaved rounds; "
        "median over processes of each one's best:"
    )
    base_wall, base_cpu = statistics.median(walls["none"]), statistics.median(cpus["none"])
    for mode in MODES:
        wall, cpu = statistics.median(walls[mode]), statistics.median(cpus[mode])
        print(
            f"  {mode:10s} wall {wall * 1000:7.1f} ms ({(wall / base_wall - 1) * 100:+5.1f} %)"
            f"   cpu {cpu * 1000:7.1f} ms ({(cpu / base_cpu - 1) * 100:+5.1f} %)"
        )


if __name__ == "__main__":
    main()
