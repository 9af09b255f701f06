"""parallel-ssh (libssh2 + gevent): ParallelSSHClient.run_command on every host.

pool_size is set to the number of hosts (its default is 100) so that, like every other tool
here, it runs all hosts at once. parallel-ssh does no host-key checking at all.
"""

from _common import Clock, Outcome, parse_args, report
from pssh.clients import ParallelSSHClient
from pssh.config import HostConfig


def main() -> None:
    args, targets = parse_args(__doc__)
    outcome, clock = Outcome(), Clock()
    addresses = [host["address"] for host in targets.hosts]
    proxy = {}
    if targets.gateway:
        gw = targets.gateway
        proxy = dict(
            proxy_host=gw["address"],
            proxy_port=gw["port"],
            proxy_user=targets.user,
            proxy_pkey=targets.key,
        )
    configs = [
        HostConfig(port=host["port"], user=targets.user, private_key=targets.key, **proxy)
        for host in targets.hosts
    ]
    clock.ready(outcome)
    client = ParallelSSHClient(
        addresses, host_config=configs, pool_size=max(1, len(addresses)), num_retries=1
    )
    failed: dict[int, object] = {}
    for _ in range(args.repeat):
        output = client.run_command(args.command, stop_on_errors=False)
        client.join(output)
        for index, host_output in enumerate(output):
            if host_output.exception is not None:
                failed.setdefault(index, host_output.exception)
            elif host_output.exit_code != 0:
                failed.setdefault(index, RuntimeError(f"exit status {host_output.exit_code}"))
    for index, host in enumerate(targets.hosts):
        if index in failed:
            outcome.fail(host["name"], failed[index])
        else:
            outcome.ok += 1
    clock.done(outcome)
    report(args, outcome)


if __name__ == "__main__":
    main()
