"""Every code block of README.md and docs/getting-started.md runs, against sandbox nodes.

The blocks are written for the reader's own hosts, named ``host1``, ``host2``, ``host3``. The
test gives them a home of their own (``HOME`` in a temporary directory) whose
``~/.ssh/config`` points these three names at sandbox nodes (``sshjobs.sandbox``) — exactly
what a user's ssh config does for real hosts — and nothing else is rewritten, except:

- ``bin/...`` commands run from this checkout (the blocks run in a scratch directory);
- the lines listed in ``NOT_RUN`` are checked another way, for the reason given there.

Each block runs in a fresh process (``python`` blocks with this interpreter, ``bash`` blocks
with ``bash -e``), in the order of the file, all sharing one scratch directory and HOME.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from sshjobs.sandbox import ThreadedSandbox

TOP = Path(__file__).resolve().parents[2]
PAGES = ["README.md", "docs/getting-started.md"]
HOSTS = ["host1", "host2", "host3"]

#: lines of bash blocks that are not run, and why (each is checked another way below)
NOT_RUN = {
    "bin/run-tests": "it is the command that runs this very test",
    "pip install": "installing is what bin/setup did before the tests: the extras named are "
    "checked against pyproject.toml instead",
}

#: what the examples print when every host did its part
SUCCESS_MESSAGES = ["every host answered"]

FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```\s*$", re.M | re.S)


def code_blocks(page: str) -> list[tuple[str, str]]:
    """``(language, code)`` of each fenced block of ``page``."""
    return [(m.group(1), m.group(2)) for m in FENCE.finditer((TOP / page).read_text())]


def blocks_params() -> list:
    return [
        pytest.param(page, index, id=f"{page}#{index}")
        for page in PAGES
        for index, _ in enumerate(code_blocks(page))
    ]


def skipped(line: str) -> str | None:
    return next((why for start, why in NOT_RUN.items() if line.strip().startswith(start)), None)


@pytest.fixture(scope="module")
def reader(tmp_path_factory: pytest.TempPathFactory):
    """A reader's world: HOME whose ssh config names host1..3 (sandbox nodes), a scratch dir."""
    top = tmp_path_factory.mktemp("reader")
    home, work, tmp = top / "home", top / "work", top / "tmp"
    for path in (home / ".ssh", work, tmp):
        path.mkdir(parents=True)
    with ThreadedSandbox(top / "sandbox", len(HOSTS), gateway=False) as sandbox:
        config = []
        for name, node in zip(HOSTS, sandbox.nodes, strict=True):
            config += [
                f"Host {name}",
                f"    HostName {node.host}",
                f"    Port {node.port}",
                "    User reader",
                f"    IdentityFile {sandbox.client_key}",
                f"    UserKnownHostsFile {sandbox.known_hosts}",
                "",
            ]
        (home / ".ssh" / "config").write_text("\n".join(config))
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("SSHJOBS_", "SSH_AUTH_SOCK", "PYTEST_"))
        }
        env.update(
            HOME=str(home),
            TMPDIR=str(tmp),
            NO_COLOR="1",
            PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        )
        yield {"env": env, "work": work, "sandbox": sandbox, "home": home}
        # a block that failed half-way may have left 'sshjobs sandbox up' running
        subprocess.run(
            ["sshjobs", "sandbox", "down"], env=env, cwd=work, capture_output=True, timeout=60
        )


def run_block(language: str, code: str, reader: dict) -> subprocess.CompletedProcess:
    if language == "python":
        argv = [sys.executable, "-c", code]
    elif language == "bash":
        lines = [line for line in code.splitlines() if not skipped(line)]
        lines = [re.sub(r"^bin/", f"{TOP}/bin/", line) for line in lines]
        argv = ["bash", "-e", "-o", "pipefail", "-c", "\n".join(lines)]
    else:
        pytest.fail(
            f"a code block in {language or 'no language'}: this test runs python and "
            "bash blocks only; give it one of those or make it a quoted text"
        )
    return subprocess.run(
        argv,
        env=reader["env"],
        cwd=reader["work"],
        capture_output=True,
        text=True,
        timeout=240,
        stdin=subprocess.DEVNULL,
    )


@pytest.mark.parametrize(("page", "index"), blocks_params())
def test_code_block_runs(page: str, index: int, reader: dict) -> None:
    language, code = code_blocks(page)[index]
    result = run_block(language, code, reader)
    assert result.returncode == 0, (
        f"{page} block {index} ({language}) failed, exit "
        f"{result.returncode}:\n{code}\n--- stdout\n{result.stdout}"
        f"\n--- stderr\n{result.stderr}"
    )
    for success in SUCCESS_MESSAGES:  # a block that says how it went must say it went well
        if success in code:
            assert success in result.stdout, f"{page} block {index}:\n{result.stdout}"


def test_the_host_examples_really_reach_the_sandbox_nodes(reader: dict) -> None:
    """The blocks written for host1..3 did run on them: getting-started's example left a report
    in each node's home and pulled it back (a block that did nothing would fail here)."""
    code = next(
        code
        for language, code in code_blocks("docs/getting-started.md")
        if language == "python" and '"host1", "host2", "host3"' in code
    )
    assert run_block("python", code, reader).returncode == 0
    for name, node in zip(HOSTS, reader["sandbox"].nodes, strict=True):
        assert "Linux" in (node.home / "report.txt").read_text()
        assert (reader["work"] / f"report-{name}.txt").read_text() == (
            node.home / "report.txt"
        ).read_text()


def test_the_lines_not_run_are_what_they_claim() -> None:
    """``pip install`` lines name extras that exist; ``bin/run-tests`` is what .ci/run runs."""
    extras = tomllib.loads((TOP / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    seen = set()
    for page in PAGES:
        for _language, code in code_blocks(page):
            for line in code.splitlines():
                if skipped(line):
                    seen.add(line.split()[0] + (" " + line.split()[1] if "pip" in line else ""))
                for extra in re.findall(r"pip install '\.\[(\w+)\]'", line):
                    assert extra in extras, f"{page}: pip install names an unknown extra {extra}"
    assert "bin/run-tests" in (TOP / ".ci" / "run").read_text()
    assert seen == {"bin/run-tests", "pip install"}, seen
