"""ssh-config options given in code or on the command line (``ssh -o Key=Value``'s role).

``SshNode(ssh_options={"Port": "2222", "ServerAliveInterval": "5"})`` and the command line's
``-O KEY=VALUE`` take the keywords of an ssh config file. They are written, once per distinct
set, as a small config file placed *before* the user's config files: as in OpenSSH, the first
value obtained for a keyword wins, so these override ``~/.ssh/config`` (and ``-F`` files) while
everything else is still read from there. asyncssh stays the one interpreter of the keywords,
and sshjobs reads the same files for what it needs up front (``User``, ``HostName``...).

Accepted keywords are those that take effect (:data:`HONOURED`): the ones asyncssh reads from a
config and sshjobs does not set itself, ``ServerAliveInterval`` / ``ServerAliveCountMax`` /
``ConnectTimeout`` (they override the node's keepalive and connect timeout),
``StrictHostKeyChecking`` (the ``host_keys`` policy) and ``BatchMode`` (sshjobs never prompts:
accepted and ignored). Anything else is refused with :class:`SshOptionError` naming it, rather
than silently ignored.
"""

from __future__ import annotations

import getpass
import logging
from collections.abc import Iterable, Mapping

from .errors import SshJobsError
from .transport.sshconfig import config_text_path

__all__ = [
    "HONOURED",
    "SshOptionError",
    "check_ssh_options",
    "host_keys_of",
    "known_ssh_options",
    "parse_ssh_option",
    "spell_ssh_options",
    "ssh_options_path",
]

logger = logging.getLogger("sshjobs.sshoptions")

#: keywords sshjobs handles itself rather than asyncssh
_OURS = {"stricthostkeychecking": "StrictHostKeyChecking", "batchmode": "BatchMode"}
#: the keywords that take effect, in their usual spelling
HONOURED = (
    "AddressFamily",
    "BatchMode",
    "BindAddress",
    "ConnectTimeout",
    "ForwardAgent",
    "HostKeyAlgorithms",
    "HostKeyAlias",
    "Hostname",
    "IdentitiesOnly",
    "IdentityFile",
    "Port",
    "ProxyCommand",
    "ProxyJump",
    "RekeyLimit",
    "SendEnv",
    "ServerAliveCountMax",
    "ServerAliveInterval",
    "SetEnv",
    "StrictHostKeyChecking",
    "TCPKeepAlive",
    "User",
    "UserKnownHostsFile",
)
#: StrictHostKeyChecking values → SshNode ``host_keys`` policies
_STRICT = {"yes": "strict", "accept-new": "accept-new", "no": "ignore", "off": "ignore"}


class SshOptionError(SshJobsError, ValueError):
    """An ssh option that is unknown or whose value is not valid."""


def known_ssh_options() -> dict[str, str]:
    """Lower-case keyword → its usual spelling, for every keyword accepted."""
    return {key.lower(): key for key in HONOURED}


def parse_ssh_option(text: str) -> tuple[str, str]:
    """``"Port=2222"`` (or ``"Port 2222"``) → ``("Port", "2222")``; SshOptionError if bad."""
    key, sep, value = text.partition("=")
    if not sep:
        key, _, value = text.strip().partition(" ")
    key, value = key.strip(), value.strip()
    if not key or not value:
        raise SshOptionError(f"ssh option {text!r}: expected KEY=VALUE, e.g. Port=2222")
    return key, value


def check_ssh_options(options: Mapping[str, str] | Iterable[tuple[str, str]]) -> dict[str, str]:
    """The options with each keyword in its usual spelling; SshOptionError naming an unknown
    keyword or a value asyncssh refuses."""
    checked = spell_ssh_options(options)
    _check_values(checked)
    return checked


def spell_ssh_options(options: Mapping[str, str] | Iterable[tuple[str, str]]) -> dict[str, str]:
    """The options with each keyword in its usual spelling; SshOptionError naming an unknown
    keyword (the values are checked by :func:`check_ssh_options`, which reads a file)."""
    items = options.items() if isinstance(options, Mapping) else options
    known = known_ssh_options()
    checked: dict[str, str] = {}
    for key, value in items:
        spelling = known.get(str(key).lower())
        if spelling is None:
            raise SshOptionError(
                f"unknown ssh option {key!r}; known: {', '.join(sorted(known.values()))}"
            )
        if spelling == "StrictHostKeyChecking" and str(value).lower() not in _STRICT:
            raise SshOptionError(
                f"StrictHostKeyChecking={value}: expected one of {', '.join(_STRICT)}"
            )
        checked.setdefault(spelling, str(value))  # first one wins, as in ssh
    return checked


def _config_text(options: Mapping[str, str]) -> str:
    return "".join(f"{key} {value}\n" for key, value in options.items() if key.lower() not in _OURS)


def _check_values(options: Mapping[str, str]) -> None:
    """Let asyncssh parse the options once, so that a bad value fails before connecting."""
    import asyncssh
    from asyncssh.config import SSHClientConfig

    text = _config_text(options)
    if not text:
        return
    path = config_text_path(text)
    try:
        SSHClientConfig.load(
            None, [path], False, False, False, getpass.getuser(), (), "localhost", ()
        )
    except (asyncssh.Error, ValueError, OSError) as exc:
        reason = str(exc).replace(f"{path}", "").strip(" :,")
        raise SshOptionError(f"bad ssh option value: {reason}") from exc


def ssh_options_path(options: Mapping[str, str] | None) -> str | None:
    """The config file holding ``options`` for asyncssh (None when there are none for it)."""
    if not options:
        return None
    text = _config_text(check_ssh_options(options))
    return config_text_path(text) if text else None


def host_keys_of(options: Mapping[str, str] | None) -> str | None:
    """The ``host_keys`` policy a ``StrictHostKeyChecking`` option asks for, if any."""
    for key, value in (options or {}).items():
        if key.lower() == "stricthostkeychecking":
            return _STRICT.get(str(value).lower())
    return None
