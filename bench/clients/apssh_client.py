"""apssh 0.27 (prior art) used as a library: one SshNode and one SshJob per host in a Scheduler.

Host keys are not checked (apssh's default, known_hosts=None). Connections are closed at the end
with co_close_ssh_in_scheduler in the same event loop (the synchronous close_ssh_in_scheduler
runs a new loop, where closing connections of the finished loop hangs until its 30 s timeout).
"""

import asyncio

from _common import Clock, Outcome, parse_args, report
from apssh import (
    HostFormatter,
    Run,
    SshJob,
    SshNode,
    co_close_ssh_in_scheduler,
    import_private_key,
)

from asynciojobs import Scheduler


def main() -> None:
    args, targets = parse_args(__doc__)
    outcome, clock = Outcome(), Clock()
    keys = [import_private_key(targets.key)]
    formatter = HostFormatter(verbose=False)
    gateway = None
    if targets.gateway:
        gw = targets.gateway
        gateway = SshNode(
            gw["address"], port=gw["port"], username=targets.user, keys=keys, formatter=formatter
        )
    scheduler = Scheduler()
    jobs = []
    for host in targets.hosts:
        node = SshNode(
            host["address"],
            port=host["port"],
            username=targets.user,
            keys=keys,
            gateway=gateway,
            formatter=formatter,
        )
        commands = [Run(args.command) for _ in range(args.repeat)]
        jobs.append(SshJob(node, commands=commands, critical=False, scheduler=scheduler))
    clock.ready(outcome)

    async def run_and_close() -> None:
        await scheduler.co_run()
        await co_close_ssh_in_scheduler(scheduler)

    asyncio.run(run_and_close())
    for host, job in zip(targets.hosts, jobs, strict=False):
        if not job.is_done():
            outcome.fail(host["name"], RuntimeError("job not done"))
        elif job.raised_exception() is not None:
            outcome.fail(host["name"], job.raised_exception())
        elif job.result() != 0:
            outcome.fail(host["name"], RuntimeError(f"exit status {job.result()}"))
        else:
            outcome.ok += 1
    clock.done(outcome)
    report(args, outcome)


if __name__ == "__main__":
    main()
