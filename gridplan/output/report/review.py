"""The report's household review: what a planner should check before trusting the grids.

Three lists, each with the reason the tool decided what it did (:mod:`gridplan.uses`):

- the buildings holding the most *estimated* households (a wrong use or floor count there
  moves a whole grid);
- the buildings decided on weak evidence (``use_confidence == "low"``: only size, shape,
  height or the prior), largest first;
- per community with a ``households_total``: the estimate before and after calibration, the
  factor, and whether the total looks stale (:func:`gridplan.households.calibration_summary`).

A planner corrects what is wrong in an overrides file (``building_id,use,households``) and
runs again with ``gridplan run … --overrides FILE``; the corrections win over every estimate.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from gridplan.households import calibration_summary
from gridplan.i18n import labels_in
from gridplan.output.planfile import Plan
from gridplan.output.report.blocks import Block, fmt_number
from gridplan.settings import Config, load_config

__all__ = ["household_review", "review_blocks"]

_COLUMNS = (
    "building_id",
    "community_id",
    "grid_id",
    "households",
    "use",
    "use_source",
    "use_confidence",
    "use_reason",
)


def _rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    cols = [c for c in _COLUMNS if c in frame.columns]
    out = []
    for rec in frame[cols].to_dict("records"):
        out.append({str(k): (None if pd.isna(v) else v) for k, v in rec.items()})
    return out


def _config(plan: Plan) -> Config:
    params = plan.metadata.get("parameters") or {}
    households = params.get("households") if isinstance(params, dict) else None
    if not isinstance(households, dict):
        return load_config()
    try:
        return load_config({"households": households})
    except Exception:  # an older plan's parameters: the defaults are the documented fallback
        return load_config()


def household_review(plan: Plan) -> dict[str, Any] | None:
    """The review section's figures (JSON-serialisable), or ``None`` without buildings.

    Keys: ``uses`` (use → source → buildings), ``overrides`` (buildings overridden),
    ``largest`` and ``weak`` (building rows: id, community, grid, households, use, source,
    confidence, reason), ``weak_count``, ``calibration`` (one row per community with a
    total) and ``stale`` (the community ids whose total looks stale).
    """
    b = plan.layers.get("buildings")
    if b is None or not len(b) or "households" not in b.columns:
        return None
    cfg = _config(plan)
    n = cfg.households.review_top_n
    hh = pd.to_numeric(b["households"], errors="coerce").fillna(0)
    est = (
        b["households_estimated"].fillna(False).astype(bool)
        if "households_estimated" in b.columns
        else pd.Series(False, index=b.index)
    )
    out: dict[str, Any] = {}
    if "use" in b.columns and "use_source" in b.columns:
        uses: dict[str, dict[str, int]] = {}
        counts = b.groupby(["use", "use_source"]).size()
        for key, v in zip(counts.index.tolist(), counts.tolist(), strict=True):
            uses.setdefault(str(key[0]), {})[str(key[1])] = int(v)
        out["uses"] = dict(sorted(uses.items()))
        out["overrides"] = int((b["use_source"] == "override").sum())
    order = b.assign(_hh=hh).sort_values(["_hh", "building_id"], ascending=[False, True])
    out["largest"] = _rows(
        order[est.loc[order.index].to_numpy() & (order["_hh"] > 0).to_numpy()].head(n)
    )
    if "use_confidence" in b.columns:
        weak = order[(order["use_confidence"] == "low").to_numpy()]
        weak = (
            weak[~weak["use_source"].isin(["given", "override"])] if "use_source" in weak else weak
        )
        out["weak_count"] = len(weak)
        area = weak.geometry.area if hasattr(weak, "geometry") else pd.Series(0.0, weak.index)
        weak = weak.assign(_area=area).sort_values(
            ["_hh", "_area", "building_id"], ascending=[False, False, True]
        )
        out["weak"] = _rows(weak.head(n))
    comms = plan.layers.get("communities")
    if comms is not None and "households_total" in comms.columns:
        summary = calibration_summary(b, comms, config=cfg)
        out["calibration"] = [
            {k: (None if isinstance(v, float) and pd.isna(v) else v) for k, v in r.items()}
            for r in summary.drop(columns=["affected_ids"]).to_dict("records")
        ]
        out["stale"] = sorted(
            str(r["community_id"])
            for r in out["calibration"]
            if r["status"] in ("stale_total", "scaled_up", "scaled_down")
        )
    return out


def review_blocks(
    review: dict[str, Any], *, lang: str = "en", names: dict[str, str] | None = None
) -> list[Block]:
    """The review section as document blocks (:mod:`gridplan.output.report.document`), every
    word in ``lang``; the reasons behind each decision stay in ``report.json`` and the plan's
    ``buildings`` layer (``use_reason``)."""
    lab = labels_in("review", lang)
    names = names or {}
    out = [Block("h2", lab["title"]), Block("p", lab["intro"])]
    if review.get("stale"):
        sep = "、" if lang == "zh" else ", "
        out.append(
            Block("p", lab["stale"].format(ids=sep.join(names.get(c, c) for c in review["stale"])))
        )

    def word(kind: str, value: Any) -> str:
        return lab.get(f"{kind}_{value}", "–" if value is None else str(value))

    if "uses" in review:
        out.append(Block("p", lab["uses"]))
        out.append(
            Block(
                "table",
                headers=[lab["use"], lab["source"], lab["count"]],
                rows=[
                    [word("use", u), word("source", src), fmt_number(v)]
                    for u, by in review["uses"].items()
                    for src, v in by.items()
                ],
            )
        )
        out.append(Block("p", lab["overrides"].format(n=review.get("overrides", 0))))
    heads = [
        lab["building"],
        lab["community"],
        lab["grid"],
        lab["households"],
        lab["use"],
        lab["confidence"],
    ]

    def rows(items: list[dict[str, Any]]) -> list[list[str]]:
        return [
            [
                str(r.get("building_id") or "–"),
                names.get(str(r.get("community_id")), str(r.get("community_id") or "–")),
                str(r.get("grid_id") or "–"),
                fmt_number(r.get("households")),
                word("use", r.get("use")),
                word("confidence", r.get("use_confidence")),
            ]
            for r in items
        ]

    if review.get("largest"):
        out += [
            Block("p", lab["largest"]),
            Block("table", headers=heads, rows=rows(review["largest"])),
        ]
    if review.get("weak"):
        n = review.get("weak_count", len(review["weak"]))
        out += [
            Block("p", lab["weak"].format(n=n)),
            Block("table", headers=heads, rows=rows(review["weak"])),
        ]
    if review.get("calibration"):
        out.append(Block("p", lab["calibration"]))
        out.append(
            Block(
                "table",
                headers=[
                    lab["community"],
                    lab["total"],
                    lab["given"],
                    lab["before"],
                    lab["after"],
                    lab["factor"],
                    lab["status"],
                ],
                rows=[
                    [
                        names.get(str(r["community_id"]), str(r["community_id"])),
                        fmt_number(r["households_total"]),
                        fmt_number(r["given"]),
                        fmt_number(r["estimated_before"]),
                        fmt_number(r["estimated_after"]),
                        "–" if r["factor"] is None else f"{float(r['factor']):.2f}",
                        word("status", r["status"]),
                    ]
                    for r in review["calibration"]
                ],
            )
        )
    return out
