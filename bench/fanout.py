#!/usr/bin/env python3
"""Fan-out benchmark: remote `true` on 50, 100, 200 hosts of the farm, every tool side by side.

    python3 bench/fanout.py                       # the full benchmark (≈ 15 min on 2 cores)
    python3 bench/fanout.py --sizes 3,5 --runs 1  # a quick check

Runs are interleaved (run 1 of every tool and size, then run 2, ...; tool order shuffled per
size) so that a change of machine load hits every tool alike. Reported per tool and size: median
wall time of the whole client process, median client CPU (user + sys of its process tree),
median peak RSS; sshjobs' wall relative to the fastest peer *of the same run*; client CPU per
host from a least-squares fit of CPU over the sizes; the key exchange each tool negotiated (read
from a packet capture of a one-host run). Raw samples go to bench/out/.
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness
from harness import Sample, group, linear_fit, markdown_table, median, progress

OURS = ("sshjobs", "sshjobs-cli")
CPU_TARGET_MS = 3.0
WALL_TARGET = 0.95


def main() -> int:
    from tools import TOOLS

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="50,100,200")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--tools", default=",".join(TOOLS), help="comma-separated subset")
    parser.add_argument("--command", default="true")
    parser.add_argument("--no-kex", action="store_true", help="skip the key-exchange capture")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--bare-home",
        action="store_true",
        help="clients run with a HOME without ~/.ssh/config (known_hosts only)",
    )
    args = parser.parse_args()
    harness.ensure_python(args.tools.split(","))
    from farm import BenchFarm
    from kex import capture_negotiation

    sizes = sorted(int(size) for size in args.sizes.split(","))
    tools = [TOOLS[name] for name in args.tools.split(",")]
    rng = random.Random(args.seed)

    samples: list[Sample] = []
    with BenchFarm(max(sizes)) as farm:
        scratch = harness.workdir("fanout")
        env = harness.client_env(farm.bare_home(scratch) if args.bare_home else farm.home)
        source = harness.project_source()[1]
        targets = {size: farm.targets(scratch / f"targets-{size}.json", size) for size in sizes}
        loads = [harness.load()]
        progress(f"farm of {max(sizes)} hosts up ({farm.describe()}); load {loads[0]}")
        negotiated = (
            {}
            if args.no_kex
            else capture_negotiation(
                farm, tools, scratch, env, farm.targets(scratch / "targets-1.json", 1)
            )
        )
        # warm-up, not recorded: byte-code caches, page cache, sshd's first forks
        for tool in tools:
            run_one(tool, min(sizes), 0, targets, scratch, env, farm)
        for run in range(1, args.runs + 1):
            for size in sizes:
                order = tools[:]
                rng.shuffle(order)
                for tool in order:
                    sample = run_one(tool, size, run, targets, scratch, env, farm)
                    samples.append(sample)
                    progress(
                        f"run {run} n={size} {tool.name}: wall {sample.wall:.2f}s "
                        f"cpu {sample.cpu:.2f}s ok {sample.ok}/{size}"
                        + (f" ERR {sample.errors[:1]}" if sample.failed or sample.errors else "")
                    )
            loads.append(harness.load())
        farm_info = (
            f"{farm.describe()}; sshjobs code measured: {source}; "
            f"client HOME: {'without' if args.bare_home else 'with'} the farm's "
            f"~/.ssh/config ({len(farm.farm.hosts)} Host blocks)"
        )
    text = report(samples, sizes, [t.name for t in tools], negotiated, loads, farm_info, args)
    print(text)
    raw = harness.save_raw(
        "fanout", {"samples": samples, "negotiated": negotiated, "loads": loads, "args": vars(args)}
    )
    (raw.with_suffix(".md")).write_text(text)
    progress(f"raw samples in {raw}")
    return 0


def run_one(tool, size, run, targets, scratch, env, farm) -> Sample:
    from tools import account

    result = scratch / "result.json"
    argv = tool.build(targets[size], "true", 1, scratch, result)
    server_before, machine_before = farm.server_cpu(), harness.machine_busy()
    sample = harness.measure(
        tool.name,
        size,
        run,
        argv,
        env=tool.env(env),
        result_file=result if tool.reports else None,
        log=scratch / f"{tool.name}.log",
    )
    account(tool, sample, size, scratch, scratch / f"{tool.name}.log")
    farm.settle()
    sample.server_cpu = farm.server_cpu() - server_before
    sample.machine_cpu = harness.machine_busy() - machine_before
    return sample


def report(samples, sizes, names, negotiated, loads, farm_info, args) -> str:
    groups = group(samples)
    runs = sorted({s.run for s in samples})
    out = [
        f"### Fan-out: remote `{args.command}`, {len(runs)} interleaved runs, sizes "
        f"{', '.join(map(str, sizes))}",
        "",
        "CPU columns: the client's process tree, the farm's sshds, and the rest of the "
        "machine during the run (other people's work: how disturbed the figure is).",
        "",
        f"Farm: {farm_info}. Load average (1/5/15 min) before and after each run: "
        + " → ".join(loads),
        "",
    ]
    peers = [n for n in names if n not in OURS]
    for size in sizes:
        fastest: dict[int, float] = {}
        for run in runs:
            walls = [
                s.wall
                for s in samples
                if s.size == size and s.run == run and s.tool in peers and s.failed == 0
            ]
            if walls:
                fastest[run] = min(walls)
        rows = []
        for name in names:
            group_samples = groups.get((name, size), [])
            if not group_samples:
                continue
            ratios = [s.wall / fastest[s.run] for s in group_samples if s.run in fastest]
            failed = sum(s.failed for s in group_samples)
            rows.append(
                [
                    name,
                    f"{median(s.wall for s in group_samples):.2f}",
                    f"{median(s.t_run for s in group_samples):.2f}"
                    if any(s.t_run for s in group_samples)
                    else "–",
                    f"{median(s.cpu for s in group_samples):.2f}",
                    f"{median(s.server_cpu for s in group_samples):.2f}",
                    f"{median(s.other_cpu for s in group_samples):.2f}",
                    f"{median(s.maxrss_mb for s in group_samples):.0f}",
                    f"{median(ratios):.2f}" if ratios else "–",
                    f"{failed}" if failed else "0",
                ]
            )
        out += [
            f"**{size} hosts** (medians)",
            "",
            markdown_table(
                [
                    "tool",
                    "wall s",
                    "fan-out s (in-process)",
                    "client CPU s",
                    "sshd CPU s",
                    "other CPU s",
                    "peak RSS MB",
                    "wall / fastest peer (same run)",
                    "failed hosts (all runs)",
                ],
                rows,
            ),
            "",
        ]
    rows = []
    for name in names:
        points = [(s.size, s.cpu) for s in samples if s.tool == name]
        intercept, slope = linear_fit(points)
        rows.append([name, f"{slope * 1000:.2f}", f"{intercept:.2f}", negotiated.get(name, "–")])
    out += [
        "**Client CPU per host** (least-squares fit of CPU = a + b·hosts over every sample) "
        "and negotiated algorithms (kex; host key; cipher)",
        "",
        markdown_table(["tool", "CPU ms/host (b)", "fixed CPU s (a)", "negotiated"], rows),
        "",
    ]
    verdict = []
    for name in OURS:
        for size in sizes:
            group_samples = groups.get((name, size), [])
            fastest = {}
            for run in runs:
                walls = [
                    s.wall
                    for s in samples
                    if s.size == size and s.run == run and s.tool in peers and s.failed == 0
                ]
                if walls:
                    fastest[run] = min(walls)
            ratios = [s.wall / fastest[s.run] for s in group_samples if s.run in fastest]
            if ratios:
                ok = median(ratios) <= WALL_TARGET
                verdict.append(
                    f"- {name}, {size} hosts: wall {median(ratios):.2f}× the fastest "
                    f"peer → target ≤ {WALL_TARGET} {'met' if ok else 'NOT met'}"
                )
        points = [(s.size, s.cpu) for s in samples if s.tool == name]
        if points:
            _, slope = linear_fit(points)
            ok = slope * 1000 <= CPU_TARGET_MS
            verdict.append(
                f"- {name}: {slope * 1000:.2f} ms CPU/host → target ≤ {CPU_TARGET_MS} "
                f"{'met' if ok else 'NOT met'}"
            )
    out += ["**Targets**", "", *verdict, ""]
    return "\n".join(out)


if __name__ == "__main__":
    sys.exit(main())
