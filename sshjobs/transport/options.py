"""What a node asks of its SSH connection, and the same resolved for its host.

:class:`NodeOptions` is what a node was given (:class:`~sshjobs.node.SshNode`'s arguments),
checked but not resolved: building one reads no file, so that building a thousand nodes costs
no disk access. :attr:`NodeOptions.resolved` turns it, once, at the first connection (or the
first time a resolved value is read), into :class:`ConnectOptions`: the user and the keys from
the ssh config, the host-key policy, the ``ssh_options`` applied - everything opening the
connection needs, and nothing else. Both are frozen: a node given other options gets a new
:class:`NodeOptions`, resolved again when next needed.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Generic, Protocol, TypeVar, overload

from ..errors import KeyLoadError
from ..keys import KeySet, default_keys, explicit_keys, load_key_file
from ..sshoptions import SshOptionError, host_keys_of, ssh_options_path
from . import fastpath
from .hostconfig import config_host_keys, config_paths, config_user, host_config
from .hostkeys import HostKeyPolicy, check_mode

__all__ = ["ConnectOptions", "NodeOptions", "OptionAttribute"]

#: ``ssh_options`` that set a node keyword: (option, keyword, type)
_OVERRIDES: tuple[tuple[str, str, type], ...] = (
    ("ConnectTimeout", "timeout", float),
    ("ServerAliveInterval", "keepalive_interval", float),
    ("ServerAliveCountMax", "keepalive_count_max", int),
)


@dataclass(frozen=True)
class ConnectOptions:
    """A node's options resolved for its host: what opening its connection uses."""

    hostname: str
    username: str
    port: int | None
    password: str | None = field(repr=False)
    keyset: KeySet = field(repr=False)
    host_key_policy: HostKeyPolicy
    #: ssh config files honoured (the ``ssh_options`` one first)
    config_paths: tuple[str, ...]
    timeout: float
    keepalive_interval: float
    keepalive_count_max: int
    fast_handshake: bool
    #: more ``asyncssh.connect`` keywords (they win over ours)
    connect_options: Mapping[str, Any]
    #: the host name of the gateway this node connects through, if any (for messages)
    gateway: str | None = None

    def user_host(self) -> str:
        return f"{self.username}@{self.hostname}"

    def where(self) -> str:
        """``user@host``, and the port when one was given, for messages."""
        return self.user_host() + (f" port {self.port}" if self.port else "")

    def host_config(self) -> dict[str, Any]:
        """The options the ssh config gives for the host (cached per file version)."""
        return host_config(list(self.config_paths), self.hostname)


@dataclass(frozen=True, eq=False)
class NodeOptions:
    """What a node was asked for (see :class:`~sshjobs.node.SshNode` for each one's meaning).

    Checked when built, without reading any file (an unknown ``host_keys`` value is a
    ValueError); resolved once, by :attr:`resolved`."""

    hostname: str
    username: str | None = None
    port: int | None = None
    #: key objects and/or key file names; None: the defaults
    keys: tuple[Any, ...] | None = field(default=None, repr=False)
    passphrase: str | bytes | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)
    known_hosts: Any = ()
    host_keys: str | None = None
    record_known_hosts: str | os.PathLike[str] | None = None
    #: ssh config file(s); ``()``: ``~/.ssh/config`` when it exists; None: none
    config: Any = ()
    #: ssh-config keywords (checked, in their usual spelling) that override the config files
    ssh_options: Mapping[str, str] = field(default_factory=dict)
    timeout: float = 30
    keepalive_interval: float = 5
    keepalive_count_max: int = 3
    fast_handshake: bool | None = None
    connect_options: Mapping[str, Any] = field(default_factory=dict)
    gateway: str | None = None

    def __post_init__(self) -> None:
        if self.host_keys is not None:
            check_mode(self.host_keys, "host_keys")
        # ssh_options that override keywords, applied now (no file involved): the node's
        # timeout and keepalives are then known without resolving anything
        given = self.ssh_options
        for option, name, kind in _OVERRIDES:
            if option in given:
                object.__setattr__(self, name, kind(given[option]))

    @cached_property
    def resolved(self) -> ConnectOptions:
        """The options for the host: ssh config read, keys loaded, host-key policy built.

        Computed once. :class:`~sshjobs.errors.KeyLoadError` for a key that cannot be loaded,
        :class:`~sshjobs.sshoptions.SshOptionError` (a ValueError) for a host-key setting or
        an ssh option value that is not valid."""
        options_file = ssh_options_path(self.ssh_options)
        paths = ([options_file] if options_file else []) + config_paths(self.config)
        host = self.hostname
        host_keys = self.host_keys if self.host_keys is not None else host_keys_of(self.ssh_options)
        try:
            policy = HostKeyPolicy.build(
                self.known_hosts,
                host_keys,
                self.record_known_hosts,
                config_host_keys(paths, host),
            )
        except ValueError as exc:
            raise SshOptionError(str(exc), host=host) from None
        return ConnectOptions(
            hostname=host,
            username=self.username or config_user(paths, host) or "root",
            port=self.port,
            password=self.password,
            keyset=self._keyset(paths),
            host_key_policy=policy,
            config_paths=tuple(paths),
            timeout=self.timeout,
            keepalive_interval=self.keepalive_interval,
            keepalive_count_max=self.keepalive_count_max,
            fast_handshake=(
                fastpath.enabled_by_default()
                if self.fast_handshake is None
                else bool(self.fast_handshake)
            ),
            connect_options=dict(self.connect_options),
            gateway=self.gateway,
        )

    def _keyset(self, paths: list[str]) -> KeySet:
        """What the node offers: its explicit keys, else the ``IdentityFile`` entries of the
        ssh config for its host (with the agent), else the default keys."""
        if self.keys:
            return explicit_keys(self.keys, self.passphrase)
        identity_files = host_config(paths, self.hostname).get("IdentityFile")
        if not identity_files:
            return default_keys(self.passphrase)
        keyset = KeySet(agent_path=os.environ.get("SSH_AUTH_SOCK") or None)
        for name in identity_files:
            try:
                key = load_key_file(name, self.passphrase)
            except KeyLoadError:
                keyset.encrypted.append(str(name))
                continue
            if key is not None:
                keyset.keys.append(key)
        return keyset


T = TypeVar("T")


class _WithOptions(Protocol):
    options: NodeOptions


class OptionAttribute(Generic[T]):
    """An attribute of a node that is one of its options: read from ``node.options``; set,
    it replaces them with a copy holding the new value (resolved again when next needed)."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"the {self.name} option"

    @overload
    def __get__(self, node: None, owner: type) -> OptionAttribute[T]: ...

    @overload
    def __get__(self, node: _WithOptions, owner: type) -> T: ...

    def __get__(self, node: _WithOptions | None, owner: type) -> OptionAttribute[T] | T:
        if node is None:
            return self
        value: T = getattr(node.options, self.name)
        return value

    def __set__(self, node: _WithOptions, value: T) -> None:
        changes: dict[str, Any] = {self.name: value}
        node.options = dataclasses.replace(node.options, **changes)
