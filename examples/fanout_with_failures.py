#!/usr/bin/env python3
"""Fan-out with failures: a health check on many hosts, where some are expected to fail.

    python examples/fanout_with_failures.py                 # on 6 sandbox nodes, 2 failing
    python examples/fanout_with_failures.py -k KEY --known-hosts FILE root@h1 root@h2 h3:2222

Every check is a *non-critical* job: a host that fails (non-zero exit, or unreachable) does
not stop the others. At most ``--window`` checks run at a time. The report lists each host
with its outcome; the exit status is 1 when any host failed.
"""

from __future__ import annotations

import argparse
import sys
import tempfile

from asynciojobs import Scheduler
from sshjobs import RunString, SshJob, SshNode
from sshjobs.sandbox import ThreadedSandbox
from sshjobs.targets import parse_target

# a host is unhealthy when someone left a maintenance flag in the home directory
CHECK = """
if [ -e maintenance ]; then echo "under maintenance: $(cat maintenance)" >&2; exit 2; fi
echo "healthy, $(ls | wc -l) entries in $PWD"
"""


def outcome(job: SshJob) -> str:
    """One word or two on how a job ended."""
    if job.raised_exception() is not None:  # could not connect, authenticate, ...
        return f"UNREACHABLE ({type(job.raised_exception()).__name__})"
    return "ok" if job.result() == 0 else f"FAILED (exit {job.result()})"


def fan_out(nodes: list[SshNode], window: int) -> int:
    jobs = [
        SshJob(
            node,
            command=RunString(CHECK, label="health check"),
            critical=False,
            label=f"check {node}",
        )
        for node in nodes
    ]
    Scheduler(*jobs, jobs_window=window, timeout=60).run()
    failed = 0
    for job in jobs:
        print(f"{job.node}: {outcome(job)}")
        failed += outcome(job) != "ok"
    print(f"{len(jobs) - failed}/{len(jobs)} hosts healthy")
    return 1 if failed else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("hosts", nargs="*", help="[user@]host[:port] (default: sandbox nodes)")
    parser.add_argument("-k", "--key", action="append", help="private key file")
    parser.add_argument("--known-hosts", help="known_hosts file")
    parser.add_argument("-w", "--window", type=int, default=4, help="checks at a time")
    args = parser.parse_args()

    def node(spec: str) -> SshNode:
        target = parse_target(spec)
        return SshNode(
            target.host,
            username=target.user,
            port=target.port,
            keys=args.key,
            known_hosts=args.known_hosts or (),
            timeout=5,
        )

    if args.hosts:
        return fan_out([node(spec) for spec in args.hosts], args.window)
    # no hosts given: 6 sandbox nodes, two of them flagged for maintenance
    with tempfile.TemporaryDirectory() as tmp, ThreadedSandbox(tmp, 6, gateway=False) as sandbox:
        for index in (1, 4):
            (sandbox.nodes[index].home / "maintenance").write_text("disk replacement\n")
        args.key, args.known_hosts = [str(sandbox.client_key)], str(sandbox.known_hosts)
        return fan_out([node(n.target) for n in sandbox.nodes], args.window)


if __name__ == "__main__":
    sys.exit(main())
