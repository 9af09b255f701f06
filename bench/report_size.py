"""Benchmark: size and build time of the run report for 1,000 jobs on 100 sandbox nodes.

100 sandbox nodes (real SSH, served in this process, no gateway), 10 jobs per node in a chain,
each printing a few lines; 5 % of them fail (non-critical). The report is written after the
run with ``export_as_report()`` and from the events file (``--events`` / ``sshjobs report``);
prints their sizes, the time to build them, and the run's wall time.

    .venv/bin/python bench/report_size.py [--nodes 100] [--jobs-per-node 10]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import tempfile
import time
from pathlib import Path

from asynciojobs import Scheduler
from asynciojobs.record import EventRecorder, replay
from asynciojobs.report import write_report
from sshjobs import Formatter, Run, SshJob, SshNode
from sshjobs.sandbox import Sandbox


async def main(nodes: int, per_node: int, output: Path) -> None:
    async with Sandbox(output / "sandbox", nodes, gateway=False) as sandbox:
        scheduler = Scheduler(critical=False, jobs_window=200)
        for index, node in enumerate(sandbox.nodes):
            ssh = SshNode(
                node.host,
                port=node.port,
                username="bench",
                keys=[str(sandbox.client_key)],
                known_hosts=str(sandbox.known_hosts),
                formatter=Formatter(),
            )  # output kept by the jobs, not printed
            ssh.monitor_name = node.name
            previous = None
            for step in range(per_node):
                fails = (index * per_node + step) % 20 == 7
                command = (
                    f"echo step {step} on $SSHJOBS_SANDBOX_NODE; seq 1 3; "
                    f"echo a longer line of output for step {step} with some detail"
                    + ("; exit 2" if fails else "")
                )
                previous = SshJob(
                    ssh,
                    command=Run(command),
                    label=f"{node.name} step {step}",
                    scheduler=scheduler,
                    required=previous,
                    critical=False,
                )
        recorder = EventRecorder(io.StringIO())
        scheduler.subscribe(recorder)
        start = time.perf_counter()
        await scheduler.co_run()
        wall = time.perf_counter() - start
    built = time.perf_counter()
    report = Path(scheduler.export_as_report(output / "report.html", title="bench"))
    built = time.perf_counter() - built
    events = recorder.stream.getvalue()
    (output / "events.jsonl").write_text(events)
    replayed = time.perf_counter()
    write_report(
        replay(__import__("json").loads(line) for line in events.splitlines()),
        output / "from-events.html",
    )
    replayed = time.perf_counter() - replayed
    total = len(scheduler.jobs)
    failed = sum(1 for job in scheduler.jobs if job.failed_results())
    print(f"{total} jobs on {nodes} sandbox nodes ({failed} failed), run {wall:.1f} s")
    size = report.stat().st_size  # noqa: ASYNC240 - the run is over, nothing left to block
    print(f"report.html      {size / 1e6:6.2f} MB, built in {built:.2f} s")
    print(f"events.jsonl     {len(events.encode()) / 1e6:6.2f} MB")
    print(
        f"from-events.html {(output / 'from-events.html').stat().st_size / 1e6:6.2f} MB, "
        f"built in {replayed:.2f} s"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--nodes", type=int, default=100)
    parser.add_argument("--jobs-per-node", type=int, default=10)
    parser.add_argument("-o", "--output", type=Path, default=None)
    args = parser.parse_args()
    where = args.output or Path(tempfile.mkdtemp(prefix="sshjobs-report-bench-"))
    asyncio.run(main(args.nodes, args.jobs_per_node, where))
    print(f"files in {where}")
