"""A scenario on sandbox nodes (``sshjobs.testing``): what a user testing their own scenario
files without sshd would do - gateway, forward requirement, service start/stop.

(No forever job here: cancelling a running command leaks a transport on the sandbox's server
side, reported to the sandbox's owner; the farm tests cover forever jobs.)
"""

from __future__ import annotations

import textwrap

from sshjobs.scenario import NodeDefaults, YamlLoader
from sshjobs.testing import sandbox_nodes  # noqa: F401 - the fixture


def test_scenario_with_gateway_and_service_on_sandbox_nodes(sandbox_nodes, tmp_path):  # noqa: F811
    gateway, node = sandbox_nodes.gateway, sandbox_nodes.nodes[0]
    path = tmp_path / "sandbox.yaml.j2"
    path.write_text(
        textwrap.dedent("""
        scheduler: {timeout: 60, critical: true}
        nodes:
          - {id: gw, hostname: "{{ gw }}", port: {{ gw_port }}, username: {{ user }}}
          - {id: n, hostname: "{{ node }}", port: {{ node_port }}, username: {{ user }},
             gateway: gw}
        services:
          - {id: ticker, command: "while true; do date +%s > ticker.out; sleep 0.2; done"}
        jobs:
          - id: start
            node: n
            required: prepare
            commands:
              - {type: Service, service: ticker, action: start}
              - "while ! test -s ticker.out; do sleep 0.05; done"
              - {type: Service, service: ticker, action: stop}
              - {type: Service, service: ticker, action: status, allowed_exits: [3]}
          - {id: prepare, node: gw, commands: "echo preparing"}
        """)
    )
    env = {
        "gw": gateway.host,
        "gw_port": str(gateway.port),
        "node": node.host,
        "node_port": str(node.port),
        "user": sandbox_nodes.username,
    }
    defaults = NodeDefaults(
        keys=[str(sandbox_nodes.client_key)], known_hosts=str(sandbox_nodes.known_hosts)
    )
    nodes, jobs, scheduler = YamlLoader(path, node_defaults=defaults).load_with_maps(env)
    assert nodes["n"].gateway is nodes["gw"]
    assert scheduler.run() is True, scheduler.why()
    assert all(job.is_done() and not job.raised_exception() for job in jobs.values())
    home = sandbox_nodes.home(0)
    assert (home / "ticker.out").read_text().strip().isdigit()
    service_dir = home / ".sshjobs/services/ticker"
    assert (service_dir / "log").exists() and not (service_dir / "pid").exists()
