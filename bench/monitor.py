"""Benchmark: what the live monitor costs on a run of many no-op jobs.

The same scheduler (N no-op jobs, no requirement, no window) run without a monitor, with the
monitor in plain-line mode (one line per start and end, written to a file), and with the
monitor in terminal mode drawing into a pseudo-terminal (a pty whose other end is drained by
a thread, as a terminal would). Each measurement runs in a fresh subprocess; the best of
``--repeat`` runs is kept, runs of the three modes interleaved.

    .venv/bin/python bench/monitor.py                 # 10,000 jobs, 7 runs of each mode
    .venv/bin/python bench/monitor.py --jobs 50000 --repeat 3
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import time

MODES = ("none", "subscriber", "plain", "tty")


async def noop() -> None:
    return None


def measure(mode: str, jobs: int) -> tuple[float, float]:
    """In this (fresh) process: wall and CPU seconds of one run in ``mode`` ."""
    import pty

    from asynciojobs import Job, Scheduler
    from asynciojobs.monitor import Monitor

    scheduler = Scheduler(*(Job(noop) for _ in range(jobs)))
    monitor: object = False
    if mode == "subscriber":   # the cost of the event stream itself: a subscriber doing nothing
        monitor = lambda event: None  # noqa: E731
    elif mode == "plain":
        monitor = Monitor(open(os.devnull, "w"), live=False)  # noqa: SIM115
    elif mode == "tty":   # a pseudo-terminal drained by another process, as a terminal would
        master, slave = pty.openpty()
        subprocess.Popen(["cat"], stdin=master, stdout=subprocess.DEVNULL)
        os.close(master)
        monitor = Monitor(os.fdopen(slave, "w"), live=True)
    gc.collect()
    start, cpu = time.perf_counter(), time.process_time()
    assert scheduler.run(monitor=monitor)
    return time.perf_counter() - start, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--one", choices=MODES, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:  # three runs in this process (the first one warms up), the best
        runs = [measure(args.one, args.jobs) for _ in range(3)]
        print(json.dumps([min(r[0] for r in runs), min(r[1] for r in runs)]))
        return
    best: dict[str, float] = {}
    best_cpu: dict[str, float] = {}
    for _ in range(args.repeat):
        for mode in MODES:
            out = subprocess.run([sys.executable, __file__, "--one", mode, "--jobs",
                                  str(args.jobs)], capture_output=True, text=True, check=True)
            seconds, cpu = json.loads(out.stdout.strip().splitlines()[-1])
            best[mode] = min(best.get(mode, seconds), seconds)
            best_cpu[mode] = min(best_cpu.get(mode, cpu), cpu)
    print(f"{args.jobs} no-op jobs, best of {args.repeat} (x 3 runs in each process):")
    for mode in MODES:
        extra = (best[mode] / best["none"] - 1) * 100
        extra_cpu = (best_cpu[mode] / best_cpu["none"] - 1) * 100
        print(f"  {mode:10s} wall {best[mode] * 1000:7.1f} ms ({extra:+5.1f} %)   "
              f"cpu {best_cpu[mode] * 1000:7.1f} ms ({extra_cpu:+5.1f} %)")


if __name__ == "__main__":
    main()
