"""gridplan: plan community grid governance (网格化管理) for Chinese towns and cities.

The public names below are imported lazily, so ``import gridplan`` stays quick for the CLI.

Example
-------
>>> import gridplan                                             # doctest: +SKIP
>>> ds = gridplan.load_dataset("data/town")                     # doctest: +SKIP
>>> plan = gridplan.plan_dataset(ds)                            # doctest: +SKIP
>>> gridplan.explore(plan)                                      # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version
from typing import Any

try:
    __version__ = version("gridplan")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

#: Public name -> module that defines it.
_PUBLIC: dict[str, str] = {
    "Config": "gridplan.settings",
    "load_config": "gridplan.settings",
    "GridplanError": "gridplan._errors",
    "DataError": "gridplan._errors",
    "ConfigError": "gridplan._errors",
    "InfeasibleError": "gridplan._errors",
    "Dataset": "gridplan.io",
    "load_dataset": "gridplan.io",
    "read_dataset": "gridplan.io",
    "Plan": "gridplan.planfile",
    "read_plan": "gridplan.planfile",
    "plan_dataset": "gridplan.pipeline",
    "replan_dataset": "gridplan.pipeline",
    "run_to_folder": "gridplan.pipeline",
    "generate_sample": "gridplan.sample",
    "write_sample": "gridplan.sample",
    "partition_grids": "gridplan.partition",
    "replan_grids": "gridplan.replan",
    "form_units": "gridplan.units",
    "assign_staff": "gridplan.assign",
    "build_walk_network": "gridplan.network",
    "catchments": "gridplan.isochrones",
    "compute_coverage": "gridplan.coverage",
    "site_facilities": "gridplan.siting",
    "explore": "gridplan.maps",
    "make_map": "gridplan.maps",
    "import_osm": "gridplan.osm",
}

__all__ = ["__version__", *sorted(_PUBLIC)]


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        msg = f"module 'gridplan' has no attribute {name!r}"
        raise AttributeError(msg)
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_PUBLIC))
