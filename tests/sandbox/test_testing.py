"""``sshjobs.testing``: the fixtures users import to test their scenarios on sandbox nodes."""
# ruff: noqa: F811 (test parameters are the fixtures imported from sshjobs.testing)

from __future__ import annotations

import asyncio
import gc
import subprocess
import sys
import textwrap
import threading

import asyncssh

from sshjobs.testing import SandboxNodes, ThreadedSandbox, make_sandbox, sandbox_nodes  # noqa: F401

from .helpers import alive, wait_pid_gone


async def _run(nodes: SandboxNodes, index: int, command: str, via_gateway: bool) -> str:
    options = dict(
        username="me",
        client_keys=[str(nodes.client_key)],
        known_hosts=str(nodes.known_hosts),
        config=None,
        agent_path=None,
    )
    node = nodes.nodes[index]
    if not via_gateway:
        async with asyncssh.connect(node.host, node.port, **options) as conn:
            return (await conn.run(command, check=True)).stdout
    gateway = nodes.gateway
    async with (
        asyncssh.connect(gateway.host, gateway.port, **options) as gw,
        asyncssh.connect(node.host, node.port, tunnel=gw, **options) as conn,
    ):
        return (await conn.run(command, check=True)).stdout


def test_sandbox_nodes_serve_synchronous_tests(sandbox_nodes):
    """The fixture's servers run in their own thread: a test may call asyncio.run() itself."""
    assert [node.name for node in sandbox_nodes.nodes] == ["node1", "node2", "node3"]
    assert sandbox_nodes.gateway.name == "gateway"
    for index in range(3):
        out = asyncio.run(
            _run(
                sandbox_nodes,
                index,
                "echo $SSHJOBS_SANDBOX_NODE > mark; cat mark",
                via_gateway=index > 0,
            )
        )
        assert out == f"node{index + 1}\n"
        assert (sandbox_nodes.home(index) / "mark").read_text() == out
    options = sandbox_nodes.node_options(sandbox_nodes.nodes[1])
    assert options["port"] == sandbox_nodes.nodes[1].port
    assert options["keys"] == [str(sandbox_nodes.client_key)]


def test_make_sandbox_sizes_and_stops(make_sandbox):
    small = make_sandbox(1, gateway=False)
    assert small.gateway is None and len(small.nodes) == 1
    assert len(make_sandbox(5).nodes) == 5


def test_stopping_kills_leftovers_and_the_thread(tmp_path):
    before = {thread.name for thread in threading.enumerate()}
    with ThreadedSandbox(tmp_path, 1) as nodes:
        assert "sshjobs-sandbox" in {thread.name for thread in threading.enumerate()} - before
        out = asyncio.run(_run(nodes, 0, "sleep 60 </dev/null >/dev/null 2>&1 & echo $!", False))
        orphan = int(out)
        assert alive(orphan)
    asyncio.run(wait_pid_gone(orphan))
    assert "sshjobs-sandbox" not in {thread.name for thread in threading.enumerate()} - before


def test_a_user_project_uses_the_plugin(tmp_path):
    """As documented in docs/sandbox.md: pytest_plugins in a conftest, a test taking
    sandbox_nodes."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "pytest.ini").write_text("[pytest]\nfilterwarnings = error\n")
    (project / "conftest.py").write_text('pytest_plugins = ["sshjobs.testing"]\n')
    (project / "test_mine.py").write_text(
        textwrap.dedent("""
        import asyncio, asyncssh

        def test_mine(sandbox_nodes):
            node = sandbox_nodes.nodes[2]
            async def main():
                async with asyncssh.connect(
                        node.host, node.port, username="me", config=None, agent_path=None,
                        client_keys=[str(sandbox_nodes.client_key)],
                        known_hosts=str(sandbox_nodes.known_hosts)) as conn:
                    return await conn.run("pwd; exit 5")
            result = asyncio.run(main())
            assert (result.exit_status, result.stdout.strip()) == (5, str(node.home))
    """)
    )
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(project)],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout


def test_the_readme_example_with_the_library(sandbox_nodes):
    """The example of docs/sandbox.md: SshNode objects from the fixture, a scheduler run
    synchronously."""
    from asynciojobs import Scheduler
    from sshjobs import Run, SshJob

    gateway = sandbox_nodes.gateway_ssh_node()
    nodes = sandbox_nodes.ssh_nodes(gateway=gateway)
    jobs = [SshJob(node, command=Run("echo $SSHJOBS_SANDBOX_NODE > mark")) for node in nodes]
    assert Scheduler(*jobs).run()
    assert [(sandbox_nodes.home(i) / "mark").read_text() for i in range(3)] == [
        "node1\n",
        "node2\n",
        "node3\n",
    ]
    failing = SshJob(nodes[1], command=Run("exit 7"), critical=True)
    assert not Scheduler(failing, critical=True).run()


def test_library_timeouts_and_cancellations_leave_no_process_on_a_node(sandbox_nodes):
    """The library's own killing (timeout of a command) works on sandbox nodes as on sshd."""
    from asynciojobs import Scheduler
    from sshjobs import Run, SshJob

    node = sandbox_nodes.ssh_nodes()[0]
    job = SshJob(
        node, critical=False, command=Run("sleep 60 & echo $! > sleeper.pid; wait", timeout=0.5)
    )
    Scheduler(job).run()
    pid = int((sandbox_nodes.home(0) / "sleeper.pid").read_text())
    asyncio.run(wait_pid_gone(pid))
    assert not alive(pid)


def test_stopping_with_commands_running_reaps_them(tmp_path):
    """stop() while a client still runs commands: all killed and reaped before the loop ends."""
    threaded = ThreadedSandbox(tmp_path, 1)
    nodes = threaded.start()
    loop = asyncio.new_event_loop()
    try:

        async def start_commands():
            conn = await asyncssh.connect(
                nodes.nodes[0].host,
                nodes.nodes[0].port,
                username="me",
                config=None,
                agent_path=None,
                client_keys=[str(nodes.client_key)],
                known_hosts=str(nodes.known_hosts),
            )
            processes = [await conn.create_process("sleep 60 & echo $!; wait") for _ in range(3)]
            return conn, [int(await process.stdout.readline()) for process in processes]

        conn, children = loop.run_until_complete(start_commands())
        threaded.stop()  # the client loop is idle meanwhile: the server side does it all
        gc.collect()  # an unreaped subprocess transport would warn (an error here)
        loop.run_until_complete(conn.wait_closed())
        for child in children:
            loop.run_until_complete(wait_pid_gone(child))
    finally:
        loop.close()
