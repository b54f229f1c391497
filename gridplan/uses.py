"""Deciding each building's use (residential, mixed, non_residential) from all the evidence.

A dataset's ``use`` column wins where given; a planner's ``overrides`` win over everything.
For every other building the use is *inferred* by adding up evidence, each item a signed
weight (positive: not a home) with a reason a planner can read:

=====================================  =========  ===============================================
evidence                               weight     source or motivating figure
=====================================  =========  ===============================================
households given (> 0)                 decides    someone counted households there
OSM ``building=*`` in the tag table    decides    :data:`gridplan.settings.BUILDING_TAG_USES`
name word, strong (大厦, 银行, Hotel)   ± 6        :data:`gridplan.settings.NAME_WORDS`; the word
                                                  nearest the end of the name (the head noun of a
                                                  Chinese or English name: 花园酒店 is a hotel)
name word, weak (中心, 广场, Tower)     ± 2        names of offices and of compounds alike
hotel, school, church … POI inside     + 6        :data:`gridplan.settings.WHOLE_BUILDING_POI_KINDS`
office / bank POIs inside              + 4 / + 1  ``office_poi_count`` (3) and more, or fewer
                                                  (:data:`gridplan.settings.OFFICE_POI_KINDS`):
                                                  branches below homes are common (底商)
shop / restaurant POIs inside          0          a home with one becomes ``mixed``
inside ``landuse=residential``         − 3        :data:`gridplan.settings.LANDUSE_USES`
inside industrial/civil/… land         + 3
inside commercial/retail land          + 1        :data:`gridplan.settings.MIXED_LANDUSES`:
                                                  OSM draws whole mixed city blocks so
height ≥ ``supertall_height_m``        + 6        no Chinese home tower above 250 m; Shanghai
                                                  Tower 632 m held 11 080 "households"
height ≥ ``tall_height_m``             + 2        homes of 107 m and 153 m exist (Lujiazui)
footprint < ``min_residential_…``      + 10       sheds, kiosks, toilets
footprint > ``max_residential_…``      + 5        factories, malls, stations
footprint > ``large_footprint_m2``     + 2        home plates are bounded by daylight and cores
plate depth > ``very_deep_plate_m``    + 4        homes need daylight: slabs are 10–15 m deep
plate depth > ``deep_plate_m``         + 2        Helsinki: apartments 16 m, offices 30 m
plate depth < ``min_plate_depth_m``    + 4        canopies, walls, kiosks
one or two storeys over 1 000 m²       + 2        halls, workshops, markets
prior                                  − 1        most buildings of a town are homes
=====================================  =========  ===============================================

The building is ``non_residential`` when the sum is positive, else ``residential``, and a
residential building with shop or restaurant POIs inside (or a mixed name word or tag) is
``mixed``. ``use_reason`` lists the evidence that decided (strongest first) and, after
"against:", the evidence that lost; ``use_confidence`` is ``high`` when a tag, a strong name
word, a non-residential POI, a given count, the ``use`` column or an override decided,
``medium`` for landuse, weak name words and shop POIs, ``low`` when only size, shape, height or
the prior did (those are the buildings a planner should review).

The plate depth is the diameter of the largest circle inside the footprint: the depth of a
slab, and of each wing of a courtyard block (where the minimum rotated rectangle's short side
would give the whole block's width).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridplan.settings import (
    BUILDING_TAG_USES,
    DEFAULT,
    IGNORED_POI_KINDS,
    LANDUSE_USES,
    MIXED_LANDUSES,
    NAME_WORDS,
    OFFICE_POI_KINDS,
    WHOLE_BUILDING_POI_KINDS,
    Config,
)

__all__ = [
    "USE_COLUMNS",
    "USE_SOURCES",
    "infer_uses",
    "name_evidence",
    "plate_depth",
]

#: Values of ``use_source``.
USE_SOURCES: tuple[str, ...] = ("given", "override", "inferred")
#: Columns :func:`infer_uses` returns.
USE_COLUMNS: tuple[str, ...] = ("use", "use_source", "use_reason", "use_confidence")

_STRONG_NAME = 6.0
_WEAK_NAME = 2.0
_POI_STRONG = 6.0
_POI_OFFICES = 4.0
_POI_OFFICE = 1.0
_LANDUSE = 3.0
_LANDUSE_MIXED = 1.0
_SUPERTALL = 6.0
_TALL = 2.0
_TINY = 10.0
_HUGE = 5.0
_LARGE = 2.0
_VERY_DEEP = 4.0
_DEEP = 2.0
_THIN = 4.0
_HALL = 2.0
_HALL_M2 = 1000.0
_PRIOR = -1.0


@dataclass(frozen=True)
class _Item:
    weight: float
    text: str
    confidence: str  # high, medium, low


def plate_depth(geoms: Sequence[Any] | np.ndarray, *, tolerance: float = 0.5) -> np.ndarray:
    """Plate depth of each polygon: the diameter of the largest circle inside it (metres).

    Parameters
    ----------
    geoms
        Polygons in a metric CRS (points and missing geometries give NaN).
    tolerance
        Precision of the circle search, metres.

    Returns
    -------
    numpy.ndarray
        float64 depths.
    """
    arr = np.asarray(geoms, dtype=object)
    out = np.full(len(arr), np.nan)
    if not len(arr):
        return out
    ok = ~(shapely.is_missing(arr) | shapely.is_empty(arr))
    ok &= np.isin(shapely.get_type_id(arr), [3, 6])
    if ok.any():
        lines = shapely.maximum_inscribed_circle(arr[ok], tolerance=tolerance)
        out[ok] = 2.0 * shapely.length(lines)
    return out


@lru_cache(maxsize=32)
def _word_table(
    extra: tuple[tuple[str, str], ...],
) -> tuple[tuple[re.Pattern[str], str, str, str, str], ...]:
    rows = [*NAME_WORDS, *((w, use, "planner's word", "strong") for w, use in extra)]
    out = []
    for word, use, label, strength in rows:
        if re.search(r"[A-Za-z]", word):
            pattern = re.compile(rf"(?<![A-Za-z]){re.escape(word)}(?![A-Za-z])", re.IGNORECASE)
        else:
            pattern = re.compile(re.escape(word))
        out.append((pattern, word, use, label, strength))
    return tuple(out)


def _extra_words(cfg: Config) -> tuple[tuple[str, str], ...]:
    hs = cfg.households
    return (
        *((w, "residential") for w in hs.residential_words),
        *((w, "non_residential") for w in hs.non_residential_words),
        *((w, "mixed") for w in hs.mixed_words),
    )


def name_evidence(name: Any, *, config: Config | None = None) -> tuple[str, str, str, str] | None:
    """The use a building's name says, from :data:`gridplan.settings.NAME_WORDS`.

    Strong words beat weak ones; among words of one strength the one ending last in the name
    decides (the head noun: 花园酒店 is a hotel, 银行宿舍 a dormitory), then the longer one.

    Parameters
    ----------
    name
        The name (any value; missing gives ``None``).
    config
        Settings (the planner's extra words); ``None`` for the defaults.

    Returns
    -------
    tuple or None
        ``(use, word, label, strength)``, or ``None`` when no word matches.

    Example
    -------
    >>> name_evidence("上海中心大厦")
    ('non_residential', '大厦', 'office', 'strong')
    >>> name_evidence("世茂滨江花园")[0]
    'residential'
    """
    if name is None or not isinstance(name, str) or not name.strip():
        return None
    cfg = config if config is not None else DEFAULT
    best: tuple[int, int, int, str, str, str, str] | None = None
    for pattern, word, use, label, strength in _word_table(_extra_words(cfg)):
        for m in pattern.finditer(name):
            key = (int(strength == "strong"), m.end(), len(word), use, word, label, strength)
            if best is None or key[:3] > best[:3]:
                best = key
    if best is None:
        return None
    return best[3], best[4], best[5], best[6]


def _text(series: pd.Series) -> list[str | None]:
    return [
        None
        if v is None or (not isinstance(v, str) and pd.isna(v)) or not str(v).strip()
        else str(v).strip()
        for v in series.tolist()
    ]


def _numeric(frame: pd.DataFrame, column: str) -> np.ndarray:
    if column not in frame.columns:
        return np.full(len(frame), np.nan)
    return pd.to_numeric(frame[column], errors="coerce").astype("float64").to_numpy()


def _landuse_of(buildings: gpd.GeoDataFrame, landuse: gpd.GeoDataFrame | None) -> list[str | None]:
    """The ``landuse`` value of the smallest landuse polygon holding each building's point."""
    out: list[str | None] = [None] * len(buildings)
    if landuse is None or not len(landuse) or "landuse" not in landuse.columns:
        return out
    lu = landuse.to_crs(buildings.crs) if landuse.crs != buildings.crs else landuse
    geoms = np.asarray(lu.geometry.values)
    values = _text(lu["landuse"])
    area = shapely.area(geoms)
    pts = shapely.point_on_surface(np.asarray(buildings.geometry.values))
    valid = ~shapely.is_missing(pts)
    tree = shapely.STRtree(geoms)
    bi, li = tree.query(pts[valid], predicate="within")
    rows = np.flatnonzero(valid)[bi]
    best: dict[int, tuple[float, int]] = {}
    for r, j in zip(rows.tolist(), li.tolist(), strict=True):
        if values[j] is None:
            continue
        if r not in best or area[j] < best[r][0]:
            best[r] = (float(area[j]), j)
    for r, (_, j) in best.items():
        v = values[j]
        out[r] = v.lower() if v is not None else None
    return out


def _pois_in(
    buildings: gpd.GeoDataFrame, pois: gpd.GeoDataFrame | None
) -> tuple[list[list[str]], list[list[str]], list[list[str]]]:
    """Per building: the whole-building, office and other (shop-like) POI kinds on it."""
    whole: list[list[str]] = [[] for _ in range(len(buildings))]
    office: list[list[str]] = [[] for _ in range(len(buildings))]
    other: list[list[str]] = [[] for _ in range(len(buildings))]
    if pois is None or not len(pois) or "kind" not in pois.columns:
        return whole, office, other
    p = pois.to_crs(buildings.crs) if pois.crs != buildings.crs else pois
    kinds = [None if k is None else k.lower() for k in _text(p["kind"])]
    pgeom = np.asarray(p.geometry.values)
    bgeom = np.asarray(buildings.geometry.values)
    polygonal = np.isin(shapely.get_type_id(bgeom), [3, 6])
    tree = shapely.STRtree(bgeom)
    is_area = np.isin(shapely.get_type_id(pgeom), [3, 6])
    pairs: list[tuple[int, int]] = []
    # point POIs (and lines): on or inside the footprint
    idx = np.flatnonzero(~is_area & ~shapely.is_missing(pgeom))
    if len(idx):
        pi, bi = tree.query(pgeom[idx], predicate="intersects")
        pairs += list(zip(idx[pi].tolist(), bi.tolist(), strict=True))
    # polygon POIs: the ones holding the building's inner point (a hospital campus, a hotel's
    # own outline)
    idx = np.flatnonzero(is_area)
    if len(idx):
        bpts = shapely.point_on_surface(bgeom)
        ptree = shapely.STRtree(pgeom[idx])
        bi, pi = ptree.query(bpts, predicate="within")
        pairs += list(zip(idx[pi].tolist(), bi.tolist(), strict=True))
    for pj, b in sorted(set(pairs)):
        kind = kinds[pj]
        if kind is None or kind in IGNORED_POI_KINDS or not polygonal[b]:
            continue
        if kind in WHOLE_BUILDING_POI_KINDS:
            whole[b].append(kind)
        elif kind in OFFICE_POI_KINDS:
            office[b].append(kind)
        else:
            other[b].append(kind)
    return whole, office, other


def _kinds(kinds: Iterable[str]) -> str:
    counts: dict[str, int] = {}
    for k in kinds:
        counts[k] = counts.get(k, 0) + 1
    return "/".join(sorted(counts, key=lambda k: (-counts[k], k))[:3])


def _poi_text(kinds: list[str]) -> str:
    return f"{len(kinds)} {_kinds(kinds)} POI{'s' if len(kinds) > 1 else ''}"


def _fmt_m2(v: float) -> str:
    return f"{v:,.0f}".replace(",", " ")


def infer_uses(
    buildings: gpd.GeoDataFrame,
    *,
    landuse: gpd.GeoDataFrame | None = None,
    pois: gpd.GeoDataFrame | None = None,
    config: Config | None = None,
) -> pd.DataFrame:
    """Decide each building's use and say why (see the module docstring for the rules).

    Parameters
    ----------
    buildings
        Buildings in a metric CRS. Columns used when present: ``use`` (given: kept),
        ``use_source``/``use_reason`` (kept for rows whose use is filled, so a prepared layer
        can be re-run), ``households``, ``building`` (OSM tag), ``name``, ``height``,
        ``floors``, ``footprint_m2`` (point buildings).
    landuse
        Polygons with a ``landuse`` column (OSM values), or ``None``.
    pois
        Points or polygons with a ``kind`` column (OSM amenity/shop/office/tourism/leisure
        values), or ``None``.
    config
        Settings (``config.households``); ``None`` for the defaults.

    Returns
    -------
    pandas.DataFrame
        Indexed like ``buildings``: ``use``, ``use_source`` (``given``/``inferred``; an
        ``override`` source is kept from the input), ``use_reason``, ``use_confidence``
        (``high``/``medium``/``low``).

    Example
    -------
    >>> import geopandas as gpd
    >>> from shapely.geometry import box
    >>> b = gpd.GeoDataFrame({"building_id": ["a", "b"], "name": ["汇丰银行大楼", None]},
    ...     geometry=[box(0, 0, 40, 40), box(100, 0, 140, 12)], crs="EPSG:32651")
    >>> infer_uses(b)[["use", "use_reason"]].values.tolist()
    [['non_residential', 'name 大楼 (office)'], ['residential', 'default (nothing says otherwise)']]
    """
    cfg = config if config is not None else DEFAULT
    hs = cfg.households
    n = len(buildings)
    index = buildings.index
    given_use = _text(buildings["use"]) if "use" in buildings.columns else [None] * n
    old_source = _text(buildings["use_source"]) if "use_source" in buildings.columns else [None] * n
    old_reason = _text(buildings["use_reason"]) if "use_reason" in buildings.columns else [None] * n
    old_conf = (
        _text(buildings["use_confidence"]) if "use_confidence" in buildings.columns else [None] * n
    )
    hh = _numeric(buildings, "households")
    tags = (
        [None if t is None else t.lower().replace(" ", "_") for t in _text(buildings["building"])]
        if "building" in buildings.columns
        else [None] * n
    )
    names = _text(buildings["name"]) if "name" in buildings.columns else [None] * n
    height = _numeric(buildings, "height")
    floors = _numeric(buildings, "floors")
    geoms = np.asarray(buildings.geometry.values)
    polygonal = np.isin(shapely.get_type_id(geoms), [3, 6]) if n else np.zeros(0, dtype=bool)
    area = np.where(polygonal, shapely.area(geoms), np.nan) if n else np.zeros(0)
    given_fp = _numeric(buildings, "footprint_m2")
    area = np.where(np.isnan(area) | (area <= 0), given_fp, area)
    todo = np.array(
        [u is None and not (h > 0) for u, h in zip(given_use, hh.tolist(), strict=True)],
        dtype=bool,
    )
    depth = np.full(n, np.nan)
    if todo.any():
        depth[todo] = plate_depth(geoms[todo])
        sub = buildings.iloc[np.flatnonzero(todo)]
        lus = _landuse_of(sub, landuse)
        whole_pois, office_pois, other_pois = _pois_in(sub, pois)
    uses: list[str] = []
    sources: list[str] = []
    reasons: list[str] = []
    confs: list[str] = []
    k = 0
    for i in range(n):
        given_i = given_use[i]
        if given_i is not None:
            uses.append(given_i.lower())
            if old_source[i] in ("override", "inferred"):
                sources.append(str(old_source[i]))
                reasons.append(old_reason[i] or "")
                confs.append(old_conf[i] or "high")
            else:
                sources.append("given")
                tag = tags[i]
                agrees = tag is not None and BUILDING_TAG_USES.get(tag) == given_i.lower()
                reasons.append(f"use column (OSM building={tag})" if agrees else "use column")
                confs.append("high")
            continue
        if hh[i] > 0:
            uses.append("residential")
            sources.append("inferred")
            reasons.append(f"households given ({int(hh[i])})")
            confs.append("high")
            continue
        j = k
        k += 1
        tag = tags[i]
        if tag is not None and tag in BUILDING_TAG_USES:
            uses.append(BUILDING_TAG_USES[tag])
            sources.append("inferred")
            reasons.append(f"OSM building={tag}")
            confs.append("high")
            continue
        items = [_Item(_PRIOR, "default (nothing says otherwise)", "low")]
        mixed_word = None
        named = name_evidence(names[i], config=cfg)
        if named is not None:
            use, word, label, strength = named
            w = _STRONG_NAME if strength == "strong" else _WEAK_NAME
            conf = "high" if strength == "strong" else "medium"
            if use == "mixed":
                mixed_word = f"name {word} ({label})"
            else:
                sign = 1.0 if use == "non_residential" else -1.0
                items.append(_Item(sign * w, f"name {word} ({label})", conf))
        lu = lus[j]
        if lu is not None and lu in LANDUSE_USES:
            if LANDUSE_USES[lu] == "residential":
                items.append(_Item(-_LANDUSE, f"inside landuse={lu}", "medium"))
            elif lu in MIXED_LANDUSES:
                items.append(_Item(_LANDUSE_MIXED, f"inside landuse={lu}", "low"))
            else:
                items.append(_Item(_LANDUSE, f"inside landuse={lu}", "medium"))
        whole_k, office_k, other_k = whole_pois[j], office_pois[j], other_pois[j]
        if whole_k:
            items.append(_Item(_POI_STRONG, f"{_poi_text(whole_k)} inside", "high"))
        if len(office_k) >= max(hs.office_poi_count, 1):
            items.append(_Item(_POI_OFFICES, f"{_poi_text(office_k)} inside", "high"))
        elif office_k:
            items.append(_Item(_POI_OFFICE, f"{_poi_text(office_k)} inside", "low"))
        shops: _Item | None = None
        if other_k:
            shops = _Item(0.0, f"{_poi_text(other_k)} inside", "medium")
        h = height[i]
        if h >= hs.supertall_height_m:
            items.append(
                _Item(_SUPERTALL, f"height {h:.0f} m ≥ {hs.supertall_height_m:g} m", "low")
            )
        elif h >= hs.tall_height_m:
            items.append(_Item(_TALL, f"height {h:.0f} m ≥ {hs.tall_height_m:g} m", "low"))
        a = area[i]
        if a < hs.min_residential_footprint_m2:
            items.append(
                _Item(
                    _TINY,
                    f"footprint {_fmt_m2(a)} m² < {_fmt_m2(hs.min_residential_footprint_m2)} m²",
                    "low",
                )
            )
        elif a > hs.max_residential_footprint_m2:
            items.append(
                _Item(
                    _HUGE,
                    f"footprint {_fmt_m2(a)} m² > {_fmt_m2(hs.max_residential_footprint_m2)} m²",
                    "low",
                )
            )
        elif a > hs.large_footprint_m2:
            items.append(
                _Item(
                    _LARGE,
                    f"footprint {_fmt_m2(a)} m² > {_fmt_m2(hs.large_footprint_m2)} m²",
                    "low",
                )
            )
        d = depth[i]
        if d > hs.very_deep_plate_m:
            items.append(
                _Item(_VERY_DEEP, f"plate {d:.0f} m deep > {hs.very_deep_plate_m:g} m", "low")
            )
        elif d > hs.deep_plate_m:
            items.append(_Item(_DEEP, f"plate {d:.0f} m deep > {hs.deep_plate_m:g} m", "low"))
        elif d < hs.min_plate_depth_m and a >= hs.min_residential_footprint_m2:
            items.append(_Item(_THIN, f"plate {d:.1f} m deep < {hs.min_plate_depth_m:g} m", "low"))
        storeys = floors[i] if floors[i] > 0 else (h / hs.floor_height_m if h > 0 else np.nan)
        if storeys <= 2.5 and a > _HALL_M2 and a <= hs.max_residential_footprint_m2:
            items.append(_Item(_HALL, f"{storeys:.0f} storey(s) over {_fmt_m2(a)} m²", "low"))
        if tag is not None and tag not in ("yes", "building"):
            items.append(_Item(0.0, f"OSM building={tag} (not in the tag table)", "low"))
        score = sum(it.weight for it in items)
        non_res = score > 0
        decided = [it for it in items if (it.weight > 0) == non_res and it.weight != 0]
        against = [
            it for it in items if (it.weight > 0) != non_res and it.weight not in (0, _PRIOR)
        ]
        if not non_res and len(decided) > 1:
            decided = [it for it in decided if it.weight != _PRIOR or it.confidence != "low"]
        decided.sort(key=lambda it: -abs(it.weight))
        against.sort(key=lambda it: -abs(it.weight))
        if non_res:
            use = "non_residential"
        elif mixed_word is not None:
            use = "mixed"
            decided.insert(0, _Item(0.0, mixed_word, "high"))
        elif shops is not None:
            use = "mixed"
            decided.insert(0, _Item(0.0, f"{shops.text}: shops below homes", "medium"))
            against = [it for it in against if it is not shops]
        else:
            use = "residential"
        rank = {"high": 2, "medium": 1, "low": 0}
        conf = max((it.confidence for it in decided), key=lambda c: rank[c], default="low")
        text = "; ".join(it.text for it in decided[:3])
        if against:
            text += " (against: " + "; ".join(it.text for it in against[:2]) + ")"
        uses.append(use)
        sources.append("inferred")
        reasons.append(text)
        confs.append(conf)
    return pd.DataFrame(
        {
            "use": pd.Series(uses, index=index, dtype=object),
            "use_source": pd.Series(sources, index=index, dtype=object),
            "use_reason": pd.Series(reasons, index=index, dtype=object),
            "use_confidence": pd.Series(confs, index=index, dtype=object),
        },
        index=index,
    )
