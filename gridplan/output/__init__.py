"""Plan files: the GeoPackage and manifest, report, map, rosters and printed notice boards.

The names below are imported lazily: writing ``plan.gpkg`` (``gridplan coverage``, a partition)
must not pay for importing Folium, Jinja templates and the report.
"""

from __future__ import annotations

from gridplan._lazy import lazy_surface

#: Public name -> module that defines it.
_PUBLIC: dict[str, str] = {
    "BASEMAPS": "gridplan.output.maps.make",
    "board_contents": "gridplan.output.boards.content",
    "write_boards": "gridplan.output.boards.write",
    "explore": "gridplan.output.maps.make",
    "grid_colors": "gridplan.output.maps.make",
    "make_map": "gridplan.output.maps.make",
    "write_map": "gridplan.output.maps.make",
    "CONTRACT_LAYERS": "gridplan.output.planfile",
    "EXTRA_LAYERS": "gridplan.output.planfile",
    "Plan": "gridplan.output.planfile",
    "read_plan": "gridplan.output.planfile",
    "write_plan_gpkg": "gridplan.output.planfile",
    "render_html": "gridplan.output.report.render",
    "render_markdown": "gridplan.output.report.render",
    "build_report": "gridplan.output.report.write",
    "write_report": "gridplan.output.report.write",
    "Person": "gridplan.output.rosters",
    "people_directory": "gridplan.output.rosters",
    "person_phone": "gridplan.output.rosters",
    "roster_tables": "gridplan.output.rosters",
    "write_rosters": "gridplan.output.rosters",
}

__all__ = sorted(_PUBLIC)


__getattr__, __dir__ = lazy_surface(__name__, _PUBLIC)
