"""Pure parts of issue 16: the groups file grammar, and ``SshNode(ssh_options=...)``."""

from __future__ import annotations

import pytest

from sshjobs import SshNode
from sshjobs.groups import GroupError, load_groups
from sshjobs.sshoptions import SshOptionError, check_ssh_options
from sshjobs.targets import read_spec


def groups_file(tmp_path, text):
    path = tmp_path / "groups"
    path.write_text(text)
    return path


def test_nested_groups_ranges_and_comments(tmp_path, monkeypatch):
    path = groups_file(
        tmp_path,
        "# racks\nrack1: n[01-03]  # first\nrack2: n04, u@n05\nboth: @rack1 @rack2,gw->x\n",
    )
    monkeypatch.setenv("SSHJOBS_GROUPS", str(path))
    assert [str(t) for t in read_spec("@both")] == ["n01", "n02", "n03", "n04", "u@n05", "gw->x"]
    assert load_groups().names() == ["rack1", "rack2", "both"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: @b\nb: @a\n", "group @a includes itself (through @a -> @b -> @a)"),
        ("a: x\na: y\n", "line 2: group a is defined twice"),
        ("just words\n", "line 1: expected 'name: members'"),
    ],
)
def test_bad_groups_files_name_the_file_and_line(tmp_path, text, message):
    path = groups_file(tmp_path, text)
    with pytest.raises(GroupError) as raised:
        load_groups(path).expand("a")
    assert message in str(raised.value) and str(path) in str(raised.value)


def test_missing_groups_file_says_so(tmp_path, monkeypatch):
    monkeypatch.setenv("SSHJOBS_GROUPS", str(tmp_path / "none"))
    with pytest.raises(GroupError, match=r"no groups file: .* does not exist"):
        read_spec("@web")


def test_ssh_options_are_checked_spelled_and_applied():
    assert check_ssh_options({"port": "2222", "stricthostkeychecking": "accept-new"}) == {
        "Port": "2222",
        "StrictHostKeyChecking": "accept-new",
    }
    with pytest.raises(SshOptionError, match="unknown ssh option 'Ciphers'"):
        check_ssh_options({"Ciphers": "aes128-ctr"})  # one we would silently override
    node = SshNode(
        "h",
        config=None,
        ssh_options={
            "User": "bob",
            "ServerAliveInterval": "2",
            "ConnectTimeout": "7",
            "StrictHostKeyChecking": "no",
        },
    )
    assert (node.username, node.keepalive_interval, node.timeout) == ("bob", 2.0, 7.0)
    assert node.host_key_policy.mode == "ignore"
    assert (
        SshNode(
            "h", config=None, ssh_options={"StrictHostKeyChecking": "no"}, host_keys="strict"
        ).host_key_policy.mode
        == "strict"
    )
    assert SshNode("h", config=None).username == "root"  # the library default is unchanged
