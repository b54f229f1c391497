"""Checks of the layers that name people and services: people (homes, roles, yes/no
flags, capacities), vulnerable households, and facility / site categories.
"""

from __future__ import annotations

import pandas as pd

from gridplan._text import parse_bool, split_list
from gridplan.settings import PERSON_ROLES, VULNERABLE_KINDS, Config
from gridplan.validate.common import (
    _pairs,
    _Report,
    numeric_problems,
    unknown_values,
)


def check_people(
    p: pd.DataFrame, labels: pd.Series, building_ids: set[str] | None, rep: _Report
) -> None:
    if building_ids is not None and "building_id" in p.columns:
        home = p["building_id"]
        missing = home.isna() | ~home.astype(str).isin(building_ids)
        if missing.any():
            rep.error(
                "people",
                "home building does not exist in buildings",
                _pairs(labels, missing, home, lambda lab, v: f"{lab}→{v}"),
                "correct building_id to a building of the dataset (or add the building)",
            )
    if "roles" in p.columns:
        bad = []
        for lab, value in zip(labels.tolist(), p["roles"].tolist(), strict=True):
            unknown = [r for r in split_list(value) if r not in PERSON_ROLES]
            if unknown:
                bad.append(f"{lab}={'/'.join(unknown)}")
        if bad:
            rep.error(
                "people",
                f"unknown role (allowed: {', '.join(PERSON_ROLES)})",
                bad,
                "use those role names, separated by ';'",
            )
    for col in ("party_member", "full_time"):
        if col in p.columns:
            bad_mask = p[col].map(parse_bool).isna()
            if bad_mask.any():
                rep.error(
                    "people",
                    f"{col} is not yes/no",
                    _pairs(labels, bad_mask, p[col], lambda lab, v: f"{lab}={v!r}"),
                    "write true/false (or yes/no, 1/0, 是/否)",
                )
    if "capacity_households" in p.columns:
        numeric_problems(
            p,
            "capacity_households",
            labels,
            "people",
            rep,
            integer=True,
            what="the households a person can look after",
        )


def check_categories(
    frame: pd.DataFrame, layer: str, column: str, labels: pd.Series, cfg: Config, rep: _Report
) -> None:
    if column not in frame.columns:
        return
    known = set(cfg.known_categories)
    bad = []
    for lab, value in zip(labels.tolist(), frame[column].tolist(), strict=True):
        cats = split_list(value)
        if layer == "facilities" and not cats:
            bad.append(f"{lab}=(empty)")
            continue
        if layer == "facilities" and len(cats) > 1:
            bad.append(f"{lab}={value!r} (one category per facility)")
            continue
        unknown = [c for c in cats if c not in known]
        if unknown:
            bad.append(f"{lab}={'/'.join(unknown)}")
    if bad:
        rep.error(
            layer,
            "unknown facility category",
            bad,
            f"use one of {', '.join(cfg.known_categories)} "
            "(or add yours under [coverage] categories in plan.toml)",
        )


def check_vulnerable(
    v: pd.DataFrame,
    buildings: pd.DataFrame | None,
    building_ids: set[str] | None,
    rep: _Report,
) -> None:
    labels = pd.Series(
        [f"row {i + 1} ({bid})" for i, bid in enumerate(v.get("building_id", [None] * len(v)))],
        index=v.index,
    )
    hh = (
        numeric_problems(
            v, "households", labels, "vulnerable", rep, integer=True, what="vulnerable households"
        )
        if "households" in v.columns
        else None
    )
    if "kind" in v.columns:
        unknown_values(
            v["kind"],
            VULNERABLE_KINDS,
            labels,
            rep,
            "vulnerable",
            "kind",
            "use one of the allowed kinds",
        )
    if building_ids is None or "building_id" not in v.columns:
        return
    bid = v["building_id"]
    missing = bid.isna() | ~bid.astype(str).isin(building_ids)
    if missing.any():
        rep.error(
            "vulnerable",
            "building does not exist in buildings",
            labels[missing],
            "correct building_id to a building of the dataset",
        )
    if hh is None or buildings is None or "households" not in buildings.columns:
        return
    bhh = pd.to_numeric(buildings["households"], errors="coerce")
    bhh = bhh.where(bhh >= 0)
    bhh.index = buildings["building_id"].astype(str)
    bhh = bhh[~bhh.index.duplicated()]
    per = hh[~missing].groupby(bid[~missing].astype(str)).sum()
    have = bhh.reindex(per.index)
    over = per[have.notna() & (per > have)]
    if len(over):
        rep.error(
            "vulnerable",
            "more vulnerable households than the building has",
            [
                f"{k}: {int(n)} > {int(h)}"
                for k, n, h in zip(
                    over.index.tolist(), over.tolist(), have[over.index].tolist(), strict=True
                )
            ],
            "correct the vulnerable rows or the building's households",
        )
