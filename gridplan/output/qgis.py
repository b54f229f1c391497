"""QGIS styles inside ``plan.gpkg``: the GeoPackage ``layer_styles`` table QGIS reads, so that
grids, units, catchments (the coverage areas), sites and facilities open coloured and labelled.

One QML style per spatial layer, the layer's default (``useAsDefault``). The table is the one
QGIS itself writes when a style is saved to a GeoPackage; it is registered in
``gpkg_contents`` as an attributes table so the file stays a valid GeoPackage.

Example
-------
>>> from gridplan.output.qgis import write_layer_styles
>>> write_layer_styles("out/plan.gpkg")                         # doctest: +SKIP
['grids', 'units', 'sites', ...]
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from xml.sax.saxutils import quoteattr

__all__ = ["STYLES", "layer_style_qml", "write_layer_styles"]

#: Per layer: geometry kind, fill colour (r,g,b,a), outline colour, outline width (mm),
#: the field labelled (``None``: no labels) and, for a layer coloured by category, the field
#: and its values with their colours.
STYLES: dict[str, dict[str, object]] = {
    "communities": {"kind": "fill", "fill": "0,0,0,0", "line": "120,40,140,255", "width": 1.2,
                    "label": "name"},
    "grids": {"kind": "fill", "fill": "78,121,167,45", "line": "31,70,140,255", "width": 0.7,
              "label": "grid_id"},
    "units": {"kind": "fill", "fill": "242,142,43,35", "line": "200,100,20,200", "width": 0.25,
              "label": None},
    "buildings": {"kind": "fill", "fill": "190,190,190,200", "line": "110,110,110,255",
                  "width": 0.1, "label": None},
    "water": {"kind": "fill", "fill": "166,206,227,200", "line": "100,150,200,255",
              "width": 0.2, "label": None},
    "catchments": {"kind": "fill", "fill": "26,152,80,40", "line": "26,152,80,160",
                   "width": 0.3, "label": None, "by": "tier",
                   "classes": {"5min": "26,152,80,60", "10min": "253,174,97,50",
                               "15min": "78,121,167,40"}},
    "facilities": {"kind": "marker", "fill": "44,123,182,255", "line": "255,255,255,255",
                   "width": 0.3, "label": "name"},
    "sites": {"kind": "marker", "fill": "215,25,28,255", "line": "255,255,255,255",
              "width": 0.4, "label": "site_id"},
}  # fmt: skip


def _symbol(kind: str, fill: str, line: str, width: float, name: str = "0") -> str:
    if kind == "marker":
        layer = (
            '<layer class="SimpleMarker" enabled="1" locked="0" pass="0"><Option type="Map">'
            f'<Option type="QString" name="color" value="{fill}"/>'
            f'<Option type="QString" name="outline_color" value="{line}"/>'
            f'<Option type="QString" name="outline_width" value="{width}"/>'
            '<Option type="QString" name="name" value="circle"/>'
            '<Option type="QString" name="size" value="3"/>'
            '<Option type="QString" name="size_unit" value="MM"/>'
            "</Option></layer>"
        )
    else:
        layer = (
            '<layer class="SimpleFill" enabled="1" locked="0" pass="0"><Option type="Map">'
            f'<Option type="QString" name="color" value="{fill}"/>'
            f'<Option type="QString" name="outline_color" value="{line}"/>'
            f'<Option type="QString" name="outline_width" value="{width}"/>'
            '<Option type="QString" name="outline_width_unit" value="MM"/>'
            '<Option type="QString" name="style" value="solid"/>'
            "</Option></layer>"
        )
    return (
        f'<symbol type="{kind}" name="{name}" alpha="1" clip_to_extent="1" force_rhr="0">'
        f"{layer}</symbol>"
    )


def layer_style_qml(layer: str) -> str:
    """The QML style of one plan layer (a QGIS ``<qgis>`` document)."""
    st = STYLES[layer]
    kind, fill, line = str(st["kind"]), str(st["fill"]), str(st["line"])
    width = float(st["width"])  # type: ignore[arg-type]
    classes = st.get("classes")
    if isinstance(classes, dict):
        cats = "".join(
            f'<category symbol="{i}" value={quoteattr(str(v))} label={quoteattr(str(v))} '
            'render="true"/>'
            for i, v in enumerate(classes)
        )
        symbols = "".join(
            _symbol(kind, str(c), line, width, name=str(i)) for i, c in enumerate(classes.values())
        )
        renderer = (
            f'<renderer-v2 type="categorizedSymbol" attr={quoteattr(str(st["by"]))} '
            'symbollevels="0" enableorderby="0" forceraster="0">'
            f"<categories>{cats}</categories><symbols>{symbols}</symbols></renderer-v2>"
        )
    else:
        renderer = (
            '<renderer-v2 type="singleSymbol" symbollevels="0" enableorderby="0" '
            f'forceraster="0"><symbols>{_symbol(kind, fill, line, width)}</symbols></renderer-v2>'
        )
    field = st.get("label")
    labeling = ""
    if field:
        labeling = (
            '<labeling type="simple"><settings calloutType="simple">'
            f'<text-style fieldName={quoteattr(str(field))} isExpression="0" fontSize="9" '
            'fontWeight="75" textColor="20,20,20,255" fontFamily="Noto Sans CJK SC">'
            '<text-buffer bufferDraw="1" bufferSize="1" bufferColor="255,255,255,255"/>'
            "</text-style>"
            f'<placement placement="{0 if kind == "marker" else 1}" dist="1"/>'
            '<rendering obstacle="1" displayAll="0"/>'
            "</settings></labeling>"
        )
    return (
        "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n"
        f'<qgis version="3.28.0" styleCategories="Symbology|Labeling" '
        f'labelsEnabled="{1 if field else 0}">'
        f"{renderer}{labeling}</qgis>\n"
    )


def write_layer_styles(path: str | Path, *, when: str | None = None) -> list[str]:
    """Add (or replace) the ``layer_styles`` table of a GeoPackage with a default style for
    every plan layer it holds that :data:`STYLES` knows.

    Parameters
    ----------
    path
        The ``plan.gpkg``.
    when
        The ``update_time`` written (ISO time; the plan's creation time keeps the file the
        same for the same plan); ``None`` for 1970-01-01.

    Returns
    -------
    list of str
        The layers styled.
    """
    stamp = when or "1970-01-01T00:00:00Z"
    con = sqlite3.connect(str(path))
    try:
        present = {
            name: geom
            for name, geom in con.execute(
                "SELECT table_name, column_name FROM gpkg_geometry_columns"
            )
        }
        styled = [name for name in STYLES if name in present]
        con.execute("DROP TABLE IF EXISTS layer_styles")
        con.execute("DELETE FROM gpkg_contents WHERE table_name = 'layer_styles'")
        con.execute(
            "CREATE TABLE layer_styles (id INTEGER PRIMARY KEY AUTOINCREMENT, "
            "f_table_catalog TEXT(256), f_table_schema TEXT(256), f_table_name TEXT(256), "
            "f_geometry_column TEXT(256), styleName TEXT(30), styleQML TEXT, styleSLD TEXT, "
            "useAsDefault BOOLEAN, description TEXT, owner TEXT(30), ui TEXT(30), "
            "update_time DATETIME)"
        )
        con.executemany(
            "INSERT INTO layer_styles (f_table_catalog, f_table_schema, f_table_name, "
            "f_geometry_column, styleName, styleQML, styleSLD, useAsDefault, description, "
            "owner, ui, update_time) VALUES ('', '', ?, ?, ?, ?, '', 1, ?, '', '', ?)",
            [
                (name, present[name], name, layer_style_qml(name), "gridplan", stamp)
                for name in styled
            ],
        )
        con.execute(
            "INSERT INTO gpkg_contents (table_name, data_type, identifier, last_change) "
            "VALUES ('layer_styles', 'attributes', 'layer_styles', ?)",
            (stamp,),
        )
        con.commit()
    finally:
        con.close()
    return styled
