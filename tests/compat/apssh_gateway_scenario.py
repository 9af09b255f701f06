#!/usr/bin/env python3
"""A script in the style of apssh's tutorials, unchanged except that its imports say
``sshjobs`` where they said ``apssh``. Run by tests/sshjobs/test_ssh_compat.py against the farm.

usage: apssh_gateway_scenario.py GATEWAY NODE [NODE...] [--port P] [--workdir DIR]
"""

import os
from argparse import ArgumentParser

from asynciojobs import Scheduler
from sshjobs import (
    Capture,
    Deferred,
    LocalNode,
    Pull,
    Push,
    Run,
    RunString,
    SshJob,
    SshNode,
    Variables,
    close_ssh_in_scheduler,
    load_private_keys,
)
from sshjobs.formatters import ColonFormatter

parser = ArgumentParser()
parser.add_argument("gateway")
parser.add_argument("nodes", nargs="+")
parser.add_argument("--port", type=int, default=22)
parser.add_argument("--workdir", default=".")
args = parser.parse_args()

keys = load_private_keys()
gateway = SshNode(
    hostname=args.gateway, port=args.port, username="root", keys=keys, formatter=ColonFormatter()
)
nodes = [
    SshNode(
        gateway=gateway,
        hostname=name,
        port=args.port,
        username="root",
        keys=keys,
        formatter=ColonFormatter(),
    )
    for name in args.nodes
]

scheduler = Scheduler()
variables = Variables()

check_gateway = SshJob(
    node=gateway,
    command=Run("echo", "gateway", "is", "up"),
    scheduler=scheduler,
)

local_file = os.path.join(args.workdir, "payload.txt")
with open(local_file, "w") as f:
    f.write("payload\n")

per_node = []
for index, node in enumerate(nodes):
    job = SshJob(
        node=node,
        commands=[
            Push(localpaths=[local_file], remotepath="."),
            RunString(
                "#!/bin/bash\necho node $1 has $(cat payload.txt)\n", index, label="check payload"
            ),
            Run("cat payload.txt", capture=Capture(f"payload{index}", variables)),
            Run("exit 1", allowed_exits=[1]),
            Pull(
                remotepaths="payload.txt", localpath=os.path.join(args.workdir, f"back{index}.txt")
            ),
        ],
        required=check_gateway,
        scheduler=scheduler,
    )
    per_node.append(job)

SshJob(
    node=LocalNode(formatter=ColonFormatter()),
    command=Run(Deferred("echo locally: {{payload0}}", variables)),
    required=per_node,
    scheduler=scheduler,
)

ok = scheduler.orchestrate()
if not ok:
    scheduler.debrief()
close_ssh_in_scheduler(scheduler)
exit(0 if ok else 1)
