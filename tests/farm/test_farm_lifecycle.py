"""Farms remove everything they created: on close, on SIGTERM, and (swept) after a SIGKILL.
Also: the loopback fallback and the safety route."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from fixtures import registry
from fixtures.farm import Farm, FarmError, sweep_stale
from fixtures.network import is_zombie

TESTS = Path(__file__).resolve().parents[1]


def alive(pid):
    return os.path.exists(f"/proc/{pid}") and not is_zombie(pid)


def identity(path):
    try:
        return os.stat(path).st_ino
    except OSError:
        return None


def snapshot(record):
    """What identifies this farm's objects, so that a newer farm reusing the same instance
    number (other test sessions run at the same time) is not taken for a leftover."""
    return {
        "record": dict(record),
        "netns": {ns: identity(f"/run/netns/{ns}") for ns in record["netns"]},
        "links": {link: identity(f"/sys/class/net/{link}/ifindex") for link in record["links"]},
        "dir": identity(record["dir"]),
    }


def leftovers(snap):
    """Whatever of a farm (as snapshotted while it ran) still exists on the machine."""
    record = snap["record"]
    found = [
        f"netns {ns}"
        for ns, ino in snap["netns"].items()
        if ino and identity(f"/run/netns/{ns}") == ino
    ]
    found += [
        f"pid {pid}"
        for pid in record["pids"]
        if alive(pid) and record["dir"].encode() in Path(f"/proc/{pid}/cmdline").read_bytes()
    ]
    if snap["dir"] and identity(record["dir"]) == snap["dir"]:
        found.append(f"dir {record['dir']}")
    current = registry.load(record["instance"])
    if (
        current is not None
        and current["owner_pid"] == record["owner_pid"]
        and current["owner_start"] == record["owner_start"]
    ):
        found.append("record")
    if current is None:  # nobody else owns this number now: its links and route must be gone
        found += [
            f"link {link}" for link in record["links"] if os.path.exists(f"/sys/class/net/{link}")
        ]
        routes = subprocess.run(
            ["ip", "route", "show", "type", "unreachable"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout
        found += [f"route {route}" for route in record["routes"] if route + " " in routes + " "]
    return found


def test_close_removes_everything_including_sessions():
    farm = Farm(direct=1, private=1)
    record = dict(farm._record)
    snap = snapshot(record)
    try:
        if farm.isolated:
            routes = subprocess.run(
                ["ip", "route", "show", "type", "unreachable"], capture_output=True, text=True
            ).stdout
            assert record["routes"][0] in routes  # the safety route is in place
        session = subprocess.Popen(
            farm.ssh_argv(farm.private[0], "echo up; sleep 300"),
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert session.stdout.readline() == "up\n"
        sleeper = [
            pid for pid, cmd in farm.processes(farm.private[0]).items() if "sleep 300" in cmd
        ]
        assert sleeper
    finally:
        farm.close()
    assert session.wait(10) == 255
    session.stdout.close()
    assert not os.path.exists(f"/proc/{sleeper[0]}")  # killed and reaped
    assert leftovers(snap) == []


def run_farm_process(extra=""):
    code = textwrap.dedent(f"""
        import json, sys, time
        sys.path.insert(0, {str(TESTS)!r})
        from fixtures.farm import Farm, install_signal_handlers
        install_signal_handlers()
        farm = Farm(direct=1, private=1)
        try:
            print(json.dumps(farm._record), flush=True)
            time.sleep(120)
        finally:
            farm.close()
    """)
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    record = json.loads(proc.stdout.readline())
    return proc, snapshot(record)


def test_sigterm_cleans_up():
    proc, record = run_farm_process()
    assert leftovers(record) != []
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) != 0
    proc.stdout.close()
    assert leftovers(record) == []


def test_killed_owner_is_swept_by_the_next_farm():
    proc, record = run_farm_process()
    proc.kill()
    proc.wait()
    proc.stdout.close()
    assert leftovers(record) != []  # SIGKILL: nothing could run
    sweep_stale()  # (each new farm does it too)
    assert leftovers(record) == []


def test_loopback_fallback():
    with Farm(direct=1, private=1, mode="loopback") as farm:
        assert not farm.isolated and "loopback" in farm.isolation_reason
        assert all(h.address.startswith("127.") for h in farm.hosts)
        for host in farm.hosts:
            out = subprocess.run(
                farm.ssh_argv(host, "hostname; echo $PYENV_ROOT"),
                capture_output=True,
                text=True,
                timeout=30,
            )
            assert out.stdout.split() == [host.name], out.stderr
        with pytest.raises(FarmError, match="needs network namespaces"):
            farm.cut(farm.direct[0])
        farm.stop(farm.direct[0])
        assert (
            subprocess.run(farm.ssh_argv(farm.direct[0], "true"), capture_output=True).returncode
            == 255
        )
        farm.start(farm.direct[0])
        assert (
            subprocess.run(farm.ssh_argv(farm.direct[0], "true"), capture_output=True).returncode
            == 0
        )
        snap = snapshot(farm._record)
    assert leftovers(snap) == []


def test_bad_backend_name_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("SSHJOBS_FARM", "vagrant")
    with pytest.raises(FarmError, match="SSHJOBS_FARM='vagrant'"):
        Farm()


def test_pytest_session_stopped_by_sigterm_removes_its_farm(tmp_path):
    """The conftest fixture as used by a real pytest run, terminated in the middle of a test."""
    (tmp_path / "test_hold.py").write_text(
        textwrap.dedent("""
        import json, time
        def test_hold(farm):
            print("RECORD " + json.dumps(farm._record), flush=True)
            time.sleep(60)
    """)
    )
    env = dict(os.environ, PYTHONPATH=str(TESTS))
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pytest",
            "-s",
            "-q",
            "-p",
            "conftest",
            "-p",
            "no:cacheprovider",
            str(tmp_path / "test_hold.py"),
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    with proc:
        for line in proc.stdout:
            if line.startswith("RECORD "):
                record = snapshot(json.loads(line[len("RECORD ") :]))
                break
        else:
            raise AssertionError("the farm did not come up")
        assert leftovers(record) != []
        proc.send_signal(signal.SIGTERM)
        proc.stdout.read()
        assert proc.wait(30) != 0
    assert leftovers(record) == []


def test_automatic_fallback_when_namespaces_are_refused(monkeypatch):
    from fixtures import network

    monkeypatch.delenv("SSHJOBS_FARM", raising=False)
    monkeypatch.setattr(
        network,
        "netns_available",
        lambda: (False, "'ip netns add' refused: Operation not permitted"),
    )
    with Farm(direct=1, private=1) as farm:
        assert farm.mode == "loopback" and not farm.isolated
        assert "no network namespaces" in farm.isolation_reason
        assert "Operation not permitted" in farm.isolation_reason
        out = subprocess.run(
            farm.ssh_argv(farm.private[0], "hostname"),
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert out.stdout.strip() == "private1", out.stderr
    monkeypatch.setenv("SSHJOBS_FARM", "netns")
    with pytest.raises(FarmError, match="SSHJOBS_FARM=netns but 'ip netns add' refused"):
        Farm(direct=1, private=0)
