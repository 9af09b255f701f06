#!/usr/bin/env python3
"""Round-trip benchmark: hosts behind 100 ms of round-trip time, one `hostname` each.

    python3 bench/roundtrips.py                  # 100 hosts, 3 interleaved runs (≈ 5 min)
    python3 bench/roundtrips.py --hosts 3 --runs 1

1. Round trips of a fresh connection + one command, per tool: each tool runs `hostname` on one
   delayed host under tcpdump (on the farm bridge, i.e. as the client sees it); a round trip is
   an idle wait for the server (flights of packets separated by ≥ RTT/2, see sshwire.py),
   counted from the SYN to the last server data before the client closes.
2. Wall time of every tool on all the delayed hosts at once (whole process, and for the Python
   clients the fan-out alone, measured in-process after imports).
Target: sshjobs fan-out time ≤ 1.15 × (its round trips × RTT), and below every peer.

Latency: the farm's delay helper delays what a host sends by 100 ms, so each round trip takes
100 ms as with 50 ms each way. It uses tc netem where the kernel has it; this machine's kernel
has no netem, so the farm puts a relay in front of each sshd that hands every chunk sshd sends
to the client 100 ms later: TCP handshakes are then not delayed (one round trip fewer than on a
real network, for every tool alike), and the tables say which was used.
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness
from harness import markdown_table, median, progress

RTT_MS = 100
TARGET = 1.15


def main() -> int:
    from tools import TOOLS

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--hosts", type=int, default=100)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--tools", default=",".join(TOOLS))
    parser.add_argument("--seed", type=int, default=2)
    args = parser.parse_args()
    harness.ensure_python(args.tools.split(","))
    import sshwire
    from farm import BenchFarm
    from kex import Capture

    tools = [TOOLS[name] for name in args.tools.split(",")]
    rng = random.Random(args.seed)
    command = "hostname"

    with BenchFarm(args.hosts) as farm:
        scratch = harness.workdir("roundtrips")
        env = harness.client_env(farm.home)
        source = harness.project_source()[1]
        farm.delay(args.hosts, RTT_MS)
        progress(f"farm of {args.hosts} hosts up, {RTT_MS} ms added; load {harness.load()}")
        one = farm.targets(scratch / "targets-1.json", 1)
        all_hosts = farm.targets(scratch / f"targets-{args.hosts}.json", args.hosts)
        interface, bpf = farm.capture_point(1)

        counts: dict[str, dict] = {}
        for tool in tools:
            pcap = scratch / f"rt-{tool.name}.pcap"
            result = scratch / "result.json"
            with Capture(interface, bpf, pcap) as capture:
                sample = harness.measure(
                    tool.name,
                    1,
                    0,
                    tool.build(one, command, 1, scratch, result),
                    env=tool.env(env),
                    result_file=result if tool.reports else None,
                    log=scratch / f"rt-{tool.name}.log",
                )
            conns = capture.connections()
            info: dict = {"connections": len(conns), "t_run": sample.t_run, "wall": sample.wall}
            if conns:
                conn = conns[0]
                # flights are told apart with the nominal RTT: where the farm emulates latency
                # with its relay (no tc netem in the kernel) the TCP handshake is not delayed
                rtt = RTT_MS / 1000
                trips, seconds = sshwire.round_trips(conn, rtt)
                info["tcp_handshake_ms"] = (sshwire.handshake_rtt(conn) or 0) * 1000
                info.update(
                    rtt=rtt,
                    round_trips=trips,
                    connection_seconds=seconds,
                    flights=describe_flights(conn, rtt),
                )
            counts[tool.name] = info
            progress(
                f"{tool.name}: {info.get('round_trips')} round trips "
                f"(rtt {info.get('rtt', 0) * 1000:.0f} ms, {len(conns)} connection(s))"
            )

        samples = []
        for tool in tools:  # warm-up
            run_tool(tool, args.hosts, 0, all_hosts, command, scratch, env, farm)
        for run in range(1, args.runs + 1):
            order = tools[:]
            rng.shuffle(order)
            for tool in order:
                sample = run_tool(tool, args.hosts, run, all_hosts, command, scratch, env, farm)
                samples.append(sample)
                progress(
                    f"run {run} {tool.name}: wall {sample.wall:.2f}s fan-out "
                    f"{sample.t_run:.2f}s ok {sample.ok}/{args.hosts}"
                    + (f" ERR {sample.errors[:1]}" if sample.errors else "")
                )
        load = harness.load()
        farm.clear(args.hosts)
        description = (
            f"{farm.describe()}; latency: {farm.latency_method()}; sshjobs code measured: {source}"
        )
    text = report(counts, samples, [t.name for t in tools], args, description, load)
    print(text)
    raw = harness.save_raw("roundtrips", {"counts": counts, "samples": samples, "args": vars(args)})
    raw.with_suffix(".md").write_text(text)
    progress(f"raw data in {raw}")
    return 0


def run_tool(tool, size, run, targets, command, scratch, env, farm):
    from tools import account

    result = scratch / "result.json"
    sample = harness.measure(
        tool.name,
        size,
        run,
        tool.build(targets, command, 1, scratch, result),
        env=tool.env(env),
        result_file=result if tool.reports else None,
        log=scratch / f"{tool.name}.log",
    )
    account(tool, sample, size, scratch, scratch / f"{tool.name}.log")
    farm.settle()
    return sample


def describe_flights(conn, rtt: float) -> list[str]:
    """One line per flight: who sent how many bytes (for spotting avoidable waits)."""
    lines, current, previous, start = [], None, None, None
    for seg in conn.segments:
        if not seg.payload and not seg.flags & 0x07:
            continue
        if start is None:
            start = seg.time
        if previous is None or seg.time - previous >= rtt / 2:
            current = {"t": seg.time - start, "c": 0, "s": 0, "flags": set()}
            lines.append(current)
        side = "c" if seg.src == conn.client else "s"
        current[side] += len(seg.payload)
        if seg.flags & 0x02:
            current["flags"].add("SYN" + ("-ACK" if seg.flags & 0x10 else ""))
        if seg.flags & 0x01:
            current["flags"].add(f"FIN({side})")
        previous = seg.time
    return [
        f"{f['t'] * 1000:6.0f} ms  client {f['c']:5d} B  server {f['s']:5d} B  "
        f"{' '.join(sorted(f['flags']))}"
        for f in lines
    ]


def report(counts, samples, names, args, description, load) -> str:
    out = [
        f"### Round trips: `hostname` on {args.hosts} hosts with {RTT_MS} ms round-trip time",
        "",
        f"Farm: {description}. Load average after the runs: {load}.",
        "",
    ]
    rows = []
    by_tool = {name: [s for s in samples if s.tool == name] for name in names}
    best_peer_wall = min(
        (
            median(s.wall for s in group)
            for name, group in by_tool.items()
            if group and not name.startswith("sshjobs")
        ),
        default=float("nan"),
    )
    for name in names:
        info, group = counts.get(name, {}), by_tool.get(name, [])
        trips = info.get("round_trips")
        bound = trips * RTT_MS / 1000 if trips else None
        one = info.get("t_run") or None
        wall = median(s.wall for s in group) if group else float("nan")
        fan = median(s.t_run for s in group) if group and any(s.t_run for s in group) else None
        rows.append(
            [
                name,
                trips if trips is not None else "?",
                f"{info.get('tcp_handshake_ms', 0):.0f}",
                f"{one:.2f} ({one / bound:.2f}×)" if one and bound else "–",
                f"{wall:.2f}",
                f"{fan:.2f} ({fan / bound:.2f}×)" if fan and bound else "–",
                sum(s.failed for s in group),
            ]
        )
    out += [
        markdown_table(
            [
                "tool",
                "round trips (1 connection + 1 command)",
                "TCP handshake ms",
                "1 host: fan-out s (÷ round trips × RTT)",
                f"{args.hosts} hosts: wall s (process, median)",
                f"{args.hosts} hosts: fan-out s (in-process, median; ÷ round trips × RTT)",
                "failed hosts",
            ],
            rows,
        ),
        "",
    ]
    for name in names:
        info = counts.get(name, {})
        if info.get("flights"):
            out += [
                f"<details><summary>{name}: flights of one connection</summary>",
                "",
                "```",
                *info["flights"],
                "```",
                "</details>",
                "",
            ]
    ours = by_tool.get("sshjobs", [])
    info = counts.get("sshjobs", {})
    if ours and info.get("round_trips"):
        bound = info["round_trips"] * RTT_MS / 1000
        fan = median(s.t_run for s in ours)
        one = info.get("t_run") or float("nan")
        wall = median(s.wall for s in ours)
        out += [
            "**Targets**",
            "",
            f"- sshjobs, 1 host: fan-out {one:.2f} s vs {info['round_trips']} round trips "
            f"× {RTT_MS} ms = {bound:.2f} s → {one / bound:.2f}× (target ≤ {TARGET}: "
            f"{'met' if one <= TARGET * bound else 'NOT met'})",
            f"- sshjobs, {args.hosts} hosts: fan-out {fan:.2f} s → {fan / bound:.2f}× "
            f"(target ≤ {TARGET}: {'met' if fan <= TARGET * bound else 'NOT met'})",
            f"- sshjobs process wall {wall:.2f} s vs fastest peer {best_peer_wall:.2f} s → "
            f"{'below every peer' if wall < best_peer_wall else 'NOT below every peer'}",
            "",
        ]
    return "\n".join(out)


if __name__ == "__main__":
    sys.exit(main())
