"""bin/sshfarm: a farm started by hand stays up, is listed, answers, and is removed by down."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

CLI = Path(__file__).resolve().parents[1] / "fixtures" / "sshfarm.py"


def sshfarm(*args):
    return subprocess.run(
        [sys.executable, str(CLI), *args], capture_output=True, text=True, timeout=120
    )


def test_up_status_down():
    up = sshfarm("up", "2", "--private", "1")
    assert up.returncode == 0, up.stderr
    comments = [line for line in up.stdout.splitlines() if line.startswith("#")]
    targets = [line for line in up.stdout.splitlines() if not line.startswith("#")]
    instance = comments[0].split()[2]
    try:
        assert len(targets) == 4 and all(t.startswith("root@") for t in targets)
        config = next(w for line in comments for w in line.split() if w.endswith("/config"))
        for name in ("gateway", "direct2", "private1"):
            out = subprocess.run(
                ["ssh", "-F", config, name, "hostname"], capture_output=True, text=True, timeout=30
            )
            assert out.stdout.strip() == name, out.stderr
        status = sshfarm("status")
        assert f"farm {instance}: 4 hosts" in status.stdout
        assert "started by hand, 4 sshd running" in status.stdout
    finally:
        down = sshfarm("down", instance)
    assert down.returncode == 0 and f"farm {instance} removed" in down.stdout
    assert f"farm {instance}:" not in sshfarm("status").stdout
    assert not Path(config).exists()


def test_down_leaves_test_session_farms_alone(farm):
    down = sshfarm("down", str(farm.instance))
    assert down.returncode == 1 and "left alone" in down.stderr
    assert subprocess.run(farm.ssh_argv(farm.gateway, "true")).returncode == 0
