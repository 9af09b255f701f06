"""``{host}``-style fields of a target: in push/pull paths, per-host names, and ``--format``.

One resolver for every place, so that a field means the same everywhere: ``{host}`` the short
name shown in the output, ``{fqdn}`` the address actually connected to (``HostName`` from the
ssh config when the target is an alias), ``{user}`` the login, ``{port}`` the port actually used
(the target's, else the ssh config's, else 22), ``{name}`` the unique display name,
``{target}`` the re-parseable target.
"""

from __future__ import annotations

import getpass
import string
from typing import Any

import click

from sshjobs.targets import Target
from sshjobs.transport.hostconfig import config_paths, host_config

__all__ = ["PATH_FIELDS", "check_fields", "expand_fields", "host_fields", "login_of"]

#: fields usable in push/pull paths and per-host file names
PATH_FIELDS = ("host", "fqdn", "user", "port", "name", "target")


def _config(target: Target, config: list[str] | None) -> dict[str, Any]:
    return host_config(config_paths(()) if config is None else config, target.host)


def login_of(target: Target, config: list[str] | None = None) -> str:
    """The user a target is reached as by the command line: its own (or ``-l``), else the ssh
    config's ``User``, else the local user (as ssh, clush and pssh do)."""
    user = target.user or _config(target, config).get("User")
    return str(user) if user else getpass.getuser()


def host_fields(target: Target, name: str, config: list[str] | None = None) -> dict[str, str]:
    """The values of :data:`PATH_FIELDS` for ``target`` shown as ``name``."""
    options = _config(target, config)
    fqdn = str(options.get("Hostname") or target.host)
    port = target.port or options.get("Port") or 22
    short = target.host if _is_address(target.host) else target.host.split(".", 1)[0]
    return {
        "host": short,
        "fqdn": fqdn,
        "user": login_of(target, config),
        "port": str(port),
        "name": name,
        "target": str(target),
    }


def expand_fields(template: str, target: Target, name: str, config: list[str] | None = None) -> str:
    """``logs/{host}.log`` → ``logs/fit01.log`` (fields of :func:`host_fields`)."""
    return template.format_map(host_fields(target, name, config))


def _is_address(host: str) -> bool:
    return ":" in host or all(part.isdigit() for part in host.split("."))


def check_fields(template: str, what: str) -> set[str]:
    """The fields a path uses; UsageError for an unknown one or a stray brace."""
    try:
        fields = {field for _, field, _, _ in string.Formatter().parse(template) if field}
    except ValueError as exc:
        raise click.UsageError(
            f"bad {what} {template!r}: {exc} (write {{{{ and }}}} for literal braces)"
        ) from exc
    unknown = fields - set(PATH_FIELDS)
    if unknown:
        raise click.UsageError(
            f"unknown field {{{sorted(unknown)[0]}}} in {what} {template!r}; "
            f"fields are {', '.join('{' + f + '}' for f in PATH_FIELDS)}"
        )
    return fields
