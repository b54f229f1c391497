"""The Folium map of a plan."""

from __future__ import annotations

from gridplan.output.maps.make import BASEMAPS, explore, grid_colors, make_map, write_map

__all__ = [
    "BASEMAPS",
    "explore",
    "grid_colors",
    "make_map",
    "write_map",
]
