"""The open-requests layer of the Folium map (pop-ups masked: see
:func:`gridplan.requests.open_requests_layer`)."""

from __future__ import annotations

import folium
import geopandas as gpd

from gridplan.i18n import label

__all__ = ["add_requests_layer"]

#: Marker colours: overdue red, otherwise orange.
OVERDUE_COLOUR = "#d62728"
OPEN_COLOUR = "#ff7f0e"


def add_requests_layer(m: folium.Map, layer: gpd.GeoDataFrame, *, lang: str = "zh") -> None:
    """Add the open requests (a layer of :func:`open_requests_layer`) as circle markers with
    their pop-ups, overdue ones in red, to ``m``."""
    group = folium.FeatureGroup(name=label("requests.layer", lang), show=True)
    pts = layer.to_crs(4326) if layer.crs is not None else layer
    for geom, popup, overdue in zip(pts.geometry, pts["popup"], pts["overdue"], strict=True):
        if geom is None or geom.is_empty:
            continue
        colour = OVERDUE_COLOUR if overdue else OPEN_COLOUR
        folium.CircleMarker(
            location=(geom.y, geom.x),
            radius=5,
            color=colour,
            fill=True,
            fill_opacity=0.8,
            weight=1,
            popup=folium.Popup(popup, max_width=280),
        ).add_to(group)
    group.add_to(m)
