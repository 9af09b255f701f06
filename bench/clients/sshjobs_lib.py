"""sshjobs used as a library: one SshNode and one SshJob per host in a Scheduler.

Written like apssh_client.py (same shape of script, `apssh` → `sshjobs` in the imports), with
sshjobs' defaults: host keys checked against the farm's known_hosts, connections closed by the
scheduler's shutdown.
"""

from _common import Clock, Outcome, parse_args, report

from asynciojobs import Scheduler
from sshjobs import HostFormatter, Run, SshJob, SshNode


def main() -> None:
    args, targets = parse_args(__doc__)
    outcome, clock = Outcome(), Clock()
    formatter = HostFormatter(verbose=False)
    options = dict(
        username=targets.user,
        keys=[targets.key],
        known_hosts=targets.known_hosts,
        formatter=formatter,
    )
    gateway = None
    if targets.gateway:
        gw = targets.gateway
        gateway = SshNode(gw["address"], port=gw["port"], **options)
    scheduler = Scheduler()
    jobs = []
    for host in targets.hosts:
        node = SshNode(host["address"], port=host["port"], gateway=gateway, **options)
        commands = [Run(args.command) for _ in range(args.repeat)]
        jobs.append(SshJob(node, commands=commands, critical=False, scheduler=scheduler))
    clock.ready(outcome)
    scheduler.run()
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
