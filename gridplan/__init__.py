"""gridplan: plan community grid governance (网格化管理) for Chinese towns and cities.

The public names below are imported lazily, so ``import gridplan`` stays quick for the CLI.

Example
-------
>>> import gridplan                                             # doctest: +SKIP
>>> ds = gridplan.load_dataset(gridplan.bundled_town())         # doctest: +SKIP
>>> plan = gridplan.plan_dataset(ds)                            # doctest: +SKIP
>>> gridplan.explore(plan)                                      # doctest: +SKIP
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from gridplan._lazy import lazy_surface

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
    "Dataset": "gridplan.dataset",
    "load_dataset": "gridplan.io.load",
    "read_dataset": "gridplan.io.load",
    "Plan": "gridplan.output.planfile",
    "read_plan": "gridplan.output.planfile",
    "bundled_town": "gridplan.run.pipeline",
    "plan_dataset": "gridplan.run.pipeline",
    "plan_coverage": "gridplan.run.pipeline",
    "replan_dataset": "gridplan.run.pipeline",
    "run_to_folder": "gridplan.run.pipeline",
    "generate_sample": "gridplan.sample.generate",
    "write_sample": "gridplan.sample.generate",
    "partition_grids": "gridplan.partition.grids",
    "replan_grids": "gridplan.partition.replan",
    "form_units": "gridplan.units.form",
    "assign_staff": "gridplan.staffing.assign",
    "build_walk_network": "gridplan.network.graph",
    "catchments": "gridplan.access.isochrones",
    "compute_coverage": "gridplan.access.coverage",
    "site_facilities": "gridplan.access.siting",
    "explore": "gridplan.output.maps.make",
    "make_map": "gridplan.output.maps.make",
    "import_osm": "gridplan.io.osm",
}

__all__ = ["__version__", *sorted(_PUBLIC)]


__getattr__, __dir__ = lazy_surface(__name__, _PUBLIC)
