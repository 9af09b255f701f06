#!/usr/bin/env python3
"""Build locally, deploy everywhere: a LocalNode job, then one Sequence per remote node.

    python examples/build_and_deploy.py                        # on sandbox nodes
    python examples/build_and_deploy.py -k KEY --known-hosts FILE root@h1 root@h2

The build (a tarball made by a local command) runs once; then, on every node in parallel, a
``Sequence`` pushes it, unpacks it and runs what it contains - each step after the previous one
on that node, all nodes at the same time. ``--window`` caps how many nodes are busy at once.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from asynciojobs import Scheduler, Sequence
from sshjobs import LocalNode, Push, Run, SshJob, SshNode
from sshjobs.sandbox import ThreadedSandbox
from sshjobs.targets import parse_target


def deploy(nodes: list[SshNode], workdir: Path, window: int) -> bool:
    source = workdir / "app"
    source.mkdir(parents=True, exist_ok=True)
    (source / "run.sh").write_text('echo "app v1 running on $(uname -s) in $PWD"\n')
    tarball = workdir / "app.tgz"

    scheduler = Scheduler(critical=True, jobs_window=window)
    build = SshJob(
        LocalNode(),
        label="build app.tgz",
        scheduler=scheduler,
        command=Run(f"tar -C {workdir} -czf {tarball} app && echo built {tarball}"),
    )
    for node in nodes:
        Sequence(
            SshJob(node, command=Push(str(tarball), "app.tgz"), label=f"push to {node}"),
            SshJob(node, command=Run("tar -xzf app.tgz"), label=f"unpack on {node}"),
            SshJob(node, command=Run("sh app/run.sh"), label=f"run on {node}"),
            required=build,
            scheduler=scheduler,
        )
    ok = scheduler.run()
    scheduler.list()
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("hosts", nargs="*", help="[user@]host[:port] (default: sandbox nodes)")
    parser.add_argument("-k", "--key", action="append", help="private key file")
    parser.add_argument("--known-hosts", help="known_hosts file")
    parser.add_argument("-w", "--window", type=int, default=None, help="nodes busy at once")
    args = parser.parse_args()

    def node(spec: str) -> SshNode:
        target = parse_target(spec)
        return SshNode(
            target.host,
            username=target.user,
            port=target.port,
            keys=args.key,
            known_hosts=args.known_hosts or (),
        )

    with tempfile.TemporaryDirectory() as workdir:
        if args.hosts:
            return (
                0 if deploy([node(spec) for spec in args.hosts], Path(workdir), args.window) else 1
            )
        with ThreadedSandbox(Path(workdir) / "sandbox", 3, gateway=False) as sandbox:
            args.key, args.known_hosts = [str(sandbox.client_key)], str(sandbox.known_hosts)
            nodes = [node(n.target) for n in sandbox.nodes]
            return 0 if deploy(nodes, Path(workdir), args.window) else 1


if __name__ == "__main__":
    sys.exit(main())
