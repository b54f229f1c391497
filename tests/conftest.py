"""Shared fixtures: the bundled sample town, loaded and planned once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TOWN = ROOT / "data" / "town"
REAL = ROOT.parent / "shared" / "data" / "real"


@pytest.fixture(scope="session")
def town_path() -> Path:
    if not (TOWN / "buildings.geojson").exists():
        pytest.skip("data/town is not generated yet")
    return TOWN


@pytest.fixture(scope="session")
def town_dataset(town_path: Path):
    from gridplan.io.load import load_dataset

    return load_dataset(town_path)


@pytest.fixture(scope="session")
def town_plan(town_dataset):
    """The whole pipeline on the town, in memory (shared: never mutate it in a test)."""
    from gridplan.run.pipeline import plan_dataset

    return plan_dataset(town_dataset)


@pytest.fixture(scope="session")
def town_plan_dir(town_plan, tmp_path_factory) -> Path:
    """The town plan written to a folder, as `gridplan run` writes it."""
    from gridplan.run.pipeline import run_to_folder

    out = tmp_path_factory.mktemp("town") / "plan"
    return run_to_folder(town_plan, out, lang="zh")
