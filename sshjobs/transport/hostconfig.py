"""What the ssh config files say for one host, read with asyncssh's own parser.

asyncssh stays the one interpreter of ``~/.ssh/config``; this module asks it for the options
sshjobs needs before connecting (``User``, ``IdentityFile``, the host-key options, ``ProxyJump``,
``ConnectTimeout``...) and hands it, for the connection itself, either the config already
parsed for the host or per-host reduced copies of the files (:mod:`.sshconfig`), so that a
fan-out over N hosts does not parse the whole config N times. Everything is cached per file
version (path, mtime, size, inode).
"""

from __future__ import annotations

import getpass
import logging
import os
from pathlib import Path
from typing import Any

import asyncssh

from .hostkeys import SshConfigHostKeys
from .sshconfig import config_tokens, file_stamp, reduced_config_paths

__all__ = [
    "JumpHop",
    "asyncssh_config_paths",
    "config_host_keys",
    "config_jumps",
    "config_paths",
    "config_user",
    "host_config",
    "parsed_config",
]

logger = logging.getLogger(__name__)

_config_cache: dict[tuple[Any, ...], tuple[dict[str, Any], Any]] = {}
_unreduced: set[tuple[Any, ...]] = set()
_HOST_OPTIONS = (
    "User",
    "IdentityFile",
    "Hostname",
    "UserKnownHostsFile",
    "ProxyJump",
    "ConnectTimeout",
    "Port",
    "GlobalKnownHostsFile",
    "StrictHostKeyChecking",
    "HashKnownHosts",
)


def _config_class() -> Any:
    """asyncssh's client config, also reading the two host-key options it does not use itself
    (``StrictHostKeyChecking``, ``HashKnownHosts``) with its own value parser - so that they
    are resolved per host with the same Host/Match/Include rules as every other option."""
    global _CONFIG_CLASS
    if _CONFIG_CLASS is None:
        from asyncssh.config import SSHClientConfig

        class _HostKeyAwareConfig(SSHClientConfig):
            _handlers = {  # noqa: RUF012  replaces asyncssh's class-level table, never mutated
                **SSHClientConfig._handlers,
                "stricthostkeychecking": ("StrictHostKeyChecking", _set_yes_no_or_word),
                "hashknownhosts": ("HashKnownHosts", _set_yes_no_or_word),
            }

        _CONFIG_CLASS = _HostKeyAwareConfig
    return _CONFIG_CLASS


_CONFIG_CLASS: Any = None


def _set_yes_no_or_word(config: Any, option: str, args: list[str]) -> None:
    """A config setter in asyncssh's form: yes/true and no/false as booleans, any other word
    as it is (``accept-new``, ``ask``...); the first value seen wins, as in OpenSSH. Ours, since
    asyncssh's own ``_set_bool_or_str`` exists only from 2.20 (the floor is 2.19)."""
    word = args.pop(0)
    lower = word.lower()
    value: bool | str = (
        True if lower in ("yes", "true") else False if lower in ("no", "false") else word
    )
    config._options.setdefault(option, value)


def config_paths(config: Any) -> list[str]:
    """ssh config files to honour: ``()`` → ``~/.ssh/config`` if readable; None → none."""
    if config is None:
        return []
    if isinstance(config, (str, os.PathLike)):
        return [str(config)]
    if isinstance(config, (list, tuple)) and config:
        return [str(path) for path in config]
    default = Path("~/.ssh/config").expanduser()
    return [str(default)] if os.access(default, os.R_OK) else []


def _stamp(paths: list[str]) -> tuple[Any, ...]:
    return tuple((p, file_stamp(p)) for p in paths)


def asyncssh_config_paths(paths: list[str], host: str) -> list[str]:
    """The config files to give asyncssh for ``host``: copies reduced to the lines that
    concern it (see :mod:`sshjobs.transport.sshconfig`), or the files themselves when the reduced
    copies fail to load (so that asyncssh's error names the user's file and line)."""
    if not paths:
        return []
    hosts = _with_jump_hosts(paths, host)
    stamp = _stamp(paths)
    if any((stamp, name) in _unreduced for name in hosts):
        return list(paths)
    return reduced_config_paths(paths, *hosts)


def _with_jump_hosts(paths: list[str], host: str) -> list[str]:
    """``host`` and the ProxyJump hops the config gives it, transitively: asyncssh resolves
    them from the same config files when it opens that connection."""
    hosts = [host]
    for name in hosts:
        jumps = host_config(paths, name).get("ProxyJump")
        if not isinstance(jumps, str) or len(hosts) > 32:
            continue
        for hop in jumps.split(","):
            hop = hop.rsplit("@", 1)[-1]
            hop = hop.rsplit(":", 1)[0] if ":" in hop else hop
            if hop not in hosts:
                hosts.append(hop)
    return hosts


def _load_config(paths: list[str], host: str) -> Any:
    return _config_class().load(None, paths, False, False, False, getpass.getuser(), (), host, ())


def _parsed(paths: list[str], host: str) -> tuple[dict[str, Any], Any]:
    """The options ``~/.ssh/config`` gives for ``host``, and asyncssh's parse of the config
    when asyncssh can be handed it as it is (else None), cached per file version."""
    key = (_stamp(paths), host)
    found = _config_cache.get(key)
    if found is None:
        built = _config_from_tokens(paths, host)
        if built is not None:
            found = (
                {name: built.get(name) for name in _HOST_OPTIONS},
                None if _jumps(built) else built,
            )
            _config_cache[key] = found
            return found
        reduced = reduced_config_paths(paths, host)
        try:
            config = _load_config(reduced, host)
            found = (
                {name: config.get(name) for name in _HOST_OPTIONS},
                config if _reusable(paths, reduced, config) else None,
            )
        except (OSError, asyncssh.Error, ValueError):
            _unreduced.add(key)  # let asyncssh see (and report on) the full files
            try:
                config = _load_config(paths, host)
                found = ({name: config.get(name) for name in _HOST_OPTIONS}, None)
            except (OSError, asyncssh.Error, ValueError) as exc:
                logger.warning("cannot read ssh config %s: %s", ", ".join(paths), exc)
                found = ({}, None)
        _config_cache[key] = found
    return found


