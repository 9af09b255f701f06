"""Scenario files built into real nodes and jobs, run against the farm's sshd hosts."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from fixtures.leftovers import session_members
from fixtures.waiting import empty, wait_until

from asynciojobs import Scheduler
from sshjobs import LocalNode, SshJob, SshNode
from sshjobs.scenario import NodeDefaults, ScenarioError, YamlLoader
from sshjobs.service import Service

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "scenarios"


def farm_env(farm) -> dict[str, str]:
    """Template variables pointing the example scenario at the farm."""
    gateway, node = farm.gateway, farm.private[0]
    return {
        "gateway": gateway.address,
        "gateway_port": str(gateway.port),
        "node": node.address,
        "node_port": str(node.port),
        "timeout": "60",
    }


def defaults(farm) -> NodeDefaults:
    return NodeDefaults(keys=[str(farm.client_key)], known_hosts=str(farm.known_hosts))


def service_pid(farm, host, service_id: str) -> Path:
    return farm.home_of(host) / ".sshjobs/services" / service_id / "pid"


def test_example_gateway_scenario_runs_on_the_farm(farm, running):
    loader = YamlLoader(EXAMPLES / "gateway.yaml.j2", node_defaults=defaults(farm))
    nodes, jobs, scheduler = loader.load_with_maps(farm_env(farm))
    assert isinstance(scheduler, Scheduler)
    assert set(nodes) == {"gateway", "node"} and isinstance(nodes["node"], SshNode)
    assert nodes["node"].gateway is nodes["gateway"]
    assert set(jobs) == {"start", "watch", "use", "stop", "prepare"}
    assert all(isinstance(job, SshJob) for job in jobs.values())
    assert jobs["start"].required == {jobs["prepare"]}  # defined further down in the file
    assert jobs["watch"].forever and scheduler.timeout == 60
    pidfile = service_pid(farm, farm.private[0], "ticker")
    sessions = []

    def on_event(event):  # while the service runs, note its session id
        if event.kind == "done" and event.job is jobs["start"]:
            sessions.append(int(pidfile.read_text().split()[0]))

    scheduler.subscribe(on_event)
    assert scheduler.run() is True, scheduler.why()
    # the forever job was cancelled, every other job succeeded
    for name in ("prepare", "start", "use", "stop"):
        assert jobs[name].is_done() and not jobs[name].raised_exception(), name
    # the service ran on the private host, then its whole tree went away
    [sid] = sessions
    assert not session_members(sid) and not pidfile.exists()
    # the forever job's remote command was killed when the scheduler cancelled it (the kill
    # completes on the remote side, asynchronously)
    wait_until(
        lambda: running("echo watching; while true"),
        until=empty,
        message="the forever job's remote command killed",
    )
    assert (farm.home_of(farm.private[0]) / "ticker.out").read_text().strip().isdigit()


def test_service_commands_in_a_scenario_stop_the_tree(farm, tmp_path):
    host = farm.direct[0]
    path = tmp_path / "service.yaml"
    path.write_text(
        textwrap.dedent(f"""
        nodes:
          - {{id: h, hostname: {host.address}, port: {host.port}}}
        services:
          - id: tree
            command: "sleep 3600 & sleep 3601 & echo value=$SCENARIO_VALUE; wait"
            environ: {{SCENARIO_VALUE: from-yaml}}
        jobs:
          - id: start
            node: h
            commands:
              - {{type: Service, service: tree, action: start}}
              - {{type: Service, service: tree, action: status}}
    """)
    )
    loader = YamlLoader(path, node_defaults=defaults(farm))
    built = loader.load_built()
    assert isinstance(built.services["tree"], Service)
    assert built.scheduler.run() is True, built.scheduler.why()
    pidfile = service_pid(farm, host, "tree")
    sid = int(pidfile.read_text().split()[0])
    assert session_members(sid)
    stop = SshJob(built.nodes["h"], commands=[built.services["tree"].stop_command()])
    assert Scheduler(stop).run() is True
    assert not session_members(sid) and not pidfile.exists()
    log = farm.home_of(host) / ".sshjobs/services/tree/log"
    assert "value=from-yaml" in log.read_text()


def test_a_failing_critical_job_fails_the_run_and_skips_its_dependents(farm, tmp_path):
    host = farm.direct[0]
    marker = farm.tmp_of(host) / "scenario-should-not-exist"
    path = tmp_path / "fail.yaml"
    path.write_text(
        textwrap.dedent(f"""
        scheduler: {{critical: true}}
        nodes:
          - {{id: h, hostname: {host.address}, port: {host.port}}}
          - {{id: here, localnode: true}}
        jobs:
          - {{id: then, node: h, required: boom, commands: "touch {marker.name}"}}
          - {{id: boom, node: here, critical: true, commands: "exit 7"}}
    """).replace(marker.name, f"/tmp/{marker.name}")
    )
    nodes, jobs, scheduler = YamlLoader(path, node_defaults=defaults(farm)).load_with_maps()
    assert isinstance(nodes["here"], LocalNode)
    assert scheduler.run() is False
    assert jobs["boom"].raised_exception()
    assert not jobs["then"].is_done() and not marker.exists()


def test_unknown_command_option_is_reported_at_build_time(farm, tmp_path):
    path = tmp_path / "opt.yaml"
    path.write_text(
        "nodes: [{id: here, localnode: true}]\n"
        "jobs:\n"
        "  - id: j\n"
        "    node: here\n"
        "    commands:\n"
        "      - {type: Run, command: ls, colour: red}\n"
    )
    with pytest.raises(ScenarioError) as info:
        YamlLoader(path).load()
    assert str(info.value) == f"{path}:6: colour: job 'j': Run has no 'colour' option"


def test_unknown_formatter_and_old_formatter_names(tmp_path):
    path = tmp_path / "fmt.yaml"
    path.write_text(
        "nodes:\n"
        "  - {id: a, hostname: h.invalid, formatter: TimeColonFormatter}\n"
        "  - {id: b, hostname: h.invalid, formatter: NoSuchFormatter}\n"
        "jobs: []\n"
    )
    with pytest.raises(ScenarioError) as info:
        YamlLoader(path).load()
    assert (info.value.line, info.value.key) == (3, "formatter")


def test_apssh_style_commands_run_for_real(farm, tmp_path, capfd):
    """Run / RunScript (+ includes) / RunString / Push / Pull built from the file, on a farm
    host, through the apssh entry point ``sshjobs.YamlLoader(...).load()``."""
    from sshjobs import YamlLoader as TopLevelLoader

    host = farm.direct[0]
    (tmp_path / "lib.sh").write_text('greeting() { echo "hello $1"; }\n')
    (tmp_path / "main.sh").write_text('#!/bin/sh\n. "$(dirname "$0")/lib.sh"\ngreeting "$1"\n')
    (tmp_path / "data.txt").write_text("pushed\n")
    pulled = tmp_path / "pulled"
    pulled.mkdir()
    path = tmp_path / "apssh.yaml"
    path.write_text(
        textwrap.dedent(f"""
        nodes:
          - id: h
            hostname: {host.address}
            port: {host.port}
            formatter: ColonFormatter
        jobs:
          - id: all
            node: h
            commands:
              - type: Run
                command: echo run   with  spaces
              - type: RunScript
                command: {tmp_path / "main.sh"} world
                includes: [{tmp_path / "lib.sh"}]
              - type: RunString
                script_body: "#!/bin/sh\\necho string $1"
                args: [arg]
              - type: Push
                localpaths: [{tmp_path / "data.txt"}]
                remotepath: /tmp/
              - type: Run
                argv: [cat, /tmp/data.txt]
              - type: Pull
                remotepaths: [/tmp/data.txt]
                localpath: {pulled}
    """)
    )
    scheduler = TopLevelLoader(str(path), node_defaults=defaults(farm)).load()
    ok = scheduler.run()
    [job] = scheduler.jobs
    assert ok is True, (repr(job.raised_exception()), capfd.readouterr())
    out = capfd.readouterr().out
    for line in ("run with spaces", "hello world", "string arg", "pushed"):
        assert line in out, out
    assert (pulled / "data.txt").read_text() == "pushed\n"
