"""The :class:`Dataset` container shared by reading, validation and preparation.

Re-exported by :mod:`gridplan.io`, its public home.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal, overload

import geopandas as gpd
import pandas as pd
from pyproj import CRS

from gridplan._errors import DataError

__all__ = ["Dataset", "SpatialLayer"]

#: Names of the layers that carry geometry (GeoDataFrames once read); the other layers
#: (``people``, ``vulnerable``, ``overrides``) may be plain tables.
#: :data:`gridplan.validate.SPATIAL_LAYERS` is this, as a tuple.
SpatialLayer = Literal[
    "buildings",
    "communities",
    "roads",
    "barriers",
    "facilities",
    "sites",
    "landuse",
    "pois",
    "communities_old",
]


@dataclass
class Dataset:
    """A dataset after reading, validation and preparation.

    Attributes
    ----------
    layers
        Layer name -> table. Spatial layers are GeoDataFrames in :attr:`crs` (a metric UTM
        CRS once prepared); ``people`` and ``vulnerable`` may be plain DataFrames.
    crs
        The CRS the layers are in now (EPSG:4326 as a placeholder when no layer has one; see
        :attr:`layer_crs`).
    input_crs
        The CRS outputs are written in (the input's; WGS84 for offset inputs).
    offset
        ``"gcj02"``, ``"bd09"`` or ``None``: the web-map offset the input carried.
    source
        Where it was read from: a path, or a PostgreSQL URL with its password masked.
    checksums
        Layer name -> SHA-256 of the layer's content as read.
    warnings
        Problems repaired or tolerated, one line each, naming layer and ids.
    layer_crs
        Layer name -> the CRS the layer's file declared (``None`` when it declared none).
    read_problems
        Problems met while reading (unparseable coordinates or WKT), reported by validation.
    prepared
        Whether :func:`prepare_dataset` produced this dataset.
    """

    layers: dict[str, gpd.GeoDataFrame | pd.DataFrame]
    crs: CRS
    input_crs: CRS
    offset: str | None = None
    source: Path | str | None = None
    checksums: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    layer_crs: dict[str, CRS | None] = field(default_factory=dict)
    read_problems: list[str] = field(default_factory=list)
    prepared: bool = False

    def __repr__(self) -> str:
        """One line: the layers and their rows, the CRS, the source (not the tables)."""
        sizes = ", ".join(f"{k}={len(v)}" for k, v in self.layers.items() if v is not None)
        return (
            f"Dataset(layers: {sizes or 'none'}; crs={self.crs.to_string()}; "
            f"source={self.source}; prepared={self.prepared})"
        )

    def replace_layer(self, name: str, table: pd.DataFrame | None) -> Dataset:
        """A copy of the dataset with layer ``name`` replaced by ``table`` (``None`` removes
        it); the other layers are shared, not copied, and this dataset is left as it was.

        The new layer must be in the dataset's CRS (:attr:`crs`). Its checksum is recomputed
        from its content, so a plan made from the copy records the edit.

        Example
        -------
        >>> b = ds.layer("buildings")                                     # doctest: +SKIP
        >>> edited = ds.replace_layer("buildings", b[b.building_id != "B00001"])  # doctest: +SKIP
        """
        layers = dict(self.layers)
        checksums = dict(self.checksums)
        if table is None:
            layers.pop(name, None)
            checksums.pop(name, None)
        else:
            crs = getattr(table, "crs", None)
            if crs is not None and not CRS.from_user_input(crs).equals(self.crs):
                msg = (
                    f"{name}: the new layer is in {CRS.from_user_input(crs).to_string()}, the "
                    f"dataset in {self.crs.to_string()}; reproject it first "
                    f"(table.to_crs(dataset.crs))"
                )
                raise DataError(msg)
            layers[name] = table
            digest = hashlib.sha256(
                pd.util.hash_pandas_object(pd.DataFrame(table).astype(str), index=False)
                .to_numpy()
                .tobytes()
            )
            checksums[name] = digest.hexdigest()
        return replace(self, layers=layers, checksums=checksums)

    @overload
    def layer(self, name: SpatialLayer) -> gpd.GeoDataFrame | None: ...
    @overload
    def layer(self, name: str) -> pd.DataFrame | None: ...
    def layer(self, name: str) -> pd.DataFrame | None:
        """The layer ``name``, or ``None`` when the dataset has none.

        Typed by name: a spatial layer (:data:`SpatialLayer`) is a GeoDataFrame, any other
        (``people``, ``vulnerable``) a DataFrame that may be a GeoDataFrame.
        """
        return self.layers.get(name)
