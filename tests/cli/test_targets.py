"""Target grammar: literal targets, gateways, ranges, files, directories, exclusions."""

import pytest

from sshjobs.targets import (
    MAX_EXPANSION,
    Target,
    TargetError,
    expand_ranges,
    parse_target,
    read_spec,
    resolve_targets,
    split_specs,
)


def names(targets):
    return [str(t) for t in targets]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("fit[01-03]", ["fit01", "fit02", "fit03"]),
        ("fit[8-11]", ["fit8", "fit9", "fit10", "fit11"]),
        ("fit[08-11]", ["fit08", "fit09", "fit10", "fit11"]),
        ("node[1-3,7]", ["node1", "node2", "node3", "node7"]),
        ("node[7,1]", ["node7", "node1"]),
        ("r[1-2]n[1-2].lab", ["r1n1.lab", "r1n2.lab", "r2n1.lab", "r2n2.lab"]),
        ("plain", ["plain"]),
        ("n[1-7/3]", ["n1", "n4", "n7"]),
        ("n[00-10/5]", ["n00", "n05", "n10"]),
        ("[::1]:2222", ["[::1]:2222"]),
        ("root@fit[1-2]:2200", ["root@fit1:2200", "root@fit2:2200"]),
    ],
)
def test_expand_ranges(text, expected):
    assert expand_ranges(text) == expected


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("fit[05-01]", "05 is greater than 01"),
        ("fit[a-b]", "invalid range"),
        ("fit[1-]", "invalid range"),
        ("fit[]", "invalid range"),
        ("fit[1-9/0]", "step must be"),
        ("fit[1/2]", "invalid range"),
        ("fit[1-3", "unbalanced"),
        ("fit1-3]", "unbalanced"),
        ("fit[0-1000000]", "too large"),
    ],
)
def test_bad_ranges_are_one_line_errors(text, fragment):
    with pytest.raises(TargetError) as info:
        expand_ranges(text)
    assert fragment in str(info.value)
    assert "\n" not in str(info.value)
    assert text in str(info.value)


def test_products_are_bounded():
    with pytest.raises(TargetError, match="expands to"):
        expand_ranges("a[1-1000]b[1-1000]")
    assert MAX_EXPANSION >= 1000


def test_split_keeps_commas_inside_brackets():
    assert split_specs("a,b  c\td\nnode[1-3,7],e") == ["a", "b", "c", "d", "node[1-3,7]", "e"]
    assert split_specs(" , ,") == []


@pytest.mark.parametrize(
    ("token", "host", "user", "port"),
    [
        ("host", "host", None, None),
        ("bob@host", "host", "bob", None),
        ("host:2222", "host", None, 2222),
        ("bob@10.0.0.1:22", "10.0.0.1", "bob", 22),
        ("[::1]:2200", "::1", None, 2200),
        ("fe80::1", "fe80::1", None, None),
    ],
)
def test_endpoints(token, host, user, port):
    target = parse_target(token)
    assert (target.host, target.user, target.port, target.gateway) == (host, user, port, None)
    assert str(target) == token


def test_gateway_chains_with_both_arrows():
    target = parse_target("gw1→alice@gw2:2201->bob@node")
    assert [hop.endpoint for hop in target.chain()] == ["gw1", "alice@gw2:2201", "bob@node"]
    assert str(target) == "gw1->alice@gw2:2201->bob@node"
    assert parse_target(str(target)) == target


def test_none_forces_direct_connection():
    target = parse_target("None->node")
    assert target.direct and target.gateway is None
    assert str(target) == "None->node"
    [resolved] = resolve_targets(["None->node"], gateway="gw")
    assert resolved.gateway is None
    [other] = resolve_targets(["node2"], gateway="gw")
    assert other.gateway == Target("gw")


@pytest.mark.parametrize(
    ("token", "fragment"),
    [
        ("None", "not a target"),
        ("a->None->b", "may only start"),
        ("gw->", "empty hop"),
        ("@host", "empty user"),
        ("host:0", "invalid port"),
        ("host:ssh", "invalid port"),
        ("[::1]x", "unexpected"),
    ],
)
def test_bad_literals(token, fragment):
    with pytest.raises(TargetError, match=fragment):
        parse_target(token)


def test_login_applies_to_hops_without_user():
    [target] = resolve_targets(["gwu@gw->node"], login="me")
    assert str(target) == "gwu@gw->me@node"
    [target] = resolve_targets(["node"], login="me", gateway="gw")
    assert str(target) == "me@gw->me@node"
    [target] = resolve_targets(["root@node"], login="me")
    assert target.user == "root"


def test_file_with_comments_and_several_names_a_line(tmp_path):
    hosts = tmp_path / "hosts"
    hosts.write_text("# the rack\nfit[01-02] fit05, fit07  # broken: fit06\n\n  gw->n1\n")
    assert names(read_spec(str(hosts))) == ["fit01", "fit02", "fit05", "fit07", "gw->n1"]


def test_bad_range_in_file_names_the_file(tmp_path):
    hosts = tmp_path / "hosts"
    hosts.write_text("fit[05-01]\n")
    with pytest.raises(TargetError, match=r"05 is greater than 01.*in file"):
        read_spec(str(hosts))


def test_directory_of_names_as_mark_writes(tmp_path):
    for name in ("fit02", "fit01", "root@n3:2200", ".hidden"):
        (tmp_path / name).write_text("0\n")
    (tmp_path / "subdir").mkdir()
    assert names(read_spec(str(tmp_path))) == ["fit01", "fit02", "root@n3:2200"]


def test_missing_and_unreadable_files(tmp_path):
    with pytest.raises(TargetError, match="no such target file"):
        read_spec(str(tmp_path / "nothere"))
    binary = tmp_path / "binary"
    binary.write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(TargetError, match="cannot read target file"):
        read_spec(str(binary))


def test_exclusions_use_the_same_grammar(tmp_path):
    excluded = tmp_path / "broken"
    excluded.write_text("fit03\n")
    found = resolve_targets(
        ["fit[01-06]", "root@fit07", "bob@fit08"],
        ["fit[05-06]", str(excluded), "bob@fit07", "bob@fit08"],
    )
    assert names(found) == ["fit01", "fit02", "fit04", "root@fit07"]


def test_exclusion_matches_port_only_when_given():
    found = resolve_targets(["h:2201", "h:2202", "k:22"], ["h:2201", "k"])
    assert names(found) == ["h:2202"]


def test_duplicates_kept_once_in_order():
    assert names(resolve_targets(["b,a", "a b c"])) == ["b", "a", "c"]


def test_gateway_must_be_one_host():
    with pytest.raises(TargetError, match="exactly one host"):
        resolve_targets(["a"], gateway="gw[1-2]")


def test_target_errors_belong_to_the_library_hierarchy():
    from sshjobs.errors import SshJobsError

    with pytest.raises(SshJobsError) as info:
        expand_ranges("fit[05-01]")
    assert isinstance(info.value, ValueError) and info.value.host is None


def test_named_lists_in_home_sshjobs(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / ".sshjobs").mkdir()
    (tmp_path / ".sshjobs" / "rack1").write_text("fit[01-02]\n")
    monkeypatch.chdir(tmp_path)
    assert [str(t) for t in read_spec("rack1")] == ["fit01", "fit02"]
    assert [str(t) for t in read_spec("rack2")] == ["rack2"]  # no such list: a host name
    (tmp_path / "rack1").write_text("local\n")  # a file here wins
    assert [str(t) for t in read_spec("rack1")] == ["local"]
