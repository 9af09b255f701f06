"""The scenario file layer on its own: YAML + Jinja2 + checks, no SSH object built."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from sshjobs.scenario import ScenarioError, load_scenario
from sshjobs.scenario.source import INTERMEDIATE_HEADER, optional_module


def write(tmp_path: Path, text: str, name: str = "s.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


def error_of(path: Path, env: dict | None = None) -> ScenarioError:
    with pytest.raises(ScenarioError) as info:
        load_scenario(path, env)
    text = str(info.value)
    assert "\n" not in text, text
    assert text.startswith(f"{path}:"), text
    return info.value


APSSH_STYLE = """
nodes:
  - id: gateway
    hostname: faraday.example.org
    username: tutorial
    formatter: TimeColonFormatter
    verbose: true
  - id: node1
    hostname: fit01
    username: root
    gateway: gateway
    formatter: ColonFormatter
  - id: local
    localnode: true
jobs:
  - id: warmup
    node: gateway
    critical: true
    label: "  warming up  "
    commands:
      - type: Run
        command: echo   "a  b"
      - type: RunScript
        command: ./foo.sh arg1 arg2
        includes: [inc.sh]
  - id: ping
    node: node1
    required: warmup
    commands:
      - {type: Run, argv: [ping, -c, 1, 10.0.0.2], label: ping}
      - {type: RunString, script_body: "echo hi", args: [x, y], remote_name: hello}
      - {type: Push, localpaths: [file1], remotepath: "."}
      - {type: Pull, remotepaths: file1, localpath: file1.pulled}
  - id: local
    node: local
    required: [ping, warmup]
    commands:
      - type: RunScript
        local_script: ./bar.sh
        args: [1, 2]
