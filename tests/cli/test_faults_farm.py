"""Exit codes and one-line errors when hosts fail in the ways fleets do: a silent host
(connect timeout), a gateway down, a changed host key. Faults are undone after each test."""

from __future__ import annotations

from fixtures.cli import sshjobs


def test_silent_host_is_unreachable_after_connect_timeout(isolated_farm):
    farm = isolated_farm
    try:
        farm.blackhole(farm.direct[1])
        # only the silent host: a healthy one could miss a 1 s connect timeout on a busy box
        result = sshjobs("run", "-c", "1", "-t", farm.direct[1].name, "--", "hostname")
    finally:
        farm.reset()
    assert result.exit_code == 3
    assert result.stdout == ""
    [error] = result.stderr.splitlines()
    assert error.startswith(f"sshjobs: {farm.direct[1].name}: unreachable")


def test_gateway_down_makes_hosts_behind_it_unreachable(faulty_farm):
    farm = faulty_farm
    farm.stop(farm.gateway)
    result = sshjobs("run", "-t", f"gateway->private[1-2],{farm.direct[0].name}", "--", "true")
    assert result.exit_code == 3
    errors = sorted(result.stderr.splitlines())
    assert [e.split(":")[1].strip() for e in errors] == ["private1", "private2"]
    assert all("unreachable" in e and "gateway" in e for e in errors), errors


def test_changed_host_key_is_refused_then_accepted_with_ignore(faulty_farm):
    farm, host = faulty_farm, faulty_farm.direct[0]
    farm.replace_host_key(host)
    refused = sshjobs("run", "-t", host.name, "--", "true")
    assert refused.exit_code == 3
    [error] = refused.stderr.splitlines()
    assert error.startswith(f"sshjobs: {host.name}: unreachable") and "key" in error.lower()
    accepted_new = sshjobs("run", "--host-keys", "accept-new", "-t", host.name, "--", "true")
    assert accepted_new.exit_code == 3  # accept-new never accepts a *changed* key
    ignored = sshjobs("run", "--host-keys", "ignore", "-t", host.name, "--", "true")
    assert ignored.exit_code == 0, ignored.stderr


def test_authentication_failure_is_exit_3(farm):
    host = farm.direct[0].name
    result = sshjobs("run", "-l", "nosuchuser", "-t", host, "--", "true")
    assert result.exit_code == 3
    [error] = result.stderr.splitlines()
    assert error.startswith(f"sshjobs: {host}: unreachable") and "auth" in error.lower(), error
