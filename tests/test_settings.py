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


def test_load_config_over_old_parameters(caplog):
    from gridplan.settings import load_config_over, parameter_changes

    old = load_config({"seed": 4, "grids": {"target_households": 300}}).to_dict()
    cfg = load_config_over(old)
    assert cfg.seed == 4 and cfg.grids.target_households == 300
    assert parameter_changes(old, cfg) == ([], [])
    # an explicit source wins key by key; overrides win over both
    cfg = load_config_over(old, {"units": {"target_households": 12}}, seed=9)
    assert (cfg.seed, cfg.grids.target_households, cfg.units.target_households) == (9, 300, 12)
    changed, missing = parameter_changes(old, cfg)
    assert changed == [
        {"key": "seed", "old": 4, "new": 9},
        {"key": "units.target_households", "old": 10, "new": 12},
    ]
    assert missing == []
    # an old plan lacking some parameters: documented defaults, with a warning naming them
    del old["grids"]["min_households"]
    del old["seed"]
    old["grids"]["retired_key"] = 1
    caplog.clear()
    with caplog.at_level("WARNING", logger="gridplan"):
        cfg = load_config_over(old)
    assert cfg.seed == 0 and cfg.grids.min_households == 300
    assert cfg.grids.target_households == 300
    text = caplog.text
    assert "grids.min_households" in text and "seed" in text and "grids.retired_key" in text
    _, missing = parameter_changes(old, cfg)
    assert missing == ["seed", "grids.min_households"]
    # nothing recorded at all
    caplog.clear()
    with caplog.at_level("WARNING", logger="gridplan"):
        assert load_config_over({}) == DEFAULT
    assert "records no parameters" in caplog.text