"""


def test_apssh_format_is_understood(tmp_path):
    scenario = load_scenario(write(tmp_path, APSSH_STYLE))
    assert list(scenario.nodes) == ["gateway", "node1", "local"]
    assert scenario.nodes["node1"].gateway == "gateway"
    assert scenario.nodes["node1"].formatter == "ColonFormatter"
    assert scenario.nodes["gateway"].verbose is True
    assert scenario.nodes["local"].local and scenario.nodes["local"].hostname is None
    warmup = scenario.jobs["warmup"]
    assert warmup.label == "warming up" and warmup.critical is True
    run, script = warmup.commands
    assert (run.type, run.args) == ("Run", ['echo   "a  b"'])  # whole text, spacing kept
    assert (script.type, script.args) == ("RunScript", ["./foo.sh", "arg1", "arg2"])
    assert script.kwargs == {"includes": ["inc.sh"]}
    ping = scenario.jobs["ping"]
    assert ping.required == ["warmup"]
    argv, body, push, pull = ping.commands
    assert argv.args == ["ping", "-c", 1, "10.0.0.2"] and argv.kwargs == {"label": "ping"}
    assert body.args == ["echo hi", "x", "y"] and body.kwargs == {"remote_name": "hello"}
    assert push.kwargs == {"localpaths": ["file1"], "remotepath": "."}
    assert pull.kwargs == {"remotepaths": "file1", "localpath": "file1.pulled"}
    assert scenario.jobs["local"].required == ["ping", "warmup"]
    assert scenario.jobs["local"].commands[0].args == ["./bar.sh", 1, 2]


def test_extensions_scheduler_forever_forward_references_node_options(tmp_path):
    path = write(
        tmp_path,
        """
        scheduler: {timeout: 30, window: 4, critical: false, label: demo,
                    on_failed_requirement: skip}
        nodes:
          n1: {hostname: 10.0.0.1, gateway: gw, port: 2222, keys: k1, host_key: accept-new}
          gw: {hostname: gw.example.org, known_hosts: /tmp/kh, timeout: 5}
        services:
          - {id: web, command: "sleep 100", environ: {PORT: 8000}, stop_if_running: false}
        jobs:
          - id: first
            node: n1
            required: [later]
            forever: true
            timeout: 2.5
            retries: 2
            backoff: 0
            on_failed_requirement: run
            commands: echo one
          - id: later
            node: gw
            command:
              - {type: Service, service: web, action: start, label: go}
              - uptime
        """,
    )
    scenario = load_scenario(path)
    assert scenario.scheduler.timeout == 30 and scenario.scheduler.jobs_window == 4
    assert scenario.scheduler.critical is False and scenario.scheduler.label == "demo"
    n1, gw = scenario.nodes["n1"], scenario.nodes["gw"]
    assert (n1.port, n1.keys, n1.host_key, n1.gateway) == (2222, ["k1"], "accept-new", "gw")
    assert (gw.known_hosts, gw.timeout) == ("/tmp/kh", 5)
    assert scenario.services["web"].environ == {"PORT": "8000"}
    assert scenario.services["web"].stop_if_running is False
    first, later = scenario.jobs["first"], scenario.jobs["later"]
    assert first.forever is True and first.required == ["later"]
    assert (first.timeout, first.retries, first.backoff) == (2.5, 2, 0)
    assert first.on_failed_requirement == "run"
    assert scenario.scheduler.on_failed_requirement == "skip"
    assert first.commands[0].args == ["echo one"]
    service, plain = later.commands
    assert (service.type, service.service, service.action) == ("Service", "web", "start")
    assert service.kwargs == {"label": "go"}
    assert (plain.type, plain.args) == ("Run", ["uptime"])


def test_jinja_variables_and_loops(tmp_path):
    path = write(
        tmp_path,
        """
        nodes:
        {% for i in range(n|int) %}
          - {id: node{{i}}, hostname: "{{ prefix }}{{ i }}"}
        {% endfor %}
        jobs:
          - {id: j, node: node0, commands: "echo {{ message }}"}
        """,
        name="s.yaml.j2",
    )
    scenario = load_scenario(path, {"n": "3", "prefix": "fit", "message": "hello"})
    assert [n.hostname for n in scenario.nodes.values()] == ["fit0", "fit1", "fit2"]
    assert scenario.jobs["j"].commands[0].args == ["echo hello"]


def test_save_intermediate(tmp_path):
    path = write(tmp_path, "nodes: [{id: a, hostname: '{{h}}'}]\njobs: []\n", name="s.yaml.j2")
    load_scenario(path, {"h": "x"}, save_intermediate=True)
    saved = (tmp_path / "s.yaml").read_text()
    assert saved.startswith(INTERMEDIATE_HEADER.format(source=str(path)))
    assert "hostname: 'x'" in saved
    other = tmp_path / "out.yaml"
    load_scenario(path, {"h": "y"}, save_intermediate=str(other))
    assert "hostname: 'y'" in other.read_text()
    plain = write(tmp_path, "nodes: [{id: a, hostname: '{{h}}'}]\njobs: []\n", name="p.yaml")
    load_scenario(plain, {"h": "z"}, save_intermediate=True)
    assert "hostname: 'z'" in (tmp_path / "p.yaml.tmp").read_text()


def test_plain_file_is_not_rendered_without_variables(tmp_path):
    # no Jinja2 marker, no variable: the text is parsed as is (a lone '{' is YAML flow syntax)
    path = write(tmp_path, "nodes: {a: {hostname: h}}\njobs: [{id: j, node: a, commands: ls}]\n")
    assert load_scenario(path).nodes["a"].hostname == "h"


# --- bad input: one line naming the file, the line and the key ---------------------------


def test_invalid_yaml_names_the_line(tmp_path):
    path = write(
        tmp_path,
        """
        nodes:
          - id: a
            hostname: h
        jobs:
          - id: j
            node: a
           commands: [ls]
        """,
    )
    error = error_of(path)
    assert error.line == 7 and "invalid YAML" in str(error)


def test_undefined_variable_names_the_line(tmp_path):
    path = write(
        tmp_path,
        """
        nodes:
          - id: a
            hostname: "{{ host }}"
        jobs: []
        """,
    )
    error = error_of(path, {"other": "1"})
    assert error.line == 3
    assert "'host' is undefined" in str(error) and "-D" in str(error)
    # the same without any variable: the Jinja2 marker alone triggers rendering
    assert error_of(path).line == 3


def test_template_syntax_error_names_the_line(tmp_path):
    path = write(tmp_path, "nodes: []\n{% for %}\njobs: []\n")
    error = error_of(path, {"x": "1"})
    assert error.line == 2 and "template" in str(error)


def test_requirement_naming_no_job(tmp_path):
    path = write(
        tmp_path,
        """
        nodes: [{id: a, hostname: h}]
        jobs:
          - id: j1
            node: a
            commands: ls
          - id: j2
            node: a
            required:
              - j1
              - nope
            commands: ls
        """,
    )
    error = error_of(path)
    assert (error.line, error.key) == (10, "required")
    assert str(error) == f"{path}:10: required: job 'j2' requires 'nope', but no job has that id"


def test_node_without_hostname(tmp_path):
    path = write(
        tmp_path,
        """
        nodes:
          - id: a
            hostname: h
          - id: b
            username: root
        jobs: []
        """,
    )
    error = error_of(path)
    assert (error.line, error.key) == (4, "hostname")
    assert "node 'b' has no hostname" in str(error)


@pytest.mark.parametrize(
    ("text", "line", "key", "words"),
    [
        ("jobs: []\n", 1, "nodes", "missing top-level key"),
        ("", 1, None, "empty scenario"),
        ("- a\n- b\n", 1, None, "must be a mapping"),
        ("nodes: []\njobs: []\nextra: 1\n", 3, "extra", "unknown key in the scenario"),
        ("nodes: [{id: a, hostname: h, hostnme: x}]\njobs: []\n", 1, "hostnme", "unknown key"),
        ("nodes: [{id: a, hostname: h, port: x}]\njobs: []\n", 1, "port", "expected int"),
        ("nodes: [{id: a, hostname: h, port: 70000}]\njobs: []\n", 1, "port", "between 1"),
        ("nodes: [{id: a, hostname: h, host_key: maybe}]\njobs: []\n", 1, "host_key", "strict"),
        ("nodes: [{id: a, localnode: true, username: r}]\njobs: []\n", 1, "username", "localnode"),
        (
            "nodes:\n - {id: a, hostname: h}\n - {id: a, hostname: g}\njobs: []\n",
            3,
            "id",
            "duplicate node id 'a' (first at line 2)",
        ),
        ("nodes: {a: {hostname: h, hostname: g}}\njobs: []\n", 1, "hostname", "duplicate key"),
        ("nodes: [{id: a, hostname: h, gateway: b}]\njobs: []\n", 1, "gateway", "no node has id"),
        (
            "nodes:\n - {id: a, hostname: h, gateway: b}\n - {id: b, hostname: g, gateway: a}\n"
            "jobs: []\n",
            2,
            "gateway",
            "gateway cycle: a -> b -> a",
        ),
        (
            "nodes: [{id: a, localnode: true}, {id: b, hostname: g, gateway: a}]\njobs: []\n",
            1,
            "gateway",
            "local node cannot be a gateway",
        ),
        (
            "nodes: [{id: a, hostname: h}]\njobs:\n - {id: j, node: b, commands: ls}\n",
            3,
            "node",
            "no node has id 'b'",
        ),
        (
            "nodes: [{id: a, hostname: h}]\njobs:\n - {id: j, node: a}\n",
            3,
            "commands",
            "has no commands",
        ),
        (
            "nodes: [{id: a, hostname: h}]\njobs:\n - id: j\n   node: a\n   commands:\n"
            "    - {type: Rnu, command: ls}\n",
            6,
            "type",
            "unknown command type 'Rnu'",
        ),
        (
            "nodes: [{id: a, hostname: h}]\njobs:\n - id: j\n   node: a\n   commands:\n"
            "    - {type: Run}\n",
            6,
            "argv",
            "needs 'command' or 'argv'",
        ),
        (
            "nodes: [{id: a, hostname: h}]\njobs:\n - id: j\n   node: a\n   commands:\n"
            "    - {type: Service, service: s, action: start}\n",
            6,
            "service",
            "no service has id",
        ),
        (
            "nodes: [{id: a, hostname: h}]\nservices: [{id: s, command: x}]\njobs:\n - id: j\n"
            "   node: a\n   commands:\n    - {type: Service, service: s, action: kick}\n",
            7,
            "action",
            "action",
        ),
        (
            "nodes: [{id: a, hostname: h}]\njobs:\n - {id: j, node: a, commands: ls, forever: 1}\n",
            3,
            "forever",
            "expected bool",
        ),
        ("scheduler: {timeout: -1}\nnodes: []\njobs: []\n", 1, "timeout", "positive"),
        (
            "scheduler: {on_failed_requirement: maybe}\nnodes: []\njobs: []\n",
            1,
            "on_failed_requirement",
            "run, skip",
        ),
        (
            "nodes: [{id: a, hostname: h}]\njobs:\n - {id: j, node: a, commands: ls, timeout: 0}\n",
            3,
            "timeout",
            "positive",
        ),
        (
            "nodes: [{id: a, hostname: h}]\n"
            "jobs:\n - {id: j, node: a, commands: ls, retries: -1}\n",
            3,
            "retries",
            "negative",
        ),
        (
            "nodes: [{id: a, hostname: h}]\njobs:\n - {id: j, node: a, commands: ls, retries: x}\n",
            3,
            "retries",
            "expected int",
        ),
        (
            "scheduler: {window: 2, jobs_window: 3}\nnodes: []\njobs: []\n",
            1,
            "jobs_window",
            "either",
        ),
        (
            "nodes: [{id: a, hostname: h}]\njobs:\n - {id: x, node: a, commands: ls, required: y}\n"
            " - {id: y, node: a, commands: ls, required: [x]}\n",
            3,
            "required",
            "requirement cycle: x -> y -> x",
        ),
    ],
)
def test_bad_input(tmp_path, text, line, key, words):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    error = error_of(path)
    assert (error.line, error.key) == (line, key), str(error)
    assert words in str(error)


def test_unreadable_file(tmp_path):
    error = error_of(tmp_path / "missing.yaml")
    assert "cannot read" in str(error) and error.line is None


def test_missing_optional_module_says_how_to_install():
    with pytest.raises(ScenarioError, match=r"pip install 'sshjobs\[scenario\]'"):
        optional_module("no_such_module_for_sshjobs", "f.yaml")


def test_scenario_error_is_an_sshjobs_error():
    from sshjobs.errors import SshJobsError

    error = ScenarioError("bad", filename="f.yaml", line=3, key="k")
    assert isinstance(error, SshJobsError) and error.host is None
    assert str(error) == "f.yaml:3: k: bad"


def test_anchors_merge_keys_and_x_sections(tmp_path):
    path = write(
        tmp_path,
        """
        x-defaults: &defaults {username: root, port: 2222}
        nodes:
          - <<: *defaults
            id: a
            hostname: h1
          - <<: *defaults
            id: b
            hostname: h2
            port: 22          # overrides the merged value: not a duplicate
        jobs: []
        """,
    )
    nodes = load_scenario(path).nodes
    assert (nodes["a"].username, nodes["a"].port) == ("root", 2222)
    assert nodes["b"].port == 22


def test_error_lines_after_a_template_that_moves_lines_say_so(tmp_path):
    path = write(
        tmp_path,
        """
        nodes:
        {% for i in range(3) %}
          - {id: n{{ i }}, hostname: h{{ i }}}
        {% endfor %}
          - {id: bad}
        jobs: []
        """,
    )
    error = error_of(path, {"x": "1"})
    assert "rendered template" in str(error) and error.key == "hostname"
    # no such note when rendering keeps the lines where they are
    same = write(tmp_path, "nodes:\n  - {id: '{{ x }}'}\njobs: []\n", name="same.yaml")
    error = error_of(same, {"x": "n"})
    assert error.line == 2 and "rendered" not in str(error)
