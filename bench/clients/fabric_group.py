"""Fabric 3: ThreadingGroup(...).run(command) — one paramiko connection and one thread per host."""

from _common import Clock, Outcome, parse_args, report
from fabric import Connection, ThreadingGroup
from fabric.exceptions import GroupException


def main() -> None:
    args, targets = parse_args(__doc__)
    outcome, clock = Outcome(), Clock()
    connect_kwargs = {"key_filename": targets.key, "look_for_keys": False, "allow_agent": False}
    gateway = None
    if targets.gateway:
        gw = targets.gateway
        gateway = Connection(
            gw["address"], user=targets.user, port=gw["port"], connect_kwargs=connect_kwargs
        )
    connections = [
        Connection(
            host["address"],
            user=targets.user,
            port=host["port"],
            connect_kwargs=connect_kwargs,
            gateway=gateway,
        )
        for host in targets.hosts
    ]
    names = {id(conn): host["name"] for conn, host in zip(connections, targets.hosts, strict=False)}
    group = ThreadingGroup.from_connections(connections)
    clock.ready(outcome)
    failed: dict[int, object] = {}
    for _ in range(args.repeat):
        try:
            results = group.run(args.command, hide=True, warn=True)
        except GroupException as exc:
            results = exc.result
        for conn, result in results.items():
            if isinstance(result, Exception):
                failed.setdefault(id(conn), result)
            elif result.exited != 0:
                failed.setdefault(id(conn), RuntimeError(f"exit status {result.exited}"))
    for conn in connections:
        if id(conn) in failed:
            outcome.fail(names[id(conn)], failed[id(conn)])
        else:
            outcome.ok += 1
    group.close()
    if gateway is not None:
        gateway.close()
    clock.done(outcome)
    report(args, outcome)


if __name__ == "__main__":
    main()
