"""The docker backend, as far as it can be checked without a Docker engine: the compose file
describes the farm's topology, the image takes its keys at run time, and a missing engine is a
clear error."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from fixtures.docker_farm import COMPOSE_FILE, DIRECT, PRIVATE, DockerFarm, engine_problem
from fixtures.farm import FarmError

DOCKER = COMPOSE_FILE.parent


def test_compose_topology():
    compose = yaml.safe_load(COMPOSE_FILE.read_text())
    services, networks = compose["services"], compose["networks"]
    assert set(services) == {"gateway", *DIRECT, *PRIVATE}
    assert networks["netb"]["internal"] is True and not networks["neta"].get("internal")
    assert sorted(services["gateway"]["networks"]) == ["neta", "netb"]
    for name, service in services.items():
        assert service["hostname"] == name and service["environment"]["FARM_HOST"] == name
        assert service["volumes"][0].endswith(":/farm")
        if name in PRIVATE:
            assert service["networks"] == ["netb"] and "ports" not in service
        else:
            # published on loopback only, random host port (several farms at once)
            assert service["ports"] == ["127.0.0.1::22"]
        if name in DIRECT:
            assert service["networks"] == ["neta"]


def test_image_gets_keys_at_run_time():
    dockerfile = (DOCKER / "Dockerfile").read_text()
    assert "openssh-server" in dockerfile and "farmuser" in dockerfile
    assert "ssh_host_*" in dockerfile  # no host key baked into the image
    entrypoint = (DOCKER / "entrypoint.sh").read_text()
    assert "/farm/keys/$FARM_HOST" in entrypoint and "/farm/authorized_keys" in entrypoint
    assert "/farm/logs/$FARM_HOST.log" in entrypoint
    config = (DOCKER / "sshd_config").read_text()
    assert "PasswordAuthentication no" in config and "LogLevel VERBOSE" in config


def test_missing_engine_is_a_clear_error():
    if engine_problem() is None:
        pytest.skip("a Docker engine answers here")
    with pytest.raises(FarmError, match="SSHJOBS_FARM=docker but"):
        DockerFarm()


def test_compose_file_is_where_the_backend_looks():
    assert Path(__file__).resolve().parents[2] / "docker" / "compose.yaml" == COMPOSE_FILE
