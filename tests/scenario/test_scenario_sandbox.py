"""The example gateway scenario on sandbox nodes (``sshjobs.testing``): what a user testing their
own scenario files without sshd would do."""

from __future__ import annotations

from pathlib import Path

from sshjobs.scenario import NodeDefaults, YamlLoader
from sshjobs.testing import sandbox_nodes  # noqa: F401 - the fixture

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "scenarios"


def test_example_gateway_scenario_on_sandbox_nodes(sandbox_nodes):  # noqa: F811
    gateway, node = sandbox_nodes.gateway, sandbox_nodes.nodes[0]
    env = {"gateway": gateway.host, "gateway_port": str(gateway.port), "node": node.host,
           "node_port": str(node.port), "user": sandbox_nodes.username, "timeout": "60"}
    defaults = NodeDefaults(keys=[str(sandbox_nodes.client_key)],
                            known_hosts=str(sandbox_nodes.known_hosts))
    nodes, jobs, scheduler = YamlLoader(EXAMPLES / "gateway.yaml.j2",
                                        node_defaults=defaults).load_with_maps(env)
    assert scheduler.run() is True, scheduler.why()
    assert all(jobs[name].is_done() and not jobs[name].raised_exception()
               for name in ("prepare", "start", "use", "stop"))
    home = sandbox_nodes.home(0)
    assert (home / "ticker.out").read_text().strip().isdigit()
    service_dir = home / ".sshjobs/services/ticker"
    assert (service_dir / "log").exists() and not (service_dir / "pid").exists()
