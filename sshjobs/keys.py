"""Client keys: ssh-agent keys *and* default key files, loaded once per process.

Parsing a private key costs client CPU; with hundreds of hosts we do it once and share the key
objects between every node. The ssh-agent is not read here for the default set: asyncssh asks
the agent itself at authentication time (``agent_path``), which keeps agent keys usable from any
event loop.

The library never prompts for a passphrase (it may run unattended for hundreds of hosts):
passphrase-protected key files (OpenSSH's format needs bcrypt, a dependency through
``asyncssh[bcrypt]``) are decrypted with the ``passphrase`` given (``SshNode(passphrase=...)``);
without one, such a file gives a :class:`~sshjobs.errors.KeyLoadError` when given explicitly,
and is named in the authentication error when it was one of the default files. The ``sshjobs``
command asks for the passphrase on its terminal.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import asyncssh

from .errors import KeyLoadError

__all__ = [
    "DEFAULT_KEY_NAMES",
    "KeySet",
    "default_keys",
    "explicit_keys",
    "import_private_key",
    "load_agent_keys",
    "load_key_file",
    "load_private_keys",
]

_T = TypeVar("_T")
logger = logging.getLogger("sshjobs.keys")

#: default private key files looked up in ``~/.ssh``, in this order (OpenSSH order)
DEFAULT_KEY_NAMES = ("id_ed25519", "id_ecdsa", "id_rsa")


@dataclass
class KeySet:
    """The credentials offered to servers: loaded keys, the agent socket, skipped files."""

    keys: list[Any] = field(default_factory=list)
    agent_path: str | None = None
    #: key files skipped because they need a passphrase (named in authentication errors)
    encrypted: list[str] = field(default_factory=list)

    def describe(self) -> str:
        """One line saying what is offered, for error messages."""
        parts = [f"{len(self.keys)} key file(s)"]
        parts.append("ssh-agent" if self.agent_path else "no ssh-agent")
        if self.encrypted:
            parts.append(
                "skipped passphrase-protected "
                + ", ".join(self.encrypted)
                + " (add them to an ssh-agent, or give their passphrase)"
            )
        return "; ".join(parts)


_cache: dict[tuple[Any, ...], Any] = {}


def _file_key(path: Path) -> tuple[Any, ...]:
    try:
        stat = path.stat()
        return (str(path), stat.st_mtime_ns, stat.st_size)
    except OSError:
        return (str(path), None, None)


def import_private_key(
    filename: str | os.PathLike[str], passphrase: str | bytes | None = None
) -> Any:
    """Read one private key file; ``None`` if the file does not exist or is not a key.

    Raises :class:`KeyLoadError` when the key needs a passphrase and none was given (apssh
    prompted here; we refuse to, since this may run unattended for hundreds of hosts).
    Results are cached per process (by path, modification time and passphrase).
    """
    path = Path(filename).expanduser()
    cache_key = ("key", _file_key(path), passphrase)
    if cache_key in _cache:
        return _cache[cache_key]
    try:
        key = asyncssh.read_private_key(str(path), passphrase)
    except FileNotFoundError:
        logger.debug("no key file %s", path)
        return None
    except OSError as exc:
        raise KeyLoadError(f"cannot read private key {path}: {exc}") from exc
    except (asyncssh.KeyImportError, asyncssh.KeyEncryptionError) as exc:
        if passphrase is not None and isinstance(exc, asyncssh.KeyEncryptionError):
            raise KeyLoadError(
                f"cannot decrypt private key {path} with the passphrase given ({exc})"
            ) from exc
        if "assphrase" in str(exc):
            raise KeyLoadError(
                f"private key {path} is passphrase-protected: add it to an ssh-agent "
                f"(ssh-add {path}) or give its passphrase (SshNode(passphrase=...), "
                f"import_private_key(path, passphrase=...))"
            ) from exc
        logger.warning("ignoring %s: not a usable private key (%s)", path, exc)
        return None
    _cache[cache_key] = key
    return key


def _default_paths() -> list[Path]:
    ssh_dir = Path("~/.ssh").expanduser()
    return [ssh_dir / name for name in DEFAULT_KEY_NAMES]


def default_keys(passphrase: str | bytes | None = None) -> KeySet:
    """Agent socket (from ``SSH_AUTH_SOCK``) plus every default key file that loads
    (passphrase-protected ones with ``passphrase``, skipped without it or when it does not fit).

    Both are offered: agent keys first, then the files (OpenSSH behaviour). Loaded once per
    process (recomputed only if HOME, the agent socket or a key file changes).
    """
    paths = _default_paths()
    agent_path = os.environ.get("SSH_AUTH_SOCK") or None
    cache_key = ("default", agent_path, tuple(_file_key(p) for p in paths), passphrase)
    cached: KeySet | None = _cache.get(cache_key)
    if cached is not None:
        return cached
    keyset = KeySet(agent_path=agent_path)
    for path in paths:
        if not path.exists():
            continue
        try:
            key = load_key_file(path, passphrase)
        except KeyLoadError as exc:
            keyset.encrypted.append(str(path))
            logger.info("skipping %s: %s", path, exc)
            continue
        if key is not None:
            keyset.keys.append(key)
    logger.debug("default credentials: %s", keyset.describe())
    _cache[cache_key] = keyset
    return keyset


def load_key_file(path: str | os.PathLike[str], passphrase: str | bytes | None) -> Any:
    """A key file, decrypted with ``passphrase`` when it needs one (an unencrypted file is
    read without it: one passphrase serves a set of files of which some are encrypted)."""
    try:
        return import_private_key(path)
    except KeyLoadError:
        if passphrase is None:
            raise
        return import_private_key(path, passphrase)


def explicit_keys(keys: Sequence[Any], passphrase: str | bytes | None = None) -> KeySet:
    """Credentials from a user-given list of key objects and/or key file names.

    File names are loaded (and cached); a passphrase-protected file is decrypted with
    ``passphrase``, and raises :class:`KeyLoadError` without one or when it does not fit.
    Explicit keys replace the default files and the agent (like ``ssh -i ... -o
    IdentitiesOnly=yes``), so that exactly what was asked for is offered.
    """
    loaded = []
    for key in keys:
        if isinstance(key, (str, os.PathLike)):
            obj = load_key_file(key, passphrase)
            if obj is None:
                raise KeyLoadError(f"private key {key} not found or not a private key")
            loaded.append(obj)
        else:
            loaded.append(key)
    return KeySet(keys=loaded)


async def _co_agent_keys(agent_path: str | None) -> list[Any]:
    agent = await asyncssh.connect_agent(agent_path or "")
    if agent is None:
        return []
    try:
        return list(await agent.get_keys())
    finally:
        agent.close()
        await agent.wait_closed()


def _run_sync(coro_factory: Callable[[], Coroutine[Any, Any, _T]]) -> _T:
    """Run a coroutine to completion from sync code, even when a loop is running."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro_factory())
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(coro_factory())).result()


def load_agent_keys(agent_path: str | None = None) -> list[Any]:
    """Keys held by the ssh-agent (``agent_path`` or ``$SSH_AUTH_SOCK``); ``[]`` if none.

    apssh-compatible. Safe to call inside a running event loop.
    """
    agent_path = agent_path or os.environ.get("SSH_AUTH_SOCK")
    if not agent_path:
        return []
    try:
        return _run_sync(lambda: _co_agent_keys(agent_path))
    except (OSError, ValueError) as exc:
        logger.warning("cannot read keys from ssh-agent %s: %s", agent_path, exc)
        return []


def load_private_keys(
    command_line_keys: Sequence[str] | None = None, verbose: bool = False
) -> list[Any]:
    """apssh-compatible: the key objects to use.

    With ``command_line_keys``: exactly those files. Otherwise the agent keys *and* the default
    key files (``~/.ssh/id_ed25519``, ``id_ecdsa``, ``id_rsa``) - apssh offered one or the other.
    """
    if command_line_keys:
        keys = explicit_keys(list(command_line_keys)).keys
    else:
        keys = load_agent_keys() + default_keys().keys
    if verbose:
        logger.info("loaded %d key(s)", len(keys))
    return keys
