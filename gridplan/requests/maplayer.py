"""The open-requests layers of the Folium map: each open request at its building (pop-ups
masked: see :func:`gridplan.requests.open_requests_layer`), and the open requests counted by
grid (a badge on each grid that has any).

Drawn with Leaflet itself (circle markers, ``bindPopup`` with the prepared HTML, permanent
tooltips for the counts): no jQuery, which the map's inlined assets do not carry.
"""

from __future__ import annotations

import html
import json
from typing import Any

import folium
import geopandas as gpd
from jinja2 import Template

from gridplan.i18n import label, labels_in

__all__ = ["add_requests_layer"]

#: Marker colours: overdue red, otherwise orange.
OVERDUE_COLOUR = "#d62728"
OPEN_COLOUR = "#ff7f0e"


def _js(data: Any) -> str:
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return text.replace("</", "<\\/").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


class _Points(folium.FeatureGroup):
    """A feature group filled from a list of [lat, lon, colour, pop-up HTML, badge text]."""

    _template = Template(
        """
{% macro script(this, kwargs) %}
var {{ this.get_name() }} = L.featureGroup();
{{ this.rows_js }}.forEach(function (r) {
  // a request: a ring (white inside, unlike the filled dots of the coverage layers);
  // a grid's count: a filled disc with the figure
  var mk = L.circleMarker([r[0], r[1]], r[4]
    ? {radius: 11, color: '#fff', weight: 2, fillColor: r[2], fillOpacity: 0.95}
    : {radius: 5, color: r[2], weight: 3, fillColor: '#fff', fillOpacity: 1});
  mk.bindPopup(r[3], {maxWidth: 300});
  if (r[4]) {
    mk.bindTooltip(r[4], {permanent: true, direction: 'center', className: 'gp-req-count'});
  }
  mk.addTo({{ this.get_name() }});
});
{% endmacro %}
"""
    )

    def __init__(self, name: str, rows: list[list[Any]], *, show: bool) -> None:
        super().__init__(name=name, show=show)
        self._name = "GpRequests"
        self.rows_js = _js(rows)


_CSS = (
    "<style>.leaflet-tooltip.gp-req-count{background:transparent;border:0;box-shadow:none;"
    "color:#fff;font:bold 11px sans-serif;padding:0}"
    ".leaflet-tooltip.gp-req-count:before{display:none}</style>"
)


def add_requests_layer(
    m: folium.Map,
    layer: gpd.GeoDataFrame,
    *,
    lang: str = "zh",
    grids: gpd.GeoDataFrame | None = None,
) -> list[tuple[folium.FeatureGroup, str]]:
    """Add the open requests (a layer of :func:`open_requests_layer`) to ``m``: one ring per
    request with its pop-up, overdue ones red; and, with the plan's ``grids``, a badge per grid
    with its count of open requests (red when any is overdue).

    Returns
    -------
    list
        (layer, legend HTML) for the map's legend.
    """
    lab = labels_in("requests", lang)
    pts = layer.to_crs(4326) if layer.crs is not None else layer
    rows = []
    badges: list[list[Any]] = []
    for geom, popup, overdue in zip(pts.geometry, pts["popup"], pts["overdue"], strict=True):
        if geom is None or geom.is_empty:
            continue
        colour = OVERDUE_COLOUR if overdue else OPEN_COLOUR
        rows.append([round(geom.y, 7), round(geom.x, 7), colour, str(popup), ""])
    m.get_root().header.add_child(folium.Element(_CSS))  # type: ignore[attr-defined]
    if grids is not None and len(grids) and len(pts):
        g = grids.to_crs(4326) if grids.crs is not None else grids
        counts = pts.groupby(pts["grid_id"].astype(str)).agg(
            n=("request_id", "size"), late=("overdue", "sum")
        )
        for gid, geom in zip(g["grid_id"].astype(str), g.geometry, strict=True):
            if gid not in counts.index or geom is None or geom.is_empty:
                continue
            n, late = int(counts.loc[gid, "n"]), int(counts.loc[gid, "late"])
            at = geom.representative_point()
            text = lab["open_by_grid"].format(grid=gid, n=n)
            text += f"<br>{lab['overdue']}{'：' if lang == 'zh' else ': '}{late}"
            colour = OVERDUE_COLOUR if late else OPEN_COLOUR
            badges.append([round(at.y, 7), round(at.x, 7), colour, text, str(n)])
    out: list[tuple[folium.FeatureGroup, str]] = []
    if grids is not None and len(grids) and len(pts):
        by_grid = _Points(label("requests.layer_by_grid", lang), badges, show=True)
        by_grid.add_to(m)
        out.append(
            (
                by_grid,
                f"<div><i style='background:{OPEN_COLOUR};border-radius:50%'></i>"
                f"{html.escape(lab['layer_by_grid'])}</div>",
            )
        )
    points = _Points(label("requests.layer", lang), rows, show=True)
    points.add_to(m)
    ring = "background:#fff;border-radius:50%;border:3px solid {c};box-sizing:border-box"
    out.append(
        (
            points,
            f"<div><i style='{ring.format(c=OPEN_COLOUR)}'></i>{html.escape(lab['layer'])}</div>"
            f"<div><i style='{ring.format(c=OVERDUE_COLOUR)}'></i>"
            f"{html.escape(lab['layer'])} · {html.escape(lab['overdue'])}</div>",
        )
    )
    return out
