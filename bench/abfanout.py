"""A/B fan-out: the sshjobs of two commits on one farm, their runs interleaved.

    python3 bench/abfanout.py BEFORE AFTER                # e.g. main and a branch's commit
    python3 bench/abfanout.py BEFORE AFTER --sizes 50,200 --runs 6 --tools sshjobs

For a before/after comparison on a machine whose load changes: both commits are snapshotted
(`git archive`), then each run measures every (tool, commit, size) in a seeded random order on
the same farm, so that a change of load hits both commits alike. Run 0 is a warm-up, not
recorded. Reports per tool and commit: median wall time and client CPU per size, client CPU
per host and fixed client CPU (least-squares fit over every sample), failed hosts, and
the farm's sshd CPU, and the CPU the rest of the machine used meanwhile (how disturbed
the figures are).
"""

from __future__ import annotations

import argparse
import os
import random
import sys

import harness
from fanout import run_one


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("before")
    parser.add_argument("after")
    parser.add_argument("--sizes", default="50,200")
    parser.add_argument("--runs", type=int, default=6)
    parser.add_argument("--tools", default="sshjobs,sshjobs-cli")
    parser.add_argument("--seed", type=int, default=4)
    args = parser.parse_args()
    harness.ensure_python(args.tools.split(","))
    from farm import BenchFarm
    from tools import TOOLS

    sizes = sorted(int(size) for size in args.sizes.split(","))
    tools = [TOOLS[name] for name in args.tools.split(",")]
    revisions = [args.before, args.after]
    sources = {}
    for revision in revisions:
        os.environ["SSHJOBS_BENCH_SOURCE"] = revision
        sources[revision] = harness.project_source()
    rng = random.Random(args.seed)
    samples: dict[tuple[str, str], list[harness.Sample]] = {
        (tool.name, revision): [] for tool in tools for revision in revisions
    }
    with BenchFarm(max(sizes)) as farm:
        scratch = harness.workdir("abfanout")
        env = harness.client_env(farm.home)
        targets = {size: farm.targets(scratch / f"targets-{size}.json", size) for size in sizes}
        loads = [harness.load()]
        for run in range(args.runs + 1):
            order = [(t, r, s) for t in tools for r in revisions for s in sizes]
            rng.shuffle(order)
            for tool, revision, size in order:
                harness.SOURCE = sources[revision][0]
                sample = run_one(tool, size, run, targets, scratch, env, farm)
                print(
                    f"run {run} {tool.name} {revision} n={size}: wall {sample.wall:.2f}s "
                    f"cpu {sample.cpu:.2f}s ok {sample.ok}/{size}",
                    file=sys.stderr,
                )
                if run:
                    samples[(tool.name, revision)].append(sample)
            loads.append(harness.load())
    print(report(samples, sizes, sources, loads, args))
    return 0


def report(samples, sizes, sources, loads, args) -> str:
    lines = [
        f"A/B fan-out, {args.runs} interleaved runs (+1 warm-up), sizes "
        f"{', '.join(map(str, sizes))}; " + "; ".join(f"{r}: {d}" for r, (_, d) in sources.items()),
        "Load average (1/5/15 min) before and after each run: " + " → ".join(loads),
        "",
        "| tool | commit | "
        + " | ".join(f"wall s n={n} | client CPU s n={n}" for n in sizes)
        + " | CPU per host ms (fit) | fixed CPU s (fit) | failed hosts | sshd CPU s (median) "
        "| other CPU s (median) |",
        "|---|---|" + "---|---|" * len(sizes) + "---|---|---|---|---|",
    ]
    for (tool, revision), found in samples.items():
        cells = []
        for size in sizes:
            at = [s for s in found if s.size == size]
            cells += [
                f"{harness.median(s.wall for s in at):.2f}",
                f"{harness.median(s.cpu for s in at):.2f}",
            ]
        intercept, slope = harness.linear_fit([(s.size, s.cpu) for s in found])
        failed = sum(s.size - s.ok for s in found)
        server = harness.median(s.server_cpu for s in found)
        other = harness.median(s.other_cpu for s in found)
        lines.append(
            f"| {tool} | {revision} | "
            + " | ".join(cells)
            + f" | {slope * 1000:.2f} | {intercept:.3f} | {failed} | {server:.2f} | {other:.2f} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
