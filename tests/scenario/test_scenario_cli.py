"""``sshjobs scenario FILE``: exit codes, output modes, graphs, bad input — on the farm."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import textwrap
from pathlib import Path

import pytest
from fixtures.cli import COMMAND, sshjobs
from fixtures.waiting import empty, wait_until

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "scenarios"


def farm_defines(farm) -> list[str]:
    gateway, node = farm.gateway, farm.private[0]
    return [
        "-D",
        f"gateway={gateway.address}",
        "-D",
        f"gateway_port={gateway.port}",
        "-D",
        f"node={node.address}",
        "-D",
        f"node_port={node.port}",
    ]


def write(tmp_path: Path, text: str, name: str = "s.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


def test_example_gateway_scenario_exit_0(farm):
    result = sshjobs(
        "scenario",
        EXAMPLES / "gateway.yaml.j2",
        *farm_defines(farm),
        "-i",
        farm.client_key,
        "--known-hosts",
        farm.known_hosts,
    )
    assert result.exit_code == 0, result.stderr
    out = result.stdout.splitlines()
    assert f"gateway: preparing on {farm.gateway.name}" in out
    assert "gateway: watching" in out  # the forever job ran, then was cancelled
    assert any(line.startswith("node: ticker at ") for line in out), out
    assert any(line.startswith("node: service ticker started, pid ") for line in out), out
    assert result.stderr == ""


def test_exit_1_when_a_job_fails_and_3_when_a_node_is_unreachable(farm, tmp_path):
    host = farm.direct[0]
    failing = write(
        tmp_path,
        f"""
        nodes: [{{id: h, hostname: {host.address}, port: {host.port}}}]
        jobs:
          - {{id: ok, node: h, commands: "echo fine"}}
          - {{id: bad, node: h, required: ok, commands: "echo about to fail; exit 5"}}
        """,
    )
    result = sshjobs("scenario", failing)
    assert result.exit_code == 1
    assert result.stdout.splitlines() == ["h: fine", "h: about to fail"]
    assert result.stderr.splitlines() == ["sshjobs: h: exit status 5"]

    unreachable = write(
        tmp_path,
        """
        nodes:
          - {id: nowhere, hostname: 127.0.0.1, port: 1}
        jobs:
          - {id: j, node: nowhere, commands: "true"}
        """,
        name="unreachable.yaml",
    )
    result = sshjobs("scenario", unreachable, "-c", "5")
    assert result.exit_code == 3, result.output
    [error] = result.stderr.splitlines()
    assert error.startswith("sshjobs: nowhere: unreachable")


def test_exit_4_on_deadline(farm, tmp_path):
    host = farm.direct[0]
    path = write(
        tmp_path,
        f"""
        scheduler: {{timeout: 60}}
        nodes: [{{id: h, hostname: {host.address}, port: {host.port}}}]
        jobs: [{{id: slow, node: h, commands: "sleep 30"}}]
        """,
    )
    result = sshjobs("scenario", path, "--deadline", "1")
    assert result.exit_code == 4, result.output
    assert "h: timed out" in result.stderr


BAD_INPUTS = {
    "requirement": (
        "jobs:\n  - {id: j, node: h, commands: touch MARK, required: [nope]}\n",
        4,
        "required: job 'j' requires 'nope', but no job has that id",
    ),
    "hostname": (
        "  - {id: other, username: root}\njobs:\n  - {id: j, node: h, commands: touch MARK}\n",
        3,
        "hostname: node 'other'",
    ),
    "yaml": (
        "jobs:\n  - {id: j, node: h, commands: touch MARK\n",
        5,
        "invalid YAML: expected ',' or '}', but got '<stream end>' "
        "(while parsing a flow mapping started at line 4)",
    ),
    "template": (
        "jobs:\n  - {id: j, node: h, commands: 'touch MARK {{ undefined_var }}'}\n",
        4,
        "'undefined_var' is undefined",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_exit_2_one_line_nothing_started(farm, tmp_path, case):
    host = farm.direct[0]
    tail, line, words = BAD_INPUTS[case]
    marker = farm.tmp_of(host) / f"scenario-bad-{case}"
    path = tmp_path / "bad.yaml"
    path.write_text(
        f"nodes:\n  - {{id: h, hostname: {host.address}, port: {host.port}}}\n"
        + tail.replace("MARK", f"/tmp/{marker.name}")
    )
    before = farm.accepted_connections(host)
    result = sshjobs("scenario", path)
    assert result.exit_code == 2
    assert result.stdout == ""
    [error] = result.stderr.splitlines()
    assert error.startswith(f"sshjobs: {path}:{line}: "), error
    assert words in error
    assert farm.accepted_connections(host) == before and not marker.exists()


def test_bad_define_or_key_is_a_usage_error(tmp_path):
    result = sshjobs("scenario", EXAMPLES / "hello.yaml", "-D", "novalue")
    assert result.exit_code == 2 and "NAME=VALUE" in result.stderr
    result = sshjobs("scenario", EXAMPLES / "hello.yaml", "-i", tmp_path / "nokey")
    assert result.exit_code == 2 and "no such key file" in result.stderr


def test_json_output_one_record_per_node(farm, tmp_path):
    direct = farm.direct[:2]
    path = write(
        tmp_path,
        "nodes:\n"
        + "".join(
            f"  - {{id: n{i}, hostname: {h.address}, port: {h.port}}}\n"
            for i, h in enumerate(direct)
        )
        + """
        jobs:
          - {id: a, node: n0, commands: "echo zero"}
          - {id: b, node: n1, commands: "echo one; exit 2", critical: false}
        """.replace("\n        ", "\n"),
    )
    result = sshjobs("scenario", path, "--json")
    assert result.exit_code == 1, result.output
    records = {r["host"]: r for r in map(json.loads, result.stdout.splitlines())}
    assert records["n0"]["status"] == "ok" and records["n0"]["stdout"] == "zero\n"
    assert records["n1"]["status"] == "failed" and records["n1"]["exit_status"] == 2


@pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz's dot is not installed")
def test_graph_and_topology_files_dry_run_connects_nowhere(farm, tmp_path):
    graph, topology = tmp_path / "jobs.svg", tmp_path / "topology.dot"
    before = farm.accepted_connections(farm.gateway)
    result = sshjobs(
        "scenario",
        EXAMPLES / "gateway.yaml.j2",
        *farm_defines(farm),
        "-n",
        "--graph",
        graph,
        "--topology",
        topology,
    )
    assert result.exit_code == 0, result.output
    assert farm.accepted_connections(farm.gateway) == before
    svg = graph.read_text()
    assert svg.startswith("<?xml") and "<svg" in svg
    # SSH jobs show their node and their commands
    assert f"root@{farm.private[0].address}" in svg and "start service ticker" in svg
    dot = topology.read_text()
    assert farm.gateway.address in dot and farm.private[0].address in dot
    assert "->" in dot


def test_localnode_scenario_and_out_dir(tmp_path):
    out = tmp_path / "out"
    result = sshjobs("scenario", EXAMPLES / "hello.yaml", "-o", out)
    assert result.exit_code == 0, result.output
    assert (out / "here").read_text().splitlines()[-1].startswith("hello from ")


def test_node_host_key_mode_and_keys_from_the_file(faulty_farm, tmp_path):
    farm = faulty_farm
    host = farm.direct[1]

    def scenario(extra: str) -> Path:
        return write(
            tmp_path,
            f"""
            nodes:
              - {{id: h, hostname: {host.address}, port: {host.port}{extra}}}
            jobs: [{{id: j, node: h, commands: "echo reached"}}]
            """,
            name="keys.yaml",
        )

    farm.replace_host_key(host)  # known_hosts now holds a key the host no longer has
    result = sshjobs("scenario", scenario(""))
    assert result.exit_code == 3, result.output
    assert "host key" in result.stderr.lower()
    # the file's host-key mode applies to its node, and wins over the command line's
    result = sshjobs("scenario", scenario(", host_key: ignore"), "--host-keys", "strict")
    assert (result.exit_code, result.stdout) == (0, "h: reached\n"), result.output
    result = sshjobs("scenario", scenario(", host_key: strict"), "--host-keys", "ignore")
    assert result.exit_code == 3, result.output
    # the file's keys are the ones offered: a missing key file is bad input, on the node's line
    result = sshjobs("scenario", scenario(f", keys: [{tmp_path / 'no-such-key'}]"))
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(f"sshjobs: {tmp_path / 'keys.yaml'}:2: keys: node 'h': "), (
        result.stderr
    )


def test_save_intermediate_from_the_command_line(tmp_path):
    rendered = tmp_path / "rendered.yaml"
    template = write(
        tmp_path,
        "nodes: [{id: here, localnode: true}]\n"
        "jobs: [{id: j, node: here, commands: 'echo {{ word }}'}]\n",
    )
    result = sshjobs("scenario", template, "-D", "word=bonjour", "--save-intermediate", rendered)
    assert result.exit_code == 0, result.output
    assert result.stdout == "here: bonjour\n"
    assert "echo bonjour" in rendered.read_text()


@contextlib.contextmanager
def scenario_process(farm, path: Path):
    """``sshjobs scenario PATH`` as a process of its own (the farm's HOME); killed and reaped
    on exit of the block whatever happened."""
    process = subprocess.Popen(
        [*COMMAND, "scenario", str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "HOME": str(farm.home)},
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=30)


def wait_gone(running, fragment: str) -> None:
    """Wait until no process runs ``fragment`` (a remote kill lands asynchronously: no event
    to wait on from here); fails naming the pids still running."""
    wait_until(
        lambda: running(fragment), until=empty, message=f"no process running {fragment!r} left"
    )


def test_interrupt_exit_130_and_remote_commands_stopped(farm, tmp_path, running):
    host = farm.direct[0]
    path = write(
        tmp_path,
        f"""
        nodes: [{{id: h, hostname: {host.address}, port: {host.port}}}]
        jobs: [{{id: long, node: h, commands: "echo started; sleep 317"}}]
        """,
    )
    with scenario_process(farm, path) as process:
        assert process.stdout.readline() == "h: started\n"  # the remote command runs
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 130
    wait_gone(running, "sleep 317")


def test_closed_stdout_exit_141_and_remote_commands_stopped(farm, tmp_path, running):
    host = farm.direct[1]
    path = write(
        tmp_path,
        f"""
        nodes: [{{id: h, hostname: {host.address}, port: {host.port}}}]
        jobs: [{{id: long, node: h, commands: "seq 1000000000; sleep 319"}}]
        """,
    )
    with scenario_process(farm, path) as process:
        assert process.stdout.readline() == "h: 1\n"
        process.stdout.close()  # like `| head -1`
        assert process.wait(timeout=30) == 141
        stderr = process.stderr.read()
    assert "interrupted" not in stderr and "unreachable" not in stderr, stderr
    wait_gone(running, "seq 1000000000")
    assert running("sleep 319") == []


def test_jobs_not_run_after_a_critical_failure_are_reported(tmp_path):
    path = write(
        tmp_path,
        """
        scheduler: {critical: true}
        nodes:
          - {id: a, localnode: true}
          - {id: b, localnode: true}
        jobs:
          - {id: boom, node: a, critical: true, commands: "echo going; exit 7"}
          - {id: then, node: b, required: boom, commands: "echo never"}
        """,
    )
    result = sshjobs("scenario", path)
    assert result.exit_code == 1
    assert result.stdout == "a: going\n"
    assert result.stderr.splitlines() == [
        "sshjobs: a: exit status 7",
        "sshjobs: b: not run: the scenario stopped before these jobs",
    ]


def test_retries_skip_policy_and_per_job_timeout(farm, tmp_path, running):
    counter = tmp_path / "attempts"
    host = farm.direct[0]
    path = write(
        tmp_path,
        f"""
        nodes:
          - {{id: here, localnode: true}}
          - {{id: there, hostname: {host.address}, port: {host.port}}}
          - {{id: nowhere, hostname: 127.0.0.1, port: 1}}
        jobs:
          # fails on its first attempt only: one retry makes it succeed
          - id: flaky
            node: here
            retries: 1
            backoff: 0
            commands: "echo x >> {counter}; test $(wc -l < {counter}) -ge 2 && echo made it"
          # a requirement that raises (unreachable host): the dependent job is skipped
          - {{id: probe, node: nowhere, critical: false, commands: "true"}}
          - {{id: skipped, node: here, required: [probe, flaky], on_failed_requirement: skip,
              commands: "echo should not run"}}
          - {{id: slow, node: there, timeout: 0.5, critical: false,
              commands: "echo slow; sleep 331"}}
        """,
    )
    result = sshjobs("scenario", path, "--json", "-c", "5")
    assert counter.read_text() == "x\nx\n"
    records = {r["host"]: r for r in map(json.loads, result.stdout.splitlines())}
    # a node is reported once all its jobs are over: its output is complete
    here, there, nowhere = records["here"], records["there"], records["nowhere"]
    assert here["stdout"] == "made it\n"
    assert here["status"] == "failed" and here["error"]["message"].startswith("skipped"), here
    assert (there["status"], there["stdout"]) == ("timeout", "slow\n")
    assert nowhere["status"] == "unreachable"
    assert result.exit_code == 4  # timeout ranks above unreachable and failed
    # the timed-out remote command was killed (asynchronously, on the remote side)
    wait_gone(running, "sleep 331")


def test_dry_run_lists_each_job_on_one_line(farm, tmp_path):
    host = farm.direct[0]
    spec = write(
        tmp_path,
        f"""
        nodes: [{{id: h, hostname: {host.address}, port: {host.port}}}]
        jobs:
          - id: multi
            node: h
            commands: |
              echo first line
              echo second line
              echo third line
        """,
    )
    before = farm.accepted_connections(host)
    result = sshjobs("scenario", spec, "-n")
    assert result.exit_code == 0, result.output
    listed = [line for line in result.stdout.splitlines() if "echo first line" in line]
    assert listed and all("[+2 lines]" in line for line in listed), result.stdout
    assert "echo second line" not in result.stdout
    assert farm.accepted_connections(host) == before


def test_ssh_option_and_config_file_reach_the_nodes(farm, tmp_path):
    host = farm.direct[0]
    spec = write(
        tmp_path,
        """
        nodes: [{id: h, hostname: myalias}]
        jobs: [{id: j, node: h, commands: "hostname"}]
        """,
    )
    config = tmp_path / "config"
    config.write_text(
        f"Host myalias\n  HostName {host.address}\n  Port {host.port}\n\n"
        + farm.ssh_config.read_text()
    )
    result = sshjobs("scenario", spec, "-F", config)
    assert (result.exit_code, result.stdout) == (0, f"h: {host.name}\n"), result.stderr
    moved = sshjobs("scenario", spec, "-F", config, "-O", "Port=1", "-c", "5")
    assert moved.exit_code == 3 and "refused" in moved.stderr
    bad = sshjobs("scenario", spec, "-O", "Nope=1")
    assert bad.exit_code == 2 and "unknown ssh option 'Nope'" in bad.stderr
