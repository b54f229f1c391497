from __future__ import annotations

import pytest

from gridplan._errors import ConfigError
from gridplan.settings import DEFAULT, FACILITY_CATEGORIES, load_config


def test_defaults_match_the_contract():
    cfg = load_config()
    assert cfg == DEFAULT
    assert (cfg.grids.target_households, cfg.grids.min_households, cfg.grids.max_households) == (
        400,
        300,
        500,
    )
    assert (cfg.units.target_households, cfg.units.min_households) == (10, 5)
    assert cfg.coverage.speed_m_per_min == 60
    assert set(cfg.coverage.tiers) == {5, 10, 15}
    assert cfg.staffing.max_head_distance_m == 1500
    assert cfg.siting.new_sites == 3


def test_toml_overrides(tmp_path):
    p = tmp_path / "plan.toml"
    p.write_text(
        'seed = 7\n[grids]\ntarget_households = 350\nbarrier_road_classes = ["trunk"]\n'
        '[coverage.tiers]\n5 = ["kindergarten"]\n'
    )
    cfg = load_config(p)
    assert cfg.seed == 7
    assert cfg.grids.target_households == 350
    assert cfg.grids.max_households == 500
    assert cfg.grids.barrier_road_classes == ("trunk",)
    assert cfg.coverage.tiers == {5: ("kindergarten",)}


@pytest.mark.parametrize(
    "data, words",
    [
        ({"grid": {}}, "unknown key"),
        ({"grids": {"target": 3}}, "unknown key(s) in [grids]"),
        ({"grids": {"min_households": 600}}, "min_households"),
        ({"seed": "x"}, "seed"),
        ({"units": {"max_households": 2.5}}, "whole number"),
        ({"coverage": {"tiers": {"five": ["kindergarten"]}}}, "tier key"),
        ({"siting": {"target_share": 1.5}}, "target_share"),
    ],
)
def test_bad_config_is_explained(data, words):
    with pytest.raises(ConfigError, match=None) as err:
        load_config(data)
    assert words in str(err.value)


def test_bad_toml_file(tmp_path):
    p = tmp_path / "plan.toml"
    p.write_text("[grids\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(p)
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "missing.toml")


def test_to_dict_round_trips():
    cfg = load_config({"grids": {"target_households": 420}, "seed": 3})
    again = load_config(cfg.to_dict())
    assert again == cfg


def test_known_categories_extendable():
    cfg = load_config({"coverage": {"categories": ["canteen"]}})
    assert "canteen" in cfg.known_categories
    assert set(FACILITY_CATEGORIES) <= set(cfg.known_categories)
