#!/usr/bin/env python3
"""A testbed experiment behind a gateway, R2lab style.

    python examples/testbed_experiment.py                  # on sandbox nodes started here
    python examples/testbed_experiment.py -g root@gateway -k KEY --known-hosts FILE \\
        root@node1 root@node2 root@node3                   # on your own testbed

The nodes are reached through the gateway, over one shared gateway connection. Each node is
prepared in parallel (a script sent with its arguments), node 1 announces a value that the
other nodes then use, and every node's results come back into ``RESULTS/<node>/``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from asynciojobs import Scheduler
from sshjobs import Capture, Deferred, Pull, Run, RunString, SshJob, SshNode, Variables
from sshjobs.sandbox import ThreadedSandbox
from sshjobs.targets import parse_target

# the preparation each node runs: $1 = its rank, $2 = how many samples to record
PREPARE = """
mkdir -p results
seq "$2" | sed "s/^/rank $1 sample /" > results/samples.txt
echo "rank $1 ready: $(wc -l < results/samples.txt) samples"
"""


def experiment(gateway: SshNode, nodes: list[SshNode], results: Path) -> bool:
    """Build and run the experiment; True when every critical step succeeded."""
    scheduler = Scheduler(critical=True)  # any failure stops the experiment
    check = SshJob(
        gateway, command=Run("echo gateway ok"), label="check gateway", scheduler=scheduler
    )
    # 1. all nodes prepared in parallel, once the gateway answers
    prepared = [
        SshJob(
            node,
            command=RunString(PREPARE, rank, 3),
            label=f"prepare {rank}",
            required=check,
            scheduler=scheduler,
        )
        for rank, node in enumerate(nodes, start=1)
    ]
    # 2. node 1 announces a value (here: its pid-based "session id"), captured in `variables`
    variables = Variables()
    announce = SshJob(
        nodes[0],
        label="announce",
        required=prepared[0],
        scheduler=scheduler,
        command=Run("echo session-$$", capture=Capture("session", variables)),
    )
    # 3. the other nodes use it: Deferred is rendered when the command starts
    joined = [
        SshJob(
            node,
            label=f"join {rank}",
            required=(announce, prepared[rank - 1]),
            scheduler=scheduler,
            command=Run(Deferred("echo joined {{session}} > results/joined.txt", variables)),
        )
        for rank, node in enumerate(nodes, start=1)
        if rank > 1
    ]
    # 4. results back, one local directory per node
    for rank, node in enumerate(nodes, start=1):
        local = results / f"node{rank}"
        local.mkdir(parents=True, exist_ok=True)
        SshJob(
            node,
            command=Pull("results", str(local)),
            label=f"pull {rank}",
            required=[announce, *joined],
            scheduler=scheduler,
        )
    ok = scheduler.run()
    scheduler.list()
    print(f"session announced by node 1: {variables.get('session')}")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("nodes", nargs="*", help="[user@]host[:port] (default: sandbox nodes)")
    parser.add_argument("-g", "--gateway", help="[user@]host[:port] of the gateway")
    parser.add_argument("-k", "--key", action="append", help="private key file")
    parser.add_argument("--known-hosts", help="known_hosts file")
    parser.add_argument("-o", "--results", type=Path, default=Path("experiment-results"))
    args = parser.parse_args()

    def node(spec: str, gateway: SshNode | None = None) -> SshNode:
        target = parse_target(spec)
        return SshNode(
            target.host,
            username=target.user,
            port=target.port,
            gateway=gateway,
            keys=args.key,
            known_hosts=args.known_hosts or (),
        )

    if args.nodes:
        if not args.gateway:
            parser.error("--gateway is needed with explicit nodes")
        gateway = node(args.gateway)
        return 0 if experiment(gateway, [node(n, gateway) for n in args.nodes], args.results) else 1
    # no testbed given: 3 sandbox nodes behind a sandbox gateway, for the time of the run
    with ThreadedSandbox(args.results / "sandbox", 3) as sandbox:
        args.key, args.known_hosts = [str(sandbox.client_key)], str(sandbox.known_hosts)
        gateway = node(sandbox.gateway.target)
        nodes = [node(n.target, gateway) for n in sandbox.nodes]
        return 0 if experiment(gateway, nodes, args.results) else 1


if __name__ == "__main__":
    sys.exit(main())
