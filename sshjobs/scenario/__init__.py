"""YAML scenario files: nodes, services and jobs described in a file, run as one scheduler.

The format is a superset of apssh's ``YamlLoader`` one (see :mod:`sshjobs.scenario.model`);
PyYAML and Jinja2 are needed only here (``pip install 'sshjobs[scenario]'``).
"""

from .build import Built, NodeDefaults
from .errors import ScenarioError
from .loader import YamlLoader, load_scenario
from .model import Scenario

__all__ = ["Built", "NodeDefaults", "Scenario", "ScenarioError", "YamlLoader", "load_scenario"]