def config_host_keys(paths: list[str], host: str) -> SshConfigHostKeys:
    """What the ssh config says about host keys for ``host`` (StrictHostKeyChecking,
    UserKnownHostsFile, GlobalKnownHostsFile, HashKnownHosts)."""
    found = host_config(paths, host)

    def files(name: str) -> tuple[str, ...] | None:
        value = found.get(name)
        return None if value is None else tuple(str(f) for f in value)

    strict = found.get("StrictHostKeyChecking")
    if isinstance(strict, bool):
        strict = "yes" if strict else "no"
    hashed = found.get("HashKnownHosts")
    return SshConfigHostKeys(
        strict_host_key_checking=strict,
        user_files=files("UserKnownHostsFile"),
        global_files=files("GlobalKnownHostsFile"),
        hash_known_hosts=hashed is True or str(hashed).lower() == "yes",
        source=", ".join(paths) or "no ssh config",
    )


def _jumps(config: Any) -> bool:
    return bool(config.get("ProxyJump") or config.get("ProxyCommand"))


def _config_from_tokens(paths: list[str], host: str) -> Any:
    """asyncssh's config object for ``host``, built from the lines of the config files that
    concern it as tokenised once per file version (:func:`~.sshconfig.config_tokens`), each
    handed to asyncssh's own option handler in file order, as its parser does - without
    reading and tokenising the files again for every host. None when asyncssh must parse the
    files itself: files it would read differently (``Match``, ``Include``...), ``%`` tokens
    or ``${...}`` variables, lines kept whole (``ProxyCommand``), or anything it objects to
    (it then reports the error from the files)."""
    config_class = _config_class()
    tokens = config_tokens(paths, host)
    handlers = getattr(config_class, "_handlers", None)
    conditionals = getattr(config_class, "_conditionals", None)
    whole_lines = getattr(config_class, "_no_split", None)
    if tokens is None or handlers is None or conditionals is None or whole_lines is None:
        return None
    for keyword, args in tokens:
        if keyword in whole_lines or any("%" in arg or "${" in arg for arg in args):
            return None
    try:
        config = _load_config([], host)
        if not hasattr(config, "_matching"):
            return None
        for keyword, args in tokens:
            if not config._matching and keyword not in conditionals:
                continue
            entry = handlers.get(keyword)
            if entry is None:
                continue
            option, handler = entry
            remaining = list(args)
            if not remaining:
                return None
            handler(config, option, remaining)
            if remaining:
                return None
    except (asyncssh.Error, ValueError, TypeError):
        return None
    return config


def _reusable(paths: list[str], reduced: list[str], config: Any) -> bool:
    """Whether asyncssh, given ``config`` (parsed for the host with no user or port) as its
    ``last_config``, resolves the same options as from the files with the node's user and
    port: yes when the files were reduced (no ``Match``, ``Include``, canonicalisation), no
    ``%`` token (some depend on the user or port) and no ``ProxyJump`` (its hops read the
    files again)."""
    if any(r == p for r, p in zip(reduced, paths, strict=False)) or _jumps(config):
        return False
    for path in reduced:
        try:
            with open(path) as file:
                if "%" in file.read():
                    return False
        except OSError:
            return False
    return True


def host_config(paths: list[str], host: str) -> dict[str, Any]:
    """The options ``~/.ssh/config`` gives for ``host`` (cached per file version)."""
    return _parsed(paths, host)[0] if paths else {}


def parsed_config(paths: list[str], host: str) -> Any:
    """asyncssh's parse of the ssh config for ``host``, to hand it over instead of the files
    (one parse per host instead of two), or None when it must read the files itself."""
    return _parsed(paths, host)[1] if paths else None


def config_user(paths: list[str], host: str) -> str | None:
    user = host_config(paths, host).get("User")
    return str(user) if user else None


#: a ProxyJump hop: (user or None, host, port or None)
JumpHop = tuple[str | None, str, int | None]


def config_jumps(paths: list[str], host: str) -> list[JumpHop]:
    """The hops of the ``ProxyJump`` the ssh config gives ``host``, first hop first (``[]``:
    none, ``ProxyJump none``, or a ``ProxyCommand``, which asyncssh runs itself).

    ``[user@]host[:port]`` each, comma-separated, as ssh reads them (a bracketed IPv6 address
    ``[::1]:2222`` too)."""
    config = host_config(paths, host)
    jump = config.get("ProxyJump")
    if config.get("ProxyCommand") or not isinstance(jump, str) or jump.lower() in ("", "none"):
        return []
    hops: list[JumpHop] = []
    for spec in jump.split(","):
        user, _, where = spec.strip().rpartition("@")
        port: int | None = None
        if where.startswith("[") and "]" in where:  # [address]:port
            address, _, rest = where[1:].partition("]")
            where, port = address, int(rest[1:]) if rest.startswith(":") else None
        elif where.count(":") == 1:
            where, _, number = where.partition(":")
            port = int(number)
        hops.append((user or None, where, port))
    return hops
