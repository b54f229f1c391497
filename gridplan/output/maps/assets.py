"""Styles, scripts and colours of ``map.html``, and its compact GeoJSON layer element.

Private to :mod:`gridplan.output.maps`. Pop-ups are built in the browser from compact per-feature
data
(:data:`JS_HELPERS`): a layer's row labels are written once (its "spec"), each feature holds
only its values; :class:`GeoLayer` is the folium element that carries such a layer.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import folium
import numpy as np
import shapely
from branca.element import MacroElement, Template

#: Grid fill colours; a greedy colouring of grid adjacency picks among them.
PALETTE: tuple[str, ...] = (
    "#4e79a7",
    "#f28e2b",
    "#59a14f",
    "#e15759",
    "#b07aa1",
    "#76b7b2",
    "#edc948",
    "#ff9da7",
    "#9c755f",
    "#8cd17d",
)

#: Facility category -> marker colour.
CATEGORY_COLORS: dict[str, str] = {
    "service_station": "#d62728",
    "kindergarten": "#ff7f0e",
    "nursery": "#ffbb78",
    "elderly_daycare": "#9467bd",
    "health_station": "#2ca02c",
    "primary_school": "#1f77b4",
    "secondary_school": "#17becf",
    "market": "#8c564b",
    "supermarket": "#c49c94",
    "convenience_store": "#e377c2",
    "health_center": "#98df8a",
    "culture_center": "#bcbd22",
    "sports": "#7f7f7f",
    "elderly_home": "#c5b0d5",
}

#: Facility category -> short glyph drawn on its marker (an icon without any font download).
CATEGORY_GLYPHS: dict[str, dict[str, str]] = {
    "zh": {
        "service_station": "服",
        "kindergarten": "幼",
        "nursery": "托",
        "elderly_daycare": "老",
        "health_station": "卫",
        "primary_school": "小",
        "secondary_school": "中",
        "market": "菜",
        "supermarket": "超",
        "convenience_store": "便",
        "health_center": "医",
        "culture_center": "文",
        "sports": "体",
        "elderly_home": "养",
    },
    "en": {
        "service_station": "S",
        "kindergarten": "K",
        "nursery": "N",
        "elderly_daycare": "D",
        "health_station": "H",
        "primary_school": "P",
        "secondary_school": "M",
        "market": "F",
        "supermarket": "U",
        "convenience_store": "C",
        "health_center": "HC",
        "culture_center": "A",
        "sports": "SP",
        "elderly_home": "E",
    },
}

COVERAGE_COLORS: dict[str, str] = {
    "cov_all": "#1a9850",
    "cov_part": "#fdae61",
    "cov_none": "#d73027",
    "cov_unknown": "#bdbdbd",
}

TIANDITU_URL = (
    "https://t{{s}}.tianditu.gov.cn/{layer}_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0"
    "&LAYER={layer}&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles"
    "&TILEMATRIX={{z}}&TILEROW={{y}}&TILECOL={{x}}&tk={key}"
)
GAODE_URL = (
    "https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8"
    "&x={x}&y={y}&z={z}"
)

# Default folium assets the map does not use (no AwesomeMarkers icons, no Bootstrap widgets):
# dropped so the page loads less from CDNs.
UNUSED_JS = {"jquery", "bootstrap", "awesome_markers"}
UNUSED_CSS = {
    "bootstrap_css",
    "glyphicons_css",
    "awesome_markers_font_css",
    "awesome_markers_css",
    "awesome_rotate_css",
}

CSS = """
<style>
.gp-label {background: rgba(255,255,255,0.8); border: 1px solid #555; border-radius: 3px;
  padding: 1px 4px; font: 12px/1.2 sans-serif; box-shadow: none; white-space: nowrap;
  display: inline-block; transform: translate(-50%, -50%); pointer-events: none;}
