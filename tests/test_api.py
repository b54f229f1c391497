from __future__ import annotations

import pytest

import gridplan


@pytest.mark.parametrize("name", [n for n in gridplan.__all__ if n != "__version__"])
def test_public_names_resolve(name):
    obj = getattr(gridplan, name)
    assert obj is not None
    assert name in dir(gridplan)


def test_unknown_name():
    with pytest.raises(AttributeError, match="no attribute"):
        gridplan.not_a_thing  # noqa: B018


def test_short_reprs_and_replace_layer(town_dataset, town_plan) -> None:
    """Plan, Dataset and WalkNetwork print as one short line; replace_layer gives an edited
    copy with a new checksum and leaves the dataset as it was."""
    import gridplan
    from gridplan._errors import DataError
    from gridplan.network.graph import build_walk_network

    assert gridplan.bundled_town().joinpath("buildings.geojson").exists()
    for obj in (town_plan, town_dataset, build_walk_network(town_dataset.layer("roads"))):
        text = repr(obj)
        assert len(text) < 400 and "\n" not in text, text[:200]
    assert "grids=" in repr(town_plan) and "seed=0" in repr(town_plan)
    b = town_dataset.layer("buildings")
    edited = town_dataset.replace_layer("buildings", b.iloc[1:])
    assert len(edited.layer("buildings")) == len(b) - 1
    assert len(town_dataset.layer("buildings")) == len(b)  # the original is untouched
    assert edited.checksums["buildings"] != town_dataset.checksums["buildings"]
    assert "people" not in town_dataset.replace_layer("people", None).layers
    with pytest.raises(DataError, match="reproject"):
        town_dataset.replace_layer("buildings", b.to_crs(4326))
