"""Reading datasets (files and OpenStreetMap extracts), preparing them for planning."""

from __future__ import annotations

from gridplan.dataset import Dataset
from gridplan.io.load import layer_checksum, load_dataset, read_dataset, to_output_crs
from gridplan.io.osm import (
    FACILITY_TAGS,
    NON_RESIDENTIAL_TYPES,
    RESIDENTIAL_TYPES,
    import_osm,
    read_osm,
)
from gridplan.io.prepare import prepare_dataset
from gridplan.io.read import ALIASES, FILE_EXTENSIONS, LAYERS

__all__ = [
    "ALIASES",
    "FACILITY_TAGS",
    "FILE_EXTENSIONS",
    "LAYERS",
    "NON_RESIDENTIAL_TYPES",
    "RESIDENTIAL_TYPES",
    "Dataset",
    "import_osm",
    "layer_checksum",
    "load_dataset",
    "prepare_dataset",
    "read_dataset",
    "read_osm",
    "to_output_crs",
]
