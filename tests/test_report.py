"""The report: same figures in Markdown and JSON, sections for stages that did not run, charts."""

from __future__ import annotations

import builtins
import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from test_maps import PHONES, synthetic_plan, unmasked_numbers

from gridplan.output.report.render import render_markdown
from gridplan.output.report.write import COMMANDS, build_report, write_report


@pytest.fixture(scope="module")
def report() -> dict[str, Any]:
    return build_report(synthetic_plan())


def test_report_is_json_serialisable_and_deterministic(report: dict[str, Any]) -> None:
    text = json.dumps(report, ensure_ascii=False, sort_keys=True)
    assert json.loads(text) == report
    assert json.dumps(build_report(synthetic_plan()), sort_keys=True, ensure_ascii=False) == text


def test_summary_figures(report: dict[str, Any]) -> None:
    s = report["summary"]
    assert s["grids"] == 3 and s["units"] == 6 and s["buildings"] == 12
    plan = synthetic_plan()
    b = plan.layers["buildings"]
    assert s["households"] == int(b["households"].sum())
    assert s["households_estimated"] == int(b.loc[b.households_estimated, "households"].sum())
    assert s["communities"] == 1


def test_quality_balance(report: dict[str, Any]) -> None:
    h = report["quality"]["households"]
    assert (h["min"], h["max"], h["target"]) == (28, 36, 30)
    # 28, 32 and 36 households: only 28 and 32 are within ±10 % of 30 (27–33)
    assert h["share_within_10pct"] == pytest.approx(2 / 3, abs=1e-4)
    assert report["quality"]["faces_merged"] == 2
    assert 0 < report["quality"]["compactness"]["polsby_popper_mean"] <= 1
    assert report["quality"]["flags"] == ["grid G03 holds 33 households, above the target 30"]


def test_units_staffing_coverage_siting(report: dict[str, Any]) -> None:
    u = report["units"]
    assert u["count"] == 6 and sum(u["size_distribution"].values()) == 6
    st = report["staffing"]
    assert st["roles"]["grid_head"] == {"filled": 2, "vacant": 1}
    assert st["roles"]["unit_head"] == {"filled": 4, "vacant": 2}
    assert st["party_share"] == pytest.approx(0.6)  # P00, P01 and P03 of the five heads and workers
    assert st["solver"]["_"]["gap"] == pytest.approx(0.06)
    assert {v["target_id"] for v in st["vacancies"]} == {"G03", "G03-U01", "G03-U02"}
    cov = report["coverage"]
    kg = next(r for r in cov["by_tier_category"] if r["category"] == "kindergarten")
    assert kg["tier"] == "5min" and 0 < kg["share"] < 1
    shares = [g["share"] for g in cov["by_grid"]]
    assert shares == sorted(shares)  # worst first
    assert cov["by_grid"][0]["grid_id"] == "G03"
    assert report["siting"]["sites"][0]["households_newly_covered"] == 40
    assert report["replan"]["ran"] is False


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_markdown_has_the_json_figures(report: dict[str, Any], lang: str) -> None:
    md = render_markdown(report, lang=lang)
    h = report["quality"]["households"]
    assert f"| {h['std']} |" in md
    assert "66.7 %" in md
    assert "no eligible grid head within 1500 m" in md
    assert "G03 | 66.7 %" in md
    assert ("Kindergarten" if lang == "en" else "幼儿园") in md
    assert "{" not in md.replace("{}", "")  # no unformatted template left
    assert "TODO" not in md and "TBD" not in md


def test_stages_that_did_not_run_say_so() -> None:
    plan = synthetic_plan()
    for name in (
        "units",
        "unit_members",
        "assignments",
        "vacancies",
        "coverage",
        "sites",
        "catchments",
    ):
        plan.layers.pop(name)
    plan.metadata["metrics"] = {"partition": plan.metadata["metrics"]["partition"]}
    report = build_report(plan)
    for section in ("units", "staffing", "coverage", "siting"):
        assert report[section] == {"ran": False, "command": COMMANDS[section]}
    md = render_markdown(report, lang="en")
    for section in ("units", "staffing", "coverage", "siting"):
        assert f"This stage did not run. Run it with `{COMMANDS[section]}`." in md
    assert report["quality"]["ran"] is True


