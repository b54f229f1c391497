"""Helpers shared by the report's sections, Markdown and charts: layers, metrics, numbers."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from pyproj import CRS

from gridplan.output.planfile import Plan


def _nonempty(plan: Plan, name: str) -> pd.DataFrame | None:
    df = plan.layers.get(name)
    if df is None or len(df) == 0:
        return None
    return df


def _metrics(plan: Plan, stage: str) -> dict[str, Any]:
    value = (plan.metadata.get("metrics") or {}).get(stage)
    return dict(value) if isinstance(value, dict) else {}


def _flags(plan: Plan, stage: str) -> list[str]:
    value = (plan.metadata.get("flags") or {}).get(stage)
    if isinstance(value, list):
        return [str(v) for v in value]
    return [str(value)] if value else []


def _params(plan: Plan, section: str) -> dict[str, Any]:
    params = plan.metadata.get("parameters") or {}
    value = params.get(section) if isinstance(params, dict) else None
    return value if isinstance(value, dict) else {}


def clean(value: Any) -> Any:
    """JSON-serialisable plain Python: numpy scalars to int/float, NaN to None."""
    if isinstance(value, dict):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [clean(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is pd.NA or value is pd.NaT:
        return None
    return value


def _r(value: float, digits: int = 4) -> float:
    return round(float(value), digits)


def _households(df: pd.DataFrame) -> pd.Series:
    if "households" not in df.columns:
        return pd.Series(0, index=df.index, dtype="int64")
    return pd.to_numeric(df["households"], errors="coerce").fillna(0)


def metric_crs(gdf: gpd.GeoDataFrame, plan: Plan) -> gpd.GeoDataFrame:
    if gdf.crs is None and plan.crs is not None:
        gdf = gdf.set_crs(plan.crs)
    if gdf.crs is None:
        return gdf
    if CRS.from_user_input(gdf.crs).is_projected:
        return gdf
    return gdf.to_crs(gdf.estimate_utm_crs())


def group_sums(
    df: pd.DataFrame, keys: list[str], cols: list[str]
) -> list[tuple[tuple[str, ...], tuple[float, ...]]]:
    """Sums of ``cols`` per group of ``keys``, sorted by the keys: [(keys, sums), ...]."""
    agg = df.groupby(keys, sort=True)[cols].sum().reset_index()
    key_rows = zip(*(agg[k].astype(str).tolist() for k in keys), strict=True)
    val_rows = zip(*(agg[c].astype(float).tolist() for c in cols), strict=True)
    return list(zip(key_rows, val_rows, strict=True))


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    return [{str(k): v for k, v in rec.items()} for rec in df.to_dict("records")]


def _rest(metrics: dict[str, Any], used: Iterable[str]) -> dict[str, Any]:
    skip = set(used)
    return {k: v for k, v in metrics.items() if k not in skip}


def minutes(tier: Any) -> int:
    digits = "".join(ch for ch in str(tier) if ch.isdigit())
    return int(digits) if digits else 0
