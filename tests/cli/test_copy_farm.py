"""``sshjobs push`` / ``sshjobs pull`` against the farm: {host} expansion, -r, bad input."""

from __future__ import annotations

import contextlib
import os

from fixtures.cli import sshjobs


def test_push_expands_host_in_local_and_remote_paths(tmp_path, farm):
    names = [h.name for h in farm.direct]
    for name in names:
        (tmp_path / f"conf-{name}").write_text(f"for {name}\n")
    result = sshjobs(
        "push", "-t", ",".join(names), tmp_path / "conf-{host}", "@:/tmp/pushed-{host}.conf"
    )
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    for name in names:
        pushed = farm.tmp_of(name) / f"pushed-{name}.conf"
        assert pushed.read_text() == f"for {name}\n"
        pushed.unlink()


def test_push_directory_needs_r(tmp_path, farm):
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "sub" / "leaf").write_text("leaf\n")
    host = farm.direct[0].name
    refused = sshjobs("push", "-t", host, tree, "@:/tmp/")
    assert refused.exit_code == 2 and "use -r" in refused.stderr
    result = sshjobs("push", "-r", "-t", host, tree, "@:/tmp/")
    assert result.exit_code == 0, result.stderr
    assert (farm.tmp_of(host) / "tree" / "sub" / "leaf").read_text() == "leaf\n"


def test_pull_with_host_field_keeps_files_apart(tmp_path, farm):
    count = len(farm.private)
    for host in farm.private:
        (farm.tmp_of(host) / "whoami").write_text(f"{host.name}\n")
    try:
        result = sshjobs(
            "pull",
            "-t",
            f"gateway->private[1-{count}]",
            "@:/tmp/whoami",
            tmp_path / "logs" / "{host}.txt",
        )
    finally:
        for host in farm.private:
            (farm.tmp_of(host) / "whoami").unlink()
    assert result.exit_code == 0, result.stderr
    for host in farm.private:
        assert (tmp_path / "logs" / f"{host.name}.txt").read_text() == f"{host.name}\n"


def test_pull_refuses_to_overwrite_one_file_from_many_hosts(tmp_path, farm):
    names = ",".join(h.name for h in farm.direct)
    result = sshjobs("pull", "-t", names, "@:/etc/hostname", tmp_path / "same")
    assert result.exit_code == 2
    assert "put {host} in it" in result.stderr


def test_pull_missing_remote_file_fails_that_host_only(tmp_path, farm):
    first, second = farm.direct[0].name, farm.direct[1].name
    (farm.tmp_of(first) / "only-here").write_text("here\n")
    try:
        result = sshjobs("pull", "-t", f"{first},{second}", "@:/tmp/only-here", tmp_path / "{host}")
    finally:
        (farm.tmp_of(first) / "only-here").unlink()
    assert result.exit_code == 1
    assert (tmp_path / first).read_text() == "here\n"
    [error] = result.stderr.splitlines()
    assert error.startswith(f"sshjobs: {second}: ")


def test_transfer_timeout_exit_4(tmp_path, farm):
    host = farm.direct[0]
    fifo = farm.tmp_of(host) / "cli-fifo"
    os.mkfifo(fifo)  # no writer: the remote SFTP server blocks opening it
    try:
        result = sshjobs(
            "pull", "--timeout", "1", "-t", host.name, "@:/tmp/cli-fifo", tmp_path / "got"
        )
    finally:
        with contextlib.suppress(OSError):  # release the blocked server, then clean up
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        fifo.unlink()
    assert result.exit_code == 4, result.stderr
    [error] = result.stderr.splitlines()
    assert error.startswith(f"sshjobs: {host.name}: timed out")
