"""The demo: an R2lab-style experiment on a fresh sandbox, start to end, in a few seconds.

A testbed gateway fronts N nodes (here: sandbox nodes on loopback, real SSH). The scenario:

1. check the gateway (critical: nothing else runs if it is down);
2. prepare every node in parallel behind the gateway, with a local script pushed and run with
   arguments (``RunScript``);
3. start a "server" on node1 and capture the address it reports (``Capture``/``Variables``);
4. run the "clients" on the other nodes with that captured value (``Deferred``);
5. a flaky, non-critical sensor step fails on one node - the run goes on, and says so;
6. pull every node's results back into a directory per node (``Pull``).

Then it prints the scheduler's ``list()``, a summary, and where the graph image and the run
report (an HTML timeline, :mod:`asynciojobs.report`) were written; ``--monitor`` shows the run
live on the terminal.
Nothing keeps running afterwards: the sandbox stops with the demo. Run it with ``bin/demo``,
``sshjobs demo`` or ``python -m sshjobs.demo``. This module prints: it is a program, not a
library.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from asynciojobs import Scheduler
from sshjobs.capture import Capture, Deferred, Variables
from sshjobs.commands import Run, RunScript
from sshjobs.formatters import HostFormatter
from sshjobs.job import SshJob
from sshjobs.node import SshNode
from sshjobs.sandbox import Sandbox, SandboxNode
from sshjobs.transfer import Pull

DEFAULT_NODES = 4
FLAKY_NODE = 3  # the node whose optional sensor step fails

PREPARE_SCRIPT = r"""#!/bin/sh
# prepare.sh NODE SAMPLES - what a testbed node does before the experiment:
# make a results directory and record SAMPLES measurements in it
set -e
node=$1
samples=$2
mkdir -p results
: > results/samples.txt
i=1
while [ "$i" -le "$samples" ]; do
    echo "$node sample $i value $(( (i * 37 + ${#node} * 11) % 100 ))" >> results/samples.txt
    i=$((i + 1))