def test_empty_plan_reports_without_crashing(tmp_path: Path) -> None:
    from gridplan.output.planfile import Plan

    paths = write_report(Plan(), tmp_path, lang="zh")
    assert [p.name for p in paths] == ["report.md", "report.json"]
    md = paths[0].read_text(encoding="utf-8")
    assert "gridplan partition DATASET --out DIR" in md


def test_replan_and_sensitivity_rendered() -> None:
    plan = synthetic_plan()
    plan.metadata["replan"] = {
        "changed_grids": ["G02"],
        "moved_households": 12,
        "before": {"grids": 3, "households": 90},
        "after": {"grids": 3, "households": 96},
    }
    plan.metadata["metrics"]["households"] = {
        "sensitivity": {"dwelling_size_m2": {"-20%": {"grids": 4}, "+20%": {"grids": 3}}}
    }
    plan.layers["moved"] = pd.DataFrame(
        {
            "building_id": ["B100", "B101", "B110"],
            "households": [5, 7, 4],
            "old_grid_id": ["G01", "G01", "G02"],
            "new_grid_id": ["G02", "G02", "G03"],
        }
    )
    report = build_report(plan)
    assert report["replan"]["moved_households"] == 12
    assert report["replan"]["flows"] == [
        {"from": "G01", "to": "G02", "households": 12},
        {"from": "G02", "to": "G03", "households": 4},
    ]
    md = render_markdown(report, lang="en")
    assert "| `households` | 90 | 96 |" in md
    assert "`moved_households`" in md and "Sensitivity of household estimates" in md
    assert "`dwelling_size_m2.-20%.grids`" in md
    assert "| G01 | G02 | 12 |" in md


def test_write_report_files_and_charts(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    paths = write_report(synthetic_plan(), tmp_path, lang="en")
    names = [p.name for p in paths]
    assert names == [
        "report.md",
        "report.json",
        "households_per_grid.png",
        "coverage_by_category.png",
    ]
    for p in paths[2:]:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    data = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert data["charts"] == names[2:]
    md = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "![households_per_grid](households_per_grid.png)" in md
    for p in paths[:2]:
        text = p.read_text(encoding="utf-8")
        assert not unmasked_numbers(text) and not any(ph in text for ph in PHONES)


def test_without_matplotlib_the_report_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_import = builtins.__import__

    def fake_import(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "matplotlib" or name.startswith("matplotlib."):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    paths = write_report(synthetic_plan(), tmp_path, lang="en")
    assert [p.name for p in paths] == ["report.md", "report.json"]
    assert "matplotlib is not installed" in paths[0].read_text(encoding="utf-8")


def test_unknown_metrics_rendered_generically() -> None:
    plan = synthetic_plan()
    plan.metadata["metrics"]["partition"]["communities"] = {
        "C01": {"grids": 2, "households": 60},
        "C02": {"grids": 1, "households": 36},
    }
    plan.metadata["metrics"]["coverage"]["seconds"] = {"snap": 0.5, "total": 1.25}
    md = render_markdown(build_report(plan), lang="en")
    assert "| `C01` | 2 | 60 |" in md and "| `C02` | 1 | 36 |" in md
    assert "- `seconds.total`: 1.25" in md
    assert "- `status`: OPTIMAL" in md


def test_town_report_separates_size_forced_grids(town_plan) -> None:
    report = build_report(town_plan)
    h = report["quality"]["households"]
    part = town_plan.metadata["metrics"]["partition"]
    assert h["grids_size_forced"] == part["grids_size_forced"]
    assert h["share_within_10pct_sizes_allow"] == part["share_within_10pct_sizes_allow"]
    assert h["share_within_10pct_sizes_allow"] >= h["share_within_10pct"] - 1e-9
    md = render_markdown(report, lang="en")
    assert f"size-forced grids: {h['grids_size_forced']}" in md
