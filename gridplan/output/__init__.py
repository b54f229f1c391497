"""Plan files: the GeoPackage and manifest, report, map and rosters."""

from __future__ import annotations

from gridplan.output.maps.make import BASEMAPS, explore, grid_colors, make_map, write_map
from gridplan.output.planfile import CONTRACT_LAYERS, EXTRA_LAYERS, Plan, read_plan, write_plan_gpkg
from gridplan.output.report.labels import REPORT_LABELS
from gridplan.output.report.render import render_markdown
from gridplan.output.report.write import build_report, write_report
from gridplan.output.rosters import (
    Person,
    people_directory,
    person_phone,
    roster_tables,
    write_rosters,
)

__all__ = [
    "BASEMAPS",
    "CONTRACT_LAYERS",
    "EXTRA_LAYERS",
    "REPORT_LABELS",
    "Person",
    "Plan",
    "build_report",
    "explore",
    "grid_colors",
    "make_map",
    "people_directory",
    "person_phone",
    "read_plan",
    "render_markdown",
    "roster_tables",
    "write_map",
    "write_plan_gpkg",
    "write_report",
    "write_rosters",
]