done
echo "prepared $samples samples in $PWD/results"
"""


@dataclass
class DemoReport:
    """What the demo did: returned by :func:`run_demo`, checked by the tests."""

    ok: bool
    output: Path
    seconds: float
    graph: Path | None
    report: Path | None = None
    pulled: dict[str, list[Path]] = field(default_factory=dict)
    failed_optional: list[str] = field(default_factory=list)
    server: str = ""


def _ssh_node(sandbox: Sandbox, node: SandboxNode, gateway: SshNode | None) -> SshNode:
    # all sandbox nodes share 127.0.0.1: a formatter per node keeps their output apart
    ssh_node = SshNode(
        node.host,
        port=node.port,
        username="demo",
        gateway=gateway,
        keys=[str(sandbox.client_key)],
        known_hosts=str(sandbox.known_hosts),
        formatter=HostFormatter(f"{node.name:>7} | {{linenl}}"),
    )
    ssh_node.monitor_name = node.name  # how the monitor and the report name it
    return ssh_node


def build_scenario(
    sandbox: Sandbox, output: Path, script: Path
) -> tuple[Scheduler, dict[str, Any]]:
    """The jobs of the experiment, and handles on the interesting ones."""
    gateway = _ssh_node(sandbox, sandbox.gateway, None) if sandbox.gateway else None
    nodes = [_ssh_node(sandbox, node, gateway) for node in sandbox.nodes]
    names = [node.name for node in sandbox.nodes]
    scheduler = Scheduler(critical=True)
    check = SshJob(
        gateway or nodes[0],
        scheduler=scheduler,
        label="check the gateway",
        command=Run("echo gateway up, serving from $HOME"),
    )
    prepares = [
        SshJob(
            node,
            scheduler=scheduler,
            required=check,
            label=f"prepare {name}",
            command=RunScript(script, name, 5 + index),
        )
        for index, (node, name) in enumerate(zip(nodes, names, strict=False))
    ]
    variables = Variables()
    server = SshJob(
        nodes[0],
        scheduler=scheduler,
        required=prepares[0],
        label=f"start server on {names[0]}",
        commands=[
            Run("echo server listening > results/server.log"),
            Run(
                "echo $SSHJOBS_SANDBOX_NODE:$((40000 + $$ % 1000))",
                capture=Capture("server", variables),
            ),
        ],
    )
    clients = [
        SshJob(
            node,
            scheduler=scheduler,
            required=(prepare, server),
            label=f"client on {name}",
            command=Run(Deferred("echo talking to {{server}} | tee results/client.log", variables)),
        )
        for node, name, prepare in zip(nodes[1:], names[1:], prepares[1:], strict=False)
    ]
    flaky_index = min(FLAKY_NODE, len(nodes)) - 1
    flaky = SshJob(
        nodes[flaky_index],
        scheduler=scheduler,
        required=prepares[flaky_index],
        critical=False,
        label=f"optional sensor on {names[flaky_index]}",
        command=Run("echo sensor not responding >&2; exit 3"),
    )
    pulls = []
    # node1's results are complete once its server ran, the others' once their client ran
    for node, name, last in zip(nodes, names, [server, *clients], strict=False):
        local = output / name
        local.mkdir(parents=True, exist_ok=True)
        pulls.append(
            SshJob(
                node,
                scheduler=scheduler,
                required=last,
                label=f"pull results of {name}",
                command=Pull("results", str(local)),
            )
        )
    return scheduler, {"variables": variables, "flaky": flaky, "pulls": pulls, "names": names}


def _export_graph(scheduler: Scheduler, output: Path, out: TextIO) -> Path | None:
    if not shutil.which("dot"):
        print("graph: graphviz 'dot' not found, no image (install graphviz to get one)", file=out)
        return None
    written = Path(scheduler.export_as_svgfile(str(output / "demo-graph")))
    return written


async def co_run_demo(
    output: Path, count: int = DEFAULT_NODES, out: TextIO = sys.stdout, monitor: bool = False
) -> DemoReport:
    """Run the demo in ``output`` (sandbox, script, results, graph all land there)."""
    start = time.monotonic()
    output.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240  set-up, before any job runs
    script = output / "prepare.sh"
    script.write_text(PREPARE_SCRIPT)
    async with Sandbox(output / "sandbox", count) as sandbox:
        print(
            f"sandbox: gateway + {count} nodes on 127.0.0.1 "
            f"(ports {', '.join(str(node.port) for node in sandbox.all_nodes)})",
            file=out,
        )
        scheduler, parts = build_scenario(sandbox, output, script)
        print("--- running the experiment", file=out)
        ok = await scheduler.co_run(monitor=monitor)
    seconds = time.monotonic() - start
    print("--- list()", file=out)
    scheduler.list()
    report = DemoReport(
        ok=bool(ok),
        output=output,
        seconds=seconds,
        graph=None,
        server=str(parts["variables"].get("server", "")),
    )
    for name in parts["names"]:
        local = output / name
        report.pulled[name] = sorted(path for path in local.rglob("*") if path.is_file())
    flaky = parts["flaky"]
    if flaky.raised_exception() is not None or flaky.result():
        report.failed_optional.append(f"{flaky.label} (exit {flaky.result()})")
    report.graph = _export_graph(scheduler, output, out)
    report.report = Path(
        scheduler.export_as_report(output / "demo-report.html", title="sshjobs demo")
    )
    _summary(report, scheduler, out)
    return report


def _summary(report: DemoReport, scheduler: Scheduler, out: TextIO) -> None:
    stats = scheduler.statistics()
    print("--- summary", file=out)
    print(
        f"overall: {'OK' if report.ok else 'FAILED'} - {stats.total} jobs, "
        f"{stats.done} done, in {report.seconds:.1f} s",
        file=out,
    )
    print(f"captured on node1 and used by the clients: server = {report.server}", file=out)
    for name in report.failed_optional:
        print(f"non-critical step failed (the run went on): {name}", file=out)
    for name, files in report.pulled.items():
        shown = ", ".join(str(path.relative_to(report.output)) for path in files)
        print(f"pulled from {name}: {shown}", file=out)
    if report.graph:
        print(f"graph: {report.graph}", file=out)
    if report.report:
        print(
            f"report: {report.report} (timeline, graph and summary; open it in a browser)", file=out
        )
    print(f"everything is in {report.output}; the sandbox is stopped", file=out)


def run_demo(
    output: Path | None = None,
    count: int = DEFAULT_NODES,
    out: TextIO = sys.stdout,
    monitor: bool = False,
) -> DemoReport:
    """Synchronous entry point; a fresh temporary directory when ``output`` is None."""
    where = output or Path(tempfile.mkdtemp(prefix="sshjobs-demo-"))
    return asyncio.run(co_run_demo(where, count, out, monitor))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sshjobs-demo", description=__doc__.split("\n")[0])
    parser.add_argument(
        "-n",
        "--nodes",
        type=int,
        default=DEFAULT_NODES,
        help=f"number of testbed nodes (default {DEFAULT_NODES})",
    )
    parser.add_argument(
        "-o",
        "--output",
        type=Path,
        default=None,
        help="directory for results, graph and report (default: a fresh temp dir)",
    )
    parser.add_argument(
        "--monitor", action="store_true", help="show the run live on the terminal (stderr)"
    )
    args = parser.parse_args(argv)
    if not 1 <= args.nodes <= 50:
        parser.error(f"--nodes must be between 1 and 50, not {args.nodes}")
    report = run_demo(args.output, args.nodes, monitor=args.monitor)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
