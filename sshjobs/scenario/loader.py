"""``YamlLoader``: apssh's entry point for scenario files, kept call-compatible.

``YamlLoader(filename).load(env=None, *, save_intermediate=None)`` returns a Scheduler and
``load_with_maps(...)`` returns ``(nodes_map, jobs_map, scheduler)``, as in apssh. What
differs on purpose: a bad file raises :class:`ScenarioError` (file, line, key) instead of
printing and returning an empty scheduler, and a file using Jinja2 syntax is rendered even when
no variable is given (so that a missing variable is reported as such).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .build import Built, NodeDefaults, build
from .errors import ScenarioError
from .model import Scenario
from .sections import parse_scenario
from .source import read_source


def load_scenario(
    filename: str | Path,
    env: Mapping[str, Any] | None = None,
    *,
    save_intermediate: bool | str | Path | None = None,
) -> Scenario:
    """Read, render, parse and check a scenario file; build nothing (no SSH library needed)."""
    source = read_source(filename, env, save_intermediate=save_intermediate)
    try:
        return parse_scenario(source.tree, str(filename))
    except ScenarioError as exc:
        raise source.locate(exc) from exc.__cause__


class YamlLoader:
    """Load a scenario file into a scheduler of SshJobs (apssh-compatible).

    ``node_defaults`` lets a caller (the command line) supply keys, known_hosts, host-key mode,
    connection timeout and formatter for the nodes that do not set them in the file.
    """

    def __init__(self, filename: str | Path, *, node_defaults: NodeDefaults | None = None) -> None:
        self.filename = filename
        self.node_defaults = node_defaults
        #: the checked file content, set by the last load
        self.scenario: Scenario | None = None
        #: the objects built by the last load (nodes, jobs, services by id, and the scheduler)
        self.built: Built | None = None

    def load_scenario(
        self,
        env: Mapping[str, Any] | None = None,
        *,
        save_intermediate: bool | str | Path | None = None,
    ) -> Scenario:
        """First half of a load: read, render and check the file; nothing is built."""
        self.scenario = load_scenario(self.filename, env, save_intermediate=save_intermediate)
        return self.scenario

    def build(self) -> Built:
        """Second half of a load: build the objects of the checked file; nothing starts."""
        if self.scenario is None:
            raise RuntimeError("YamlLoader.build() needs load_scenario() first")
        self.built = build(self.scenario, self.node_defaults)
        return self.built

    def load_built(
        self,
        env: Mapping[str, Any] | None = None,
        *,
        save_intermediate: bool | str | Path | None = None,
    ) -> Built:
        """Load and build; returns every built object, services included."""
        self.load_scenario(env, save_intermediate=save_intermediate)
        return self.build()

    def load_with_maps(
        self,
        env: Mapping[str, Any] | None = None,
        *,
        save_intermediate: bool | str | Path | None = None,
    ) -> tuple[dict[str, Any], dict[str, Any], Any]:
        """``(nodes_map, jobs_map, scheduler)``, maps keyed by the ids of the file."""
        built = self.load_built(env, save_intermediate=save_intermediate)
        return built.nodes, built.jobs, built.scheduler

    def load(
        self,
        env: Mapping[str, Any] | None = None,
        *,
        save_intermediate: bool | str | Path | None = None,
    ) -> Any:
        """The Scheduler holding every job of the file."""
        return self.load_built(env, save_intermediate=save_intermediate).scheduler
