/* gridplan edit: the page. Talks to the local server's JSON API (gridplan/edit/server.py). */
"use strict";
(function () {
  const T = CONFIG.labels;
  const CANVAS_FROM = 3000; // buildings drawn on a canvas above this many
  const $ = (id) => document.getElementById(id);
  const esc = (s) => String(s == null ? "" : s).replace(/[&<>"]/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]));
  let state = null;
  let selected = new Set();
  let pickedGrid = null;
  let lastTouched = [];
  let pending = null; // a change waiting for "accept anyway": {path, body}
  const hh = {}; // building -> households
  const bLayers = {}; // building -> Leaflet layer

  // static texts
  const texts = {
    title: "title", help: "help", "h-sel": "selected", "l-target": "move_to", move: "move",
    clear: "clear", lasso: "lasso", split: "split", "l-merge": "merge_with", merge: "merge",
    "h-grid": "grid", lock: "lock", unlock: "unlock", "h-checks": "checks",
    "h-viol": "violations", undo: "undo", redo: "redo", reoptimise: "reoptimise",
    "l-by": "by", "l-out": "save_to", "l-overwrite": "overwrite", save: "save",
    "h-edits": "edits", "d-title": "accept_title", "l-reason": "accept_reason",
    accept: "accept", cancel: "cancel", "h-actions": "edits",
  };
  for (const [id, key] of Object.entries(texts)) $(id).textContent = T[key];
  $("h-actions").textContent = "";
  $("out").value = CONFIG.out;

  const map = L.map("map", { boxZoom: false, preferCanvas: false });
  L.tileLayer("https://tile.openstreetmap.org/{z}/{x}/{y}.png", {
    maxZoom: 19, attribution: "© OpenStreetMap",
  }).addTo(map);
  const gridLayer = L.geoJSON(null, {
    style: (f) => gridStyle(f.properties),
    onEachFeature: (f, layer) => {
      layer.on("click", () => pickGrid(f.properties.grid_id));
    },
  }).addTo(map);
  const labelLayer = L.layerGroup().addTo(map);
  // a city's grid labels hide each other when zoomed out: shown from this zoom on (many grids)
  const LABEL_ZOOM = 15, MANY_GRIDS = 60;
  function showLabels() {
    const on = !state || state.grids.features.length <= MANY_GRIDS || map.getZoom() >= LABEL_ZOOM;
    if (on && !map.hasLayer(labelLayer)) labelLayer.addTo(map);
    if (!on && map.hasLayer(labelLayer)) map.removeLayer(labelLayer);
  }
  map.on("zoomend", showLabels);
  let buildingLayer = null;

  function gridStyle(p) {
    const bad = p.bounds !== "ok" || p.hard;
    return {
      className: "grid g-" + p.grid_id,
      color: bad ? "#b00020" : p.locked ? "#111" : "#444",
      weight: p.locked ? 4 : bad ? 3 : 1.5,
      dashArray: p.locked ? "6 4" : null,
      fillColor: p.color, fillOpacity: 0.18,
    };
  }
  function gridColor(g) {
    const f = state.grids.features.find((x) => x.properties.grid_id === g);
    return f ? f.properties.color : "#888";
  }
  function buildingStyle(id) {
    const sel = selected.has(id);
    return {
      color: sel ? "#0050b3" : "#333", weight: sel ? 3 : 0.6,
      fillColor: sel ? "#1677ff" : gridColor(state.grid_of[id]), fillOpacity: sel ? 0.9 : 0.75,
    };
  }

  // states leave out what the original plan had (/api/base, loaded once)
  let base = { grids: {}, grid_of: {} };
  function full(s) {
    if (!s.grid_of_delta) return s;
    for (const f of s.grids.features) if (!f.geometry) f.geometry = base.grids[f.properties.grid_id];
    s.grid_of = { ...base.grid_of, ...s.grid_of };
    return s;
  }

  async function api(path, body) {
    $("status").textContent = T.busy;
    document.body.dataset.busy = "1";
    const opts = body === undefined ? {} : {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    };
    const r = await fetch(path, opts);
    const data = await r.json();
    $("status").textContent = "";
    document.body.dataset.busy = "0";
    return { status: r.status, data };
  }

  function select(id, add) {
    if (!add) selected = new Set([id]);
    else if (selected.has(id)) selected.delete(id);
    else selected.add(id);
    renderSelection();
  }

  // restyle only the buildings whose selection changed (a city has thousands); all of them
  // when the grids changed (render)
  let styled = new Set();
  function renderSelection(all) {
    const ids = all ? Object.keys(bLayers) : new Set([...styled, ...selected]);
    for (const id of ids) if (bLayers[id]) bLayers[id].setStyle(buildingStyle(id));
    styled = new Set(selected);
    let n = 0;
    for (const id of selected) n += hh[id] || 0;
    $("sel-count").textContent = selected.size + " (" + [...selected].slice(0, 6).join(", ")
      + (selected.size > 6 ? " …" : "") + ")";
    $("sel-hh").textContent = T.households + " " + n;
    const from = new Set([...selected].map((b) => state.grid_of[b]));
    const comm = new Set([...from].map((g) => communityOf(g)));
    // a selection spanning grids may go to any of them (its buildings already there stay)
    const near = new Set(from.size > 1 ? from : []);
    for (const g of from) for (const x of state.neighbours[g] || []) if (!from.has(x)) near.add(x);
    const sel = $("target");
    const keep = sel.value;
    sel.innerHTML = "";
    const others = state.grids.features.map((f) => f.properties)
      .filter((p) => comm.has(p.community_id) && !from.has(p.grid_id) && !near.has(p.grid_id));
    for (const g of [...near].sort()) sel.add(new Option(g + " · " + households(g), g));
    for (const p of others) sel.add(new Option(p.grid_id + T.not_neighbour, p.grid_id));
    if ([...sel.options].some((o) => o.value === keep)) sel.value = keep;
    $("move").disabled = selected.size === 0 || sel.options.length === 0;
    $("split").disabled = selected.size === 0 || from.size !== 1;
  }
  function communityOf(g) {
    const f = state.grids.features.find((x) => x.properties.grid_id === g);
    return f ? f.properties.community_id : null;
  }
  function households(g) {
    const c = state.checks[g];
    return c ? c.households : 0;
  }

  function pickGrid(g) {
    pickedGrid = g;
    $("grid-pick").value = g;
    const c = state.checks[g] || {};
    const locked = state.locks.includes(g);
    $("grid-info").innerHTML = esc(g) + " · " + esc(T.households) + " " + esc(c.households)
      + " [" + state.bounds.join("–") + "]" + (locked ? " · " + esc(T.locked) : "");
    $("lock").disabled = locked;
    $("unlock").disabled = !locked;
    const mw = $("merge-with");
    mw.innerHTML = "";
    for (const x of state.neighbours[g] || []) mw.add(new Option(x + " · " + households(x), x));
    $("merge").disabled = locked || mw.options.length === 0;
  }

  function renderChecks(grids) {
    if (!grids.length) { $("checks").innerHTML = '<span class="muted">' + esc(T.none) + "</span>"; return; }
    let h = "<table><tr><th>" + esc(T.grid) + "</th><th>" + esc(T.households) + "</th><th>"
      + esc(T.contiguity) + "</th><th>" + esc(T.barrier) + "</th><th>" + esc(T.compactness)
      + "</th></tr>";
    const extra = [];
    for (const g of grids) {
      const c = state.checks[g];
      if (!c) continue;
      if (c.merged_into) {
        h += '<tr class="check merged" data-grid="' + esc(g) + '"><td>' + esc(g) + '</td><td colspan="4">'
          + esc(T.merged_into.replace("{keep}", c.merged_into)) + "</td></tr>";
        if (c.head) extra.push(esc(g) + " · " + esc(T.heads_merged.replace("{heads}",
          [c.head, (state.checks[c.merged_into] || {}).head].filter(Boolean).join(", "))));
        if (c.units_affected.length) extra.push(esc(g) + " · " + esc(T.units_affected) + ": "
          + c.units_affected.length);
        continue;
      }
      const base = state.base_households[g];
      const okB = c.bounds === "ok";
      const contiguous = c.pieces <= 1 && c.outside.length === 0;
      h += '<tr class="check" data-grid="' + esc(g) + '"><td>' + esc(g) + "</td>"
        + '<td class="' + (okB ? "good" : "bad") + ' hh">' + (base !== undefined ? base + " → " : "")
        + c.households + " [" + c.min + "–" + c.max + "]</td>"
        + '<td class="' + (contiguous ? "good" : "bad") + '">' + (contiguous ? T.ok : T.bad) + "</td>"
        + '<td class="' + (c.barrier_sides > 1 ? "bad" : "good") + '">'
        + (c.barrier_sides > 1 ? T.bad : T.ok) + "</td><td>" + c.compactness + "</td></tr>";
      if (c.units_affected.length) extra.push(esc(g) + " · " + esc(T.units_affected) + ": "
        + esc(c.units_affected.slice(0, 8).join(", ")) + (c.units_affected.length > 8 ? " … (" + c.units_affected.length + ")" : ""));
      if (c.coverage) extra.push(coverageLine(g, c.coverage));
      if (c.head_outside) extra.push(esc(g) + " · " + esc(T.staffing) + ": "
        + '<span class="bad">' + esc(T.head_outside.replace("{head}", c.head)) + "</span>");
    }
    $("checks").innerHTML = h + "</table>" + extra.map((x) => "<div>" + x + "</div>").join("");
  }

  const pct = (x) => (x == null ? "–" : Math.round(100 * x) + "%");
  function coverageLine(g, cov) {
    // share of the grid's households within each tier's walk minutes: before → after
    let h = '<div class="coverage" data-grid="' + esc(g) + '" data-changed="' + (cov.changed ? 1 : 0)
      + '">' + esc(g) + " · " + esc(T.coverage) + ": ";
    if (!cov.changed) return h + '<span class="good">' + esc(T.coverage_same) + "</span></div>";
    const parts = [];
    state.coverage_keys.forEach((k, i) => {
      const b = cov.before ? cov.before[i] : null, a = cov.after ? cov.after[i] : null;
      if (b != null && a != null && Math.abs(a - b) < 0.005) return;
      parts.push('<span class="' + (a != null && b != null && a < b ? "bad" : "") + '" data-key="'
        + esc(k) + '">' + esc(state.coverage_labels[i]) + " " + pct(b) + " → " + pct(a) + "</span>");
    });
    return h + esc(T.coverage_changed) + ": " + parts.join("; ") + "</div>";
  }

  function render() {
    gridLayer.clearLayers();
    gridLayer.addData(state.grids);
    labelLayer.clearLayers();
    gridLayer.eachLayer((layer) => {
      const p = layer.feature.properties;
      L.tooltip({ permanent: true, direction: "center", className: "grid-label" })
        .setContent(esc(p.grid_id) + "<br>" + p.households + (p.locked ? " 🔒" : ""))
        .setLatLng(layer.getBounds().getCenter()).addTo(labelLayer);
    });
    showLabels();
    if (buildingLayer) buildingLayer.bringToFront();
    for (const id of [...selected]) if (!(id in state.grid_of)) selected.delete(id);
    renderSelection(true);
    const gp = $("grid-pick");
    gp.innerHTML = "";
    for (const f of state.grids.features) gp.add(new Option(f.properties.grid_id, f.properties.grid_id));
    if (pickedGrid && state.grid_of && state.checks[pickedGrid]) pickGrid(pickedGrid);
    else pickGrid(gp.value);
    renderChecks(lastTouched.length ? lastTouched : state.last);
    $("violations").innerHTML = state.violations.length
      ? state.violations.map((v) => '<li class="' + (v.hard ? "bad hard" : "bad") + '" data-kind="'
        + esc(v.kind) + '" data-grid="' + esc(v.grid_id) + '">' + esc(v.text) + "</li>").join("")
      : '<li class="good">' + esc(T.none) + "</li>";
    $("edits").innerHTML = state.moves.map((m) => '<li data-kind="' + esc(m.kind) + '"><b>'
      + esc(T["kind_" + m.kind] || m.kind) + "</b> " + esc(m.buildings.slice(0, 8).join(", "))
      + (m.buildings.length > 8 ? " … (" + m.buildings.length + ")" : "")
      + (m.grid_id ? " → " + esc(m.grid_id) : "") + (m.reason ? " · " + esc(m.reason) : "")
      + ' <span class="muted">' + esc(m.by || "") + " " + esc(m.at || "") + "</span></li>").join("");
    $("undo").disabled = !state.can_undo;
    $("redo").disabled = !state.can_redo;
    $("reopt-state").textContent = state.reoptimised ? T.reoptimised : "";
    if (!$("by").value) $("by").value = state.by;
    if (state.saved_to) $("status").textContent = T.saved.replace("{out}", state.saved_to);
    document.body.dataset.moves = String(state.moves.length);
  }

  function done(resp) {
    if (resp.status === 409) {
      $("d-text").textContent = resp.data.error;
      $("reason").value = "";
      $("accept").disabled = true;
      $("dialog").style.display = "flex";
      return;
    }
    if (resp.status !== 200) {
      $("status").innerHTML = '<span class="bad" id="error">' + esc(resp.data.error) + "</span>";
      return;
    }
    state = full(resp.data.state);
    lastTouched = resp.data.touched || state.last || [];
    // the grid panel follows the change: the first grid it touched that still exists
    pickedGrid = lastTouched.find((g) => state.checks[g] && !state.checks[g].merged_into) || pickedGrid;
    render();
    if (resp.data.saved) $("status").textContent = T.saved.replace("{out}", resp.data.saved);
    if (resp.data.reoptimised === 0) $("status").textContent = T.reoptimise_none;
  }

  // a change that may break a hard rule: sent, and sent again with "accept anyway"
  async function change(path, body) {
    pending = { path, body };
    const resp = await api(path, { ...body, accept: false, by: $("by").value });
    if (resp.status === 200) selected = new Set();
    done(resp);
  }

  $("move").onclick = () => change("/api/move", { buildings: [...selected], grid_id: $("target").value });
  $("split").onclick = () => change("/api/split", { buildings: [...selected] });
  $("merge").onclick = () => change("/api/merge", { grid_id: $("grid-pick").value, other: $("merge-with").value });
  $("clear").onclick = () => { selected = new Set(); renderSelection(); };
  $("reason").oninput = () => { $("accept").disabled = !$("reason").value.trim(); };
  $("accept").onclick = async () => {
    $("dialog").style.display = "none";
    const body = { ...pending.body, accept: true, reason: $("reason").value, by: $("by").value };
    const resp = await api(pending.path, body);
    if (resp.status === 200) selected = new Set();
    done(resp);
  };
  $("cancel").onclick = () => { $("dialog").style.display = "none"; pending = null; };
  $("grid-pick").onchange = () => pickGrid($("grid-pick").value);
  $("lock").onclick = async () => done(await api("/api/lock", { grid_id: $("grid-pick").value, locked: true }));
  $("unlock").onclick = async () => done(await api("/api/lock", { grid_id: $("grid-pick").value, locked: false }));
  $("reoptimise").onclick = async () => done(await api("/api/reoptimise", { by: $("by").value }));
  $("undo").onclick = async () => { lastTouched = []; done(await api("/api/undo", {})); };
  $("redo").onclick = async () => { lastTouched = []; done(await api("/api/redo", {})); };
  $("save").onclick = async () => done(await api("/api/save", {
    out: $("out").value, overwrite: $("overwrite").checked,
  }));

  // box selection: hold Shift (or Ctrl) and drag; lasso: the lasso button, then draw around
  const box = $("boxsel");
  let start = null;
  let lasso = null; // the lasso being drawn: [latlng, ...]
  let lassoLine = null;
  let lassoMode = false;
  const centroids = {}; // building -> [lat, lng] of its footprint's centroid

  function ringCentroid(ring) {
    // area-weighted centroid of a closed ring of [lng, lat], taken relative to its first
    // vertex (degrees near 100 would cancel away the footprint's tiny area)
    const x0 = ring[0][0], y0 = ring[0][1];
    let a = 0, x = 0, y = 0;
    for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
      const xi = ring[i][0] - x0, yi = ring[i][1] - y0, xj = ring[j][0] - x0, yj = ring[j][1] - y0;
      const f = xj * yi - xi * yj;
      a += f; x += (xj + xi) * f; y += (yj + yi) * f;
    }
    if (Math.abs(a) < 1e-24) {
      let sx = 0, sy = 0;
      for (const p of ring) { sx += p[0]; sy += p[1]; }
      return [sy / ring.length, sx / ring.length];
    }
    return [y0 + y / (3 * a), x0 + x / (3 * a)];
  }
  function footprintCentroid(geom) {
    // the centroid of the largest ring (outer ring of the largest part)
    const polys = geom.type === "Polygon" ? [geom.coordinates] : geom.coordinates;
    let best = null, bestA = -1;
    for (const poly of polys) {
      const ring = poly[0];
      let a = 0;
      for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
        a += ring[j][0] * ring[i][1] - ring[i][0] * ring[j][1];
      }
      if (Math.abs(a) > bestA) { bestA = Math.abs(a); best = ring; }
    }
    return ringCentroid(best);
  }
  function inPolygon(pt, poly) {
    // ray casting: is [lat, lng] inside the polygon of [lat, lng]?
    let inside = false;
    for (let i = 0, j = poly.length - 1; i < poly.length; j = i++) {
      const yi = poly[i][0], xi = poly[i][1], yj = poly[j][0], xj = poly[j][1];
      if ((yi > pt[0]) !== (yj > pt[0])
          && pt[1] < ((xj - xi) * (pt[0] - yi)) / (yj - yi) + xi) inside = !inside;
    }
    return inside;
  }
  function gridAt(pt) {
    // the grid whose polygon holds [lat, lng] (outer rings)
    for (const f of state.grids.features) {
      const g = f.geometry;
      const polys = g.type === "Polygon" ? [g.coordinates] : g.coordinates;
      for (const p of polys) {
        if (inPolygon(pt, p[0].map((c) => [c[1], c[0]]))) return f.properties.grid_id;
      }
    }
    return null;
  }
  function selectInside(poly) {
    const before = selected.size;
    for (const [id, c] of Object.entries(centroids)) if (inPolygon(c, poly)) selected.add(id);
    renderSelection();
    return selected.size - before;
  }
  function setLasso(on) {
    lassoMode = on;
    $("lasso").classList.toggle("on", on);
    $("lasso").setAttribute("aria-pressed", on ? "true" : "false");
    map.getContainer().style.cursor = on ? "crosshair" : "";
  }
  $("lasso").onclick = () => setLasso(!lassoMode);

  // pointerdown comes before Leaflet's drag handlers see the press (they listen to it too)
  map.getContainer().addEventListener("pointerdown", (e) => {
    if (e.button !== 0) return;
    if (lassoMode) {
      e.preventDefault(); e.stopPropagation();
      map.dragging.disable();
      lasso = [map.mouseEventToLatLng(e)];
      lassoLine = L.polyline(lasso, { color: "#0050b3", weight: 2, dashArray: "4 3" }).addTo(map);
      return;
    }
    if (!e.shiftKey && !e.ctrlKey) return;
    e.preventDefault(); e.stopPropagation();
    map.dragging.disable();
    start = map.mouseEventToContainerPoint(e);
  }, true);
  map.getContainer().addEventListener("mousedown", (e) => {
    if (start || lasso) { e.preventDefault(); e.stopPropagation(); }
  }, true);
  window.addEventListener("pointermove", (e) => {
    if (lasso) {
      lasso.push(map.mouseEventToLatLng(e));
      lassoLine.setLatLngs(lasso);
      return;
    }
    if (!start) return;
    const p = map.mouseEventToContainerPoint(e);
    const r = map.getContainer().getBoundingClientRect();
    Object.assign(box.style, {
      display: "block", left: r.left + Math.min(p.x, start.x) + "px",
      top: r.top + Math.min(p.y, start.y) + "px",
      width: Math.abs(p.x - start.x) + "px", height: Math.abs(p.y - start.y) + "px",
    });
  });
  window.addEventListener("pointerup", (e) => {
    if (lasso) {
      const poly = lasso.map((ll) => [ll.lat, ll.lng]);
      map.removeLayer(lassoLine);
      lasso = null; lassoLine = null;
      map.dragging.enable();
      if (poly.length >= 3) selectInside(poly);
      setLasso(false);
      return;
    }
    if (!start) return;
    const end = map.mouseEventToContainerPoint(e);
    const a = map.containerPointToLatLng(start), b = map.containerPointToLatLng(end);
    start = null; box.style.display = "none"; map.dragging.enable();
    selectInside([[a.lat, a.lng], [a.lat, b.lng], [b.lat, b.lng], [b.lat, a.lng]]);
  });

  // for tests and scripts: where a building or grid is on the screen
  window.editApp = {
    buildingPoint: (id) => map.latLngToContainerPoint(L.latLng(centroids[id])),
    toLatLng: (x, y) => { const ll = map.containerPointToLatLng([x, y]); return [ll.lat, ll.lng]; },
    centroid: (id) => centroids[id],
    zoomTo: (ids) => map.fitBounds(L.latLngBounds(ids.map((id) => centroids[id])).pad(0.5), { animate: false }),
    selected: () => [...selected],
    state: () => state,
  };

  (async function start() {
    const b = await api("/api/buildings");
    base = (await api("/api/base")).data;
    const s = await api("/api/state");
    state = full(s.data);
    for (const f of b.data.features) hh[f.properties.building_id] = f.properties.households;
    // many footprints draw faster on one canvas than as SVG paths (clicks work on both)
    // (in a pane above the grids: a canvas takes every click over it, so a click that hits
    // no building picks the grid under it by point in polygon)
    const many = b.data.features.length > CANVAS_FROM;
    if (many) {
      map.createPane("buildings").style.zIndex = 450;
      map.on("click", (e) => { const g = gridAt([e.latlng.lat, e.latlng.lng]); if (g) pickGrid(g); });
    }
    buildingLayer = L.geoJSON(b.data, {
      renderer: many ? L.canvas({ padding: 0.2, pane: "buildings" }) : undefined,
      style: (f) => ({ className: "bld b-" + f.properties.building_id, ...buildingStyle(f.properties.building_id) }),
      onEachFeature: (f, layer) => {
        const id = f.properties.building_id;
        bLayers[id] = layer;
        centroids[id] = footprintCentroid(f.geometry);
        layer.bindTooltip(id + " · " + f.properties.households);
        layer.on("click", (e) => { L.DomEvent.stopPropagation(e); select(id, e.originalEvent.shiftKey); });
      },
    }).addTo(map);
    map.fitBounds(buildingLayer.getBounds(), { padding: [10, 10] });
    render();
    if (state.restored) $("status").textContent = T.restored.replace("{n}", state.restored);
    document.body.dataset.ready = "1";
  })();
})();
