#!/usr/bin/env python3
"""Scenario benchmark: 50 nodes behind one gateway, 10 commands in sequence on each node.

    python3 bench/scenario.py                      # 50 nodes, 10 commands, 3 interleaved runs
    python3 bench/scenario.py --nodes 3 --commands 2 --runs 1

Tools: sshjobs (one connection per node, all tunnelled through one shared gateway connection,
the 10 commands of a node as one SshJob), apssh 0.27 (same script), a raw asyncssh script
(same sharing, for reference), and OpenSSH with one connection per command (`ssh -J`-style
ProxyJump from an ssh_config, so each command also logs into the gateway; nodes in parallel,
commands of a node in sequence), with curve25519 key exchange (`--tools ...,openssh` adds its
default post-quantum key exchange: ≈ 3 min a run on 2 cores).
Targets: sshjobs ≥ 3× faster than one connection per command, and faster than apssh.

The gateway's sshd gets `MaxStartups 1000`: with OpenSSH's default (10:30:100) the 50
simultaneous ProxyJump logins of the one-connection-per-command variant are partly refused,
which would make its timings meaningless (sshjobs and apssh log into the gateway once).
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness
from harness import markdown_table, median, progress

# OpenSSH with its default post-quantum key exchange is left out by default: 1,000 handshakes
# (each command also logs into the gateway) take minutes on 2 cores; add it with --tools
DEFAULT_TOOLS = "sshjobs,apssh,asyncssh,openssh-c25519"


def main() -> int:
    from tools import TOOLS, account

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--nodes", type=int, default=50)
    parser.add_argument("--commands", type=int, default=10)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--command", default="hostname")
    parser.add_argument("--tools", default=DEFAULT_TOOLS)
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args()
    harness.ensure_python(args.tools.split(","))
    from farm import BenchFarm

    tools = [TOOLS[name] for name in args.tools.split(",")]
    rng = random.Random(args.seed)

    samples = []
    with BenchFarm(1, private=args.nodes, max_startups="1000") as farm:
        scratch = harness.workdir("scenario")
        env = harness.client_env(farm.home)
        source = harness.project_source()[1]
        targets = farm.targets(scratch / "targets.json", args.nodes, private=True)
        loads = [harness.load()]
        progress(f"farm up: {farm.describe()}; load {loads[0]}")
        for run in range(args.runs + 1):  # run 0: warm-up, not recorded
            order = tools[:]
            rng.shuffle(order)
            for tool in order:
                result = scratch / "result.json"
                argv = tool.build(targets, args.command, args.commands, scratch, result)
                sample = harness.measure(
                    tool.name,
                    args.nodes,
                    run,
                    argv,
                    env=tool.env(env),
                    result_file=result if tool.reports else None,
                    log=scratch / f"{tool.name}.log",
                    timeout=900,
                )
                account(tool, sample, args.nodes, scratch, scratch / f"{tool.name}.log")
                farm.settle()
                progress(
                    f"run {run} {tool.name}: wall {sample.wall:.2f}s cpu {sample.cpu:.2f}s "
                    f"ok {sample.ok}/{args.nodes}"
                    + (f" ERR {sample.errors[:1]}" if sample.errors else "")
                )
                if run:
                    samples.append(sample)
            loads.append(harness.load())
        gateway_logins = farm.farm.accepted_connections(farm.farm.gateway)
        description = f"{farm.describe()}; sshjobs code measured: {source}"
    text = report(samples, [t.name for t in tools], args, description, loads, gateway_logins)
    print(text)
    raw = harness.save_raw("scenario", {"samples": samples, "args": vars(args), "loads": loads})
    raw.with_suffix(".md").write_text(text)
    progress(f"raw data in {raw}")
    return 0


def report(samples, names, args, description, loads, gateway_logins) -> str:
    by_tool = {name: [s for s in samples if s.tool == name] for name in names}
    walls = {name: median(s.wall for s in group) for name, group in by_tool.items() if group}
    out = [
        f"### Scenario: {args.nodes} nodes behind one gateway, {args.commands} × "
        f"`{args.command}` in sequence per node, {args.runs} interleaved runs",
        "",
        f"Farm: {description}. Load average before/after each run: "
        + " → ".join(loads)
        + f". Gateway logins accepted over the whole benchmark: {gateway_logins}.",
        "",
    ]
    rows = []
    ours = walls.get("sshjobs")
    for name in names:
        group = by_tool.get(name)
        if not group:
            continue
        rows.append(
            [
                name,
                f"{walls[name]:.2f}",
                f"{median(s.cpu for s in group):.2f}",
                f"{median(s.maxrss_mb for s in group):.0f}",
                f"{walls[name] / ours:.2f}" if ours else "–",
                sum(s.failed for s in group),
            ]
        )
    out += [
        markdown_table(
            [
                "tool",
                "wall s (median)",
                "client CPU s",
                "peak RSS MB",
                "wall / sshjobs wall",
                "failed nodes (all runs)",
            ],
            rows,
        ),
        "",
    ]
    if ours:
        checks = []
        for name, factor in (("openssh", 3.0), ("openssh-c25519", 3.0), ("apssh", 1.0)):
            if name in walls:
                ratio = walls[name] / ours
                checks.append(
                    f"- sshjobs is {ratio:.2f}× faster than {name} (target ≥ {factor}:"
                    f" {'met' if ratio >= factor else 'NOT met'})"
                )
        out += ["**Targets**", "", *checks, ""]
    return "\n".join(out)


if __name__ == "__main__":
    sys.exit(main())
