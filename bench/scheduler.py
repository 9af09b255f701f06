"""Benchmark: asynciojobs' scheduler against bare asyncio, on no-op jobs.

Shapes: ``independent`` (no requirement), ``chain`` (each job requires the previous one),
``dag`` (random DAG, each job requires up to 3 earlier jobs; seeded, so the same graph in
every run). Forms of our side (how users write graphs):

- ``coro-required``: ``Job(work(i), required=[...], scheduler=s)`` - coroutine objects,
  requirements and scheduler given to the constructor (the form of issue 13);
- ``coro-requires``: ``Job(work(i))`` then ``job.requires(...)``, then ``Scheduler(jobs)``;
- ``func-required``: ``Job(work, i, required=[...], scheduler=s)`` - async function (re-runnable);
- ``func-requires``: ``Job(work, i)`` then ``job.requires(...)``, then ``Scheduler(jobs)``.

Baseline: one bare asyncio task per job, awaiting the ``asyncio.Event`` of each of its
requirements, then ``work(i)``, then setting its own event; all tasks created up front and
gathered. Both sides are timed from building the graph to the end of the run (the
requirement index lists are made before the clock starts), in a fresh subprocess per
measurement; peak memory is measured in another fresh subprocess with tracemalloc (which
slows execution, so it is never mixed with timing).

    .venv/bin/python bench/scheduler.py                      # every size, shape and form
    .venv/bin/python bench/scheduler.py --sizes 50000,200000 --repeat 3 --no-memory
    .venv/bin/python bench/scheduler.py --sizes 1000 --shapes dag --forms coro-required
    .venv/bin/python bench/scheduler.py --profile dag 50000  # cProfile of our side

Prints a table (wall and CPU time = best of ``--repeat``) with the ratios to the baseline,
then the time(200k)/time(50k) ratio for each shape and form when both sizes were measured.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import time
import tracemalloc

SHAPES = ("independent", "chain", "dag")
SIZES = (1_000, 10_000, 50_000, 200_000)
FORMS = ("coro-required", "coro-requires", "func-required", "func-requires")
BASELINE = "baseline"


def edges(shape: str, size: int) -> list[list[int]]:
    """requirements[i] = indices of the jobs job i requires."""
    if shape == "independent":
        return [[] for _ in range(size)]
    if shape == "chain":
        return [[]] + [[i - 1] for i in range(1, size)]
    rng = random.Random(20261123)
    return [rng.sample(range(i), min(i, 3)) for i in range(size)]


async def work(i: int) -> int:
    return i


def run_asynciojobs(requirements: list[list[int]], form: str = "coro-required") -> None:
    from asynciojobs import Job, Scheduler

    jobs: list = []
    if form.endswith("-required"):
        scheduler = Scheduler()
        add = jobs.append
        if form == "coro-required":
            for i, reqs in enumerate(requirements):
                add(Job(work(i), required=[jobs[k] for k in reqs], scheduler=scheduler))
        else:
            for i, reqs in enumerate(requirements):
                add(Job(work, i, required=[jobs[k] for k in reqs], scheduler=scheduler))
    else:
        if form == "coro-requires":
            jobs = [Job(work(i)) for i in range(len(requirements))]
        else:
            jobs = [Job(work, i) for i in range(len(requirements))]
        for job, reqs in zip(jobs, requirements, strict=True):
            if reqs:
                job.requires([jobs[k] for k in reqs])
        scheduler = Scheduler(jobs)
    assert scheduler.run()


def run_baseline(requirements: list[list[int]]) -> None:
    async def one(i: int, own: asyncio.Event, reqs: list[asyncio.Event]) -> None:
        for event in reqs:
            await event.wait()
        await work(i)
        own.set()

    async def main() -> None:
        events = [asyncio.Event() for _ in requirements]
        tasks = [
            asyncio.create_task(one(i, events[i], [events[k] for k in reqs]))
            for i, reqs in enumerate(requirements)
        ]
        await asyncio.gather(*tasks)

    asyncio.run(main())


def measure_one(impl: str, shape: str, size: int, what: str) -> dict:
    """In this (fresh) process: time or peak memory of one run; ``impl`` is "baseline" or
    one of FORMS."""
    requirements = edges(shape, size)
    if impl == BASELINE:

        def runner(reqs: list[list[int]]) -> None:
            run_baseline(reqs)
    else:
        import asynciojobs  # noqa: F401 - import cost is not part of the measure

        def runner(reqs: list[list[int]]) -> None:
            run_asynciojobs(reqs, impl)

    if what == "time":
        start, cpu = time.perf_counter(), time.process_time()
        runner(requirements)
        return {"seconds": time.perf_counter() - start, "cpu": time.process_time() - cpu}
    tracemalloc.start()
    tracemalloc.reset_peak()
    before = tracemalloc.get_traced_memory()[0]
    runner(requirements)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {"peak_bytes": peak - before}


def subprocess_measure(impl: str, shape: str, size: int, what: str) -> dict:
    here = os.path.dirname(os.path.abspath(__file__))
    env = dict(os.environ, PYTHONPATH=os.path.dirname(here))
    out = subprocess.run(
        [sys.executable, __file__, "--one", impl, shape, str(size), what],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)))
    parser.add_argument("--shapes", default=",".join(SHAPES))
    parser.add_argument("--forms", default=",".join(FORMS))
    parser.add_argument("--repeat", type=int, default=1, help="time runs per case (best kept)")
    parser.add_argument("--no-memory", action="store_true", help="skip the tracemalloc runs")
    parser.add_argument(
        "--one", nargs=4, metavar=("IMPL", "SHAPE", "SIZE", "WHAT"), help=argparse.SUPPRESS
    )
    parser.add_argument("--profile", nargs=2, metavar=("SHAPE", "SIZE"))
    args = parser.parse_args()
    forms = args.forms.split(",")
    if args.one:
        impl, shape, size, what = args.one
        print(json.dumps(measure_one(impl, shape, int(size), what)))
        return
    if args.profile:
        # bench/profile.py (the SSH benchmarks' profiler) would shadow the standard library's
        # profile module, which cProfile imports
        here = os.path.dirname(os.path.abspath(__file__))
        sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]
        sys.modules.pop("profile", None)
        import cProfile
        import pstats

        requirements = edges(args.profile[0], int(args.profile[1]))
        cProfile.runctx(
            "run_asynciojobs(requirements, forms[0])", globals(), locals(), "/tmp/ajprof"
        )
        pstats.Stats("/tmp/ajprof").sort_stats("tottime").print_stats(25)
        return
    sizes = [int(s) for s in args.sizes.split(",")]
    shapes = args.shapes.split(",")
    print(
        f"# python {sys.version.split()[0]}, {os.cpu_count()} cpu(s), "
        f"load average at start {os.getloadavg()[0]:.2f}"
    )
    print(
        f"{'shape':12s} {'form':14s} {'jobs':>7s} {'ours s':>7s} {'base s':>7s} {'ratio':>6s} "
        f"{'ours cpu':>8s} {'base cpu':>8s} {'ratio':>6s} "
        f"{'ours MB':>8s} {'base MB':>8s} {'ratio':>6s}"
    )
    cpus: dict[tuple[str, int, str], float] = {}
    for shape in shapes:
        for size in sizes:
            impls = [BASELINE, *forms]
            wall = {impl: float("inf") for impl in impls}
            cpu = dict(wall)
            for _ in range(args.repeat):  # interleaved runs, best of --repeat
                for impl in impls:
                    got = subprocess_measure(impl, shape, size, "time")
                    wall[impl] = min(wall[impl], got["seconds"])
                    cpu[impl] = min(cpu[impl], got["cpu"])
            mem = {
                impl: float("nan")
                if args.no_memory
                else subprocess_measure(impl, shape, size, "memory")["peak_bytes"]
                for impl in impls
            }
            for impl in impls:
                cpus[(shape, size, impl)] = cpu[impl]
            base = BASELINE
            for form in forms:
                print(
                    f"{shape:12s} {form:14s} {size:7d} {wall[form]:7.3f} {wall[base]:7.3f} "
                    f"{wall[form] / wall[base]:6.2f} {cpu[form]:8.3f} {cpu[base]:8.3f} "
                    f"{cpu[form] / cpu[base]:6.2f} {mem[form] / 1e6:8.1f} "
                    f"{mem[base] / 1e6:8.1f} {mem[form] / mem[base]:6.2f}",
                    flush=True,
                )
    for shape in shapes:
        for impl in [BASELINE, *forms]:
            if (shape, 50_000, impl) in cpus and (shape, 200_000, impl) in cpus:
                print(
                    f"# {shape} {impl}: cpu(200k)/cpu(50k) = "
                    f"{cpus[(shape, 200_000, impl)] / cpus[(shape, 50_000, impl)]:.2f}"
                )
    print(f"# load average at end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
