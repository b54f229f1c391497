"""Read datasets (DESIGN.md §1): a GeoPackage or a folder of per-layer files.

(Skeleton: being filled in. The :class:`Dataset` shape below is the interface every stage uses.)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
from pyproj import CRS

LAYERS: tuple[str, ...] = (
    "buildings",
    "communities",
    "roads",
    "barriers",
    "facilities",
    "people",
    "vulnerable",
    "sites",
)


@dataclass
class Dataset:
    """A dataset after reading, validation and preparation.

    Attributes
    ----------
    layers
        Layer name -> table. Spatial layers are GeoDataFrames in :attr:`crs` (a metric UTM
        CRS once prepared); ``people`` and ``vulnerable`` may be plain DataFrames.
    crs
        The CRS the layers are in now.
    input_crs
        The CRS outputs are written in (the input's; WGS84 for offset inputs).
    offset
        ``"gcj02"``, ``"bd09"`` or ``None``: the web-map offset the input carried.
    source
        Where it was read from.
    checksums
        Layer name -> SHA-256 of the layer's content as read.
    warnings
        Problems repaired or tolerated, one line each, naming layer and ids.
    """

    layers: dict[str, gpd.GeoDataFrame | pd.DataFrame]
    crs: CRS
    input_crs: CRS
    offset: str | None = None
    source: Path | None = None
    checksums: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def layer(self, name: str) -> Any:
        """The layer ``name``, or ``None`` when the dataset has none."""
        return self.layers.get(name)