.gp-label-icon {background: none; border: none; width: 0; height: 0;}
.gp-hide-labels .gp-label {display: none;}
.leaflet-control-search .search-input {min-width: 11em;}
.gp-picker select {font: 12px sans-serif; padding: 3px; max-width: 16em; border: none;}
.gp-pop {font: 12px/1.4 sans-serif; max-height: 320px; overflow-y: auto;}
.gp-pop table {border-collapse: collapse;}
.gp-pop th {text-align: left; padding-right: 8px; font-weight: 600; vertical-align: top;}
.gp-pop td {padding: 0 6px 0 0;}
.gp-pop .gp-members th, .gp-pop .gp-members td {border-bottom: 1px solid #eee;}
.gp-icon {border-radius: 50%; color: #fff; text-align: center; font: bold 11px/20px sans-serif;
  border: 1px solid #fff; box-shadow: 0 0 2px #000;}
.gp-site {color: #d4a000; font: 24px/24px sans-serif; text-shadow: 0 0 3px #000;}
.gp-legend {position: fixed; bottom: 28px; right: 10px; z-index: 1000; background: #fff;
  padding: 6px 8px; border-radius: 4px; box-shadow: 0 0 4px rgba(0,0,0,.4);
  font: 12px/1.5 sans-serif; max-height: 45%; overflow-y: auto;}
.gp-legend i {display: inline-block; width: 12px; height: 12px; margin-right: 5px;
  vertical-align: middle; border: 1px solid #666;}
</style>
"""


# --------------------------------------------------------------------------- JS layers

# Pop-ups are built in the browser from compact per-feature data: a layer's row labels are
# written once (its "spec"), each feature holds only its values. Text is escaped in JS.
JS_HELPERS = """
<script>
var gp = {
  esc: function (s) {
    return String(s === null || s === undefined ? '' : s).replace(/[&<>"']/g, function (c) {
      return {'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;'}[c];
    });
  },
  val: function (v, spec) {
    if (v === null || v === undefined || v === '') {
      return '<i>' + gp.esc(spec.vacant) + '</i>';
    }
    if (v && v.k) {
      return v.k.map(function (i) { return gp.esc(spec.lk[i]); }).join('、');
    }
    if (Array.isArray(v)) { return v.map(function (x) { return gp.val(x, spec); }).join('<br>'); }
    return gp.esc(v);
  },
  any: function (m, wanted) {
    if (!m) { return false; }
    for (var i = 0; i < m.length; i++) { if (wanted.indexOf(m[i]) >= 0) { return true; } }
    return false;
  },
  legend: function (map) {
    var box = document.querySelector('.gp-legend');
    if (!box) { return; }
    var shown = 0;
    box.querySelectorAll('.gp-legend-item').forEach(function (el) {
      var name = el.getAttribute('data-gp-layer');
      var on = !name || (window[name] && map.hasLayer(window[name]));
      el.style.display = on ? '' : 'none';
      shown += on ? 1 : 0;
    });
    box.style.display = shown ? '' : 'none';
  },
  declutter: function (labels) {
    var taken = [];
    labels.forEach(function (mk) {
      var el = mk.getElement();
      if (!el || !el.firstChild) { return; }
      var span = el.firstChild;
      span.style.visibility = '';
      var r = span.getBoundingClientRect();
      if (!r.width) { return; }
      var hit = taken.some(function (t) {
        return !(r.right < t.left || r.left > t.right || r.bottom < t.top || r.top > t.bottom);
      });
      if (hit) { span.style.visibility = 'hidden'; } else { taken.push(r); }
    });
  },
  covtip: function (p, spec) {
    var out = p.tip;
    if (p.s !== undefined) { out += ' · ' + gp.esc(spec.cs) + ' ' + p.s + '%'; }
    if (p.m && p.m.length) {
      out += '<br>' + gp.esc(spec.ms) + ': ' + gp.val({k: p.m}, spec);
    }
    return out;
  },
  pop: function (p, spec) {
    var out = '<b>' + gp.esc(p.t) + '</b><table>';
    (spec.keys || []).forEach(function (k, i) {
      if (p.v && i < p.v.length && p.v[i] !== false) {
        out += '<tr><th>' + gp.esc(k) + '</th><td>' + gp.val(p.v[i], spec) + '</td></tr>';
      }
    });
    out += '</table>';
    if (p.x && p.x.length) {
      var rows = p.x.map(function (r) {
        return '<tr>' + r.map(function (c) { return '<td>' + gp.val(c, spec) + '</td>'; })
          .join('') + '</tr>';
      }).join('');
      var head = '<tr>' + (spec.xh || []).map(function (h) {
        return '<th>' + gp.esc(h) + '</th>'; }).join('') + '</tr>';
      var table = '<table class="gp-members">' + head + rows + '</table>';
      if (p.xm) { table += '<i>' + gp.esc(p.xm) + '</i>'; }
      if (spec.xt) { table = '<div><b>' + gp.esc(spec.xt) + '</b></div>' + table; }
      out += spec.xs ? '<details><summary>' + gp.esc(spec.xs) + ' (' + (p.xn || p.x.length)
        + ')</summary>' + table + '</details>' : table;
    }
    return '<div class="gp-pop">' + out + '</div>';
  }
};
</script>
"""


def js_json(data: Any) -> str:
    """Compact JSON safe inside a <script> element (UTF-8 kept, not \\u-escaped)."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return text.replace("</", "<\\/").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


class Data(MacroElement):
    """A JS variable holding GeoJSON shared by several layers (written once)."""

    _template = Template(
        "{% macro script(this, kwargs) %}var {{ this.get_name() }} = {{ this.data_js }};"
        "{% endmacro %}"
    )

    def __init__(self, data: dict[str, Any]) -> None:
        super().__init__()
        self._name = "GpData"
        self.data_js = js_json(data)


class GeoLayer(folium.FeatureGroup):
    """A GeoJSON overlay with compact data, styles from JS and lazily built pop-ups.

    A :class:`folium.FeatureGroup` underneath, so the layer control and the Search plugin
    treat it as one of their own. A lazy layer (by default one hidden at open) creates its
    features when first shown, so a big plan opens fast.
    """

    _template = Template(
        """
{% macro script(this, kwargs) %}
var {{ this.get_name() }}_spec = {{ this.spec_js }};
var {{ this.get_name() }} = L.geoJSON(null, {
  {% if this.style_js %}style: {{ this.style_js }},{% endif %}
  {% if this.point_js %}pointToLayer: {{ this.point_js }},{% endif %}
  {% if this.filter_js %}filter: {{ this.filter_js }},{% endif %}
  onEachFeature: function (f, l) {
    var p = f.properties, spec = {{ this.get_name() }}_spec;
    {% if this.tooltip_js %}
    l.bindTooltip(function () { return {{ this.tooltip_js }}(p, spec); }, spec.tip || {});
    {% elif this.tooltip %}
    if (p.{{ this.tooltip }}) { l.bindTooltip(p.{{ this.tooltip }}, spec.tip || {}); }
    {% endif %}
    {% if this.popup %}
    l.bindPopup(function () { return gp.pop(p, spec); }, {maxWidth: 440});
    {% endif %}
    {% if this.hover %}
    l.on('mouseover', function () { l.setStyle({weight: 3, fillOpacity: 0.5}); });
    l.on('mouseout', function () { l.setStyle(p.style); });
    {% endif %}
  }
});
{% if this.lazy %}
{{ this.get_name() }}.once('add', function () {
  {{ this.get_name() }}.addData({{ this.data_ref }});
});
{% else %}
{{ this.get_name() }}.addData({{ this.data_ref }});
{% endif %}
{% endmacro %}
"""
    )

    def __init__(
        self,
        name: str | None,
        *,
        data: dict[str, Any] | None = None,
        shared: Data | None = None,
        spec: dict[str, Any] | None = None,
        style_js: str | None = None,
        point_js: str | None = None,
        filter_js: str | None = None,
        tooltip: str | None = "tip",
        tooltip_js: str | None = None,
        popup: bool = False,
        hover: bool = False,
        show: bool = True,
        control: bool = True,
        lazy: bool | None = None,
    ) -> None:
        super().__init__(name=name, show=show, control=control)
        # A layer hidden at open builds its features only when first switched on.
        self.lazy = (not show) if lazy is None else lazy
        self._name = "GpLayer"
        self.data_ref = shared.get_name() if shared is not None else js_json(data)
        self.spec_js = js_json(spec or {})
        self.style_js = style_js
        # Points drawn as small circles unless told otherwise (never Leaflet's image markers).
        self.point_js = point_js or ("function (f, ll) { return L.circleMarker(ll, {radius: 4}); }")
        self.filter_js = filter_js
        self.tooltip = tooltip
        self.tooltip_js = tooltip_js
        self.popup = popup
        self.hover = hover


def feature_collection(geoms: np.ndarray, props: Iterable[dict[str, Any]]) -> dict[str, Any]:
    features = []
    for geom, prop in zip(geoms, props, strict=True):
        if geom is None or shapely.is_empty(geom):
            continue
        geometry = json.loads(shapely.to_geojson(geom))
        features.append({"type": "Feature", "properties": prop, "geometry": geometry})
    return {"type": "FeatureCollection", "features": features}
