"""apssh-style scripts (tests/compat/apssh_*.py) run unchanged on the farm."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_apssh_gateway_scenario(farm, tmp_path):
    script = ROOT / "tests" / "compat" / "apssh_gateway_scenario.py"
    env = {**os.environ, "HOME": str(farm.home), "PYTHONPATH": str(ROOT)}
    env.pop("SSH_AUTH_SOCK", None)
    proc = subprocess.run(
        [
            sys.executable,
            str(script),
            farm.gateway.address,
            *[h.address for h in farm.private[:2]],
            "--port",
            str(farm.gateway.port),
            "--workdir",
            str(tmp_path),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert f"{farm.gateway.address}:gateway is up" in out
    for index, host in enumerate(farm.private[:2]):
        assert f"{host.address}:node {index} has payload" in out
        assert (tmp_path / f"back{index}.txt").read_text() == "payload\n"
    assert "LOCALNODE:locally: payload" in out
    assert f"{farm.private[0].address}:payload" not in out  # captured, not printed
