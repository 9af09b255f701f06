"""Raw asyncssh: asyncio.gather of (connect + run) per host — the floor any asyncssh tool sits on.

Written the way a careful user would: key and known_hosts parsed once, not per connection.
"""

import asyncio

import asyncssh
from _common import Clock, Outcome, parse_args, report


async def main() -> None:
    args, targets = parse_args(__doc__)
    outcome, clock = Outcome(), Clock()
    keys = [asyncssh.read_private_key(targets.key)]
    known_hosts = asyncssh.read_known_hosts(targets.known_hosts)
    options = dict(username=targets.user, client_keys=keys, known_hosts=known_hosts)
    clock.ready(outcome)
    gateway = None
    if targets.gateway:
        gw = targets.gateway
        gateway = await asyncssh.connect(gw["address"], port=gw["port"], **options)

    async def one(host: dict) -> None:
        try:
            async with asyncssh.connect(
                host["address"], port=host["port"], tunnel=gateway, **options
            ) as conn:
                for _ in range(args.repeat):
                    result = await conn.run(args.command)
                    if result.exit_status != 0:
                        raise RuntimeError(f"exit status {result.exit_status}")
            outcome.ok += 1
        except Exception as exc:
            outcome.fail(host["name"], exc)

    await asyncio.gather(*(one(host) for host in targets.hosts))
    if gateway is not None:
        gateway.close()
        await gateway.wait_closed()
    clock.done(outcome)
    report(args, outcome)


if __name__ == "__main__":
    asyncio.run(main())
