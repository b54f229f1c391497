"""The report: same figures in Markdown and JSON, sections for stages that did not run, charts."""

from __future__ import annotations

import builtins
import html
import json
import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from test_maps import PHONES, synthetic_plan, unmasked_numbers

from gridplan.i18n import LABELS
from gridplan.output.report.render import render_html, render_markdown
from gridplan.output.report.write import COMMANDS, build_report, write_report

#: What a person may be asked to type, verbatim, in either language: commands and the header
#: of an overrides file. Everything else in a report is words of its language.
_TYPED = re.compile(r"`(gridplan [^`]*|building_id,use,households|pip install [^`]*)`")
#: Ids (C01-002, B00744, P00429, S0004, G03-U01), file names, numbers and units.
_NOT_WORDS = re.compile(
    r"\b[A-Z]{1,3}\d+(?:-[A-Z]?\d+)*\b|\b[\w.-]+\.(?:json|gpkg|xlsx|png|html|md|csv)\b"
    r"|!\[[^\]]*\]\([^)]*\)|\bgridplan \d[\w.]*|\bm²|\d"
)


def check_language(text: str, lang: str, *, data_words: set[str] = frozenset()) -> None:
    """Fail when a report holds an internal key or a sentence of the other language.

    Internal keys: a code span other than a command, or any snake_case word. The other
    language: Latin words in a Chinese report (beyond ids, file names and ``gridplan``);
    Chinese characters in an English one (beyond ``data_words``: names from the data).
    """
    plain = _TYPED.sub(" ", text)
    for name in data_words:
        plain = plain.replace(name, " ")
    spans = re.findall(r"`[^`]+`", plain)
    assert not spans, f"internal keys in code font: {spans[:5]}"
    plain = _NOT_WORDS.sub(" ", plain)
    snake = re.findall(r"\b[a-z]+_[a-z0-9_]+\b", plain)
    assert not snake, f"internal keys: {sorted(set(snake))[:10]}"
    if lang == "zh":
        words = {w for w in re.findall(r"[A-Za-z]{2,}", plain) if w != "gridplan"}
        assert not words, f"English in the Chinese report: {sorted(words)[:10]}"
    else:
        cjk = re.findall(r"[\u4e00-\u9fff]+", plain)
        assert not cjk, f"Chinese in the English report: {cjk[:10]}"


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
    assert f"{h['min']}–{h['max']}" in md  # the grid range, in the decided and community tables
    assert "66.7 %" in md
    assert ("Kindergarten" if lang == "en" else "幼儿园") in md
    assert "东城社区" in md  # the place by its name, in both languages
    assert "G03 | 66.7 %" in md
    assert "{" not in md.replace("{}", "")  # no unformatted template left
    assert "TODO" not in md and "TBD" not in md
    check_language(md, lang, data_words={"东城社区"})


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
    for section in ("staffing", "coverage", "siting"):
        assert f"This part was not planned. Run it with `{COMMANDS[section]}`." in md
    assert report["quality"]["ran"] is True


def test_empty_plan_reports_without_crashing(tmp_path: Path) -> None:
    from gridplan.output.planfile import Plan

    paths = write_report(Plan(), tmp_path, lang="zh")
    assert [p.name for p in paths] == ["report.md", "report.json", "report.html"]
    md = paths[0].read_text(encoding="utf-8")
    assert "gridplan assign DATASET --out DIR" in md
    check_language(md, "zh")


def test_replan_and_sensitivity_rendered() -> None:
    plan = synthetic_plan()
    plan.metadata["replan"] = {
        "changed_grids": ["G02"],
        "kept_grids": ["G01", "G03"],
        "households_moved": 12,
        "buildings_moved": 2,
    }
    plan.metadata["sensitivity"] = {
        "dwelling_size_m2": 90.0,
        "buildings_estimated": 4,
        "households_estimated": 30,
        "scenarios": {
            "×1": {"dwelling_size_m2": 90.0, "households": 96, "grid_households_min": 28,
                   "grid_households_max": 36, "grids_within_bounds": 1.0},
            "×0.8": {"dwelling_size_m2": 72.0, "households": 104, "grid_households_min": 30,
                     "grid_households_max": 41, "grids_within_bounds": 2 / 3},
        },
    }  # fmt: skip
    plan.layers["moved"] = pd.DataFrame(
        {
            "building_id": ["B100", "B101", "B110"],
            "households": [5, 7, 4],
            "old_grid_id": ["G01", "G01", "G02"],
            "new_grid_id": ["G02", "G02", "G03"],
        }
    )
    report = build_report(plan)
    assert report["replan"]["households_moved"] == 12
    assert report["replan"]["flows"] == [
        {"from": "G01", "to": "G02", "households": 12},
        {"from": "G02", "to": "G03", "households": 4},
    ]
    assert {"code": "sensitive", "n": 1} in report["attention"]
    md = render_markdown(report, lang="en")
    assert "1 grids were redrawn and 2 kept as they were; 12 households in 2 buildings" in md
    assert "| G01 | G02 | 12 |" in md
    assert "| This plan | 90 | 96 | 28–36 | 3 / 3 |" in md
    assert "| Dwellings 20 % smaller | 72 | 104 | 30–41 | 2 / 3 |" in md
    assert "up to 1 grids would leave the allowed 20–40 households" in md
    zh = render_markdown(report, lang="zh")
    assert "| 套均面积小 20% | 72 | 104 | 30–41 | 2 / 3 |" in zh
    check_language(md, "en", data_words={"东城社区"})
    check_language(zh, "zh")


def test_write_report_files_and_charts(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    paths = write_report(synthetic_plan(), tmp_path, lang="en")
    names = [p.name for p in paths]
    assert names == [
        "report.md",
        "report.json",
        "report.html",
        "households_per_grid.png",
        "coverage_by_category.png",
    ]
    for p in paths[3:]:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    data = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert data["charts"] == names[3:]
    md = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "![Households per grid](households_per_grid.png)" in md
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert '<img src="households_per_grid.png"' in page and "@page" in page
    for p in paths[:3]:
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
    assert [p.name for p in paths] == ["report.md", "report.json", "report.html"]
    assert "matplotlib is not installed" in paths[0].read_text(encoding="utf-8")


def test_unknown_metrics_stay_in_the_json() -> None:
    plan = synthetic_plan()
    plan.metadata["metrics"]["partition"]["communities"] = {
        "C01": {"grids": 2, "households": 60, "time_s": 0.3},
    }
    plan.metadata["metrics"]["coverage"]["seconds"] = {"snap": 0.5, "total": 1.25}
    report = build_report(plan)
    assert report["quality"]["metrics"]["communities"] == {"C01": {"grids": 2, "households": 60}}
    assert "seconds" not in report["coverage"]["metrics"]  # run times: metadata only
    md = render_markdown(report, lang="en")
    assert "communities.C01" not in md and "`C01`" not in md and "1.25" not in md


def test_town_report_separates_size_forced_grids(town_plan) -> None:
    report = build_report(town_plan)
    h = report["quality"]["households"]
    part = town_plan.metadata["metrics"]["partition"]
    assert h["grids_size_forced"] == part["grids_size_forced"]
    assert h["share_within_10pct_sizes_allow"] == part["share_within_10pct_sizes_allow"]
    assert h["share_within_10pct_sizes_allow"] >= h["share_within_10pct"] - 1e-9
    md = render_markdown(report, lang="en")
    assert f"{h['grids_size_forced']} grids cannot come closer to the target" in md


def test_every_report_label_is_in_both_languages() -> None:
    for section in ("report.", "review.", "vacancy."):
        zh = {k for k in LABELS["zh"] if k.startswith(section)}
        en = {k for k in LABELS["en"] if k.startswith(section)}
        assert zh == en and zh


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_town_report_reads_in_one_language(town_plan, lang: str) -> None:
    """The town's report (Markdown and HTML) holds no internal key and no sentence of the other
    language; its sensitivity section starts from the plan's own figures."""
    report = build_report(town_plan)
    names = {c["name"] for c in report["place"]["communities"] if c["name"]}
    assert names  # the town's communities have names, and the report uses them
    md = render_markdown(report, lang=lang, charts=["households_per_grid.png"])
    check_language(md, lang, data_words=names)
    page = render_html(report, lang=lang)
    body = re.sub(r"<code>(.*?)</code>", r"`\1`", page)  # code spans as in Markdown
    body = re.sub(r"<style>.*?</style>|<[^>]+>", " ", body, flags=re.S)
    check_language(html.unescape(body), lang, data_words=names)
    # the vacancy reasons are written in the language, not the staffing's English
    vac = report["staffing"]["vacancies"]
    assert vac and all(v["reason_code"] for v in vac)
    assert vac[0]["reason"] not in md
    # "this plan" in the sensitivity table is the plan itself
    plan_case = report["sensitivity"]["scenarios"]["×1"]
    assert plan_case["households"] == report["summary"]["households"]
    h = report["quality"]["households"]
    assert (plan_case["grid_households_min"], plan_case["grid_households_max"]) == (
        h["min"],
        h["max"],
    )


def test_same_plan_gives_byte_identical_reports(
    town_dataset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two runs of the same inputs and seed: report.md, report.json, report.html and the
    rosters are the same bytes, and so are their manifest entries (run times stay in the
    plan's metadata)."""
    from gridplan.output.planfile import MANIFEST
    from gridplan.run.pipeline import plan_dataset, run_to_folder

    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")  # 2026-01-01: the plan's date
    folders = []
    for name in ("a", "b"):
        plan = plan_dataset(town_dataset)
        folders.append(run_to_folder(plan, tmp_path / name, lang="zh", stages=None))
    a, b = folders
    same = ("report.md", "report.json", "report.html", "rosters.xlsx", "rosters/staff.csv")
    for name in same:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    ma = json.loads((a / MANIFEST).read_text(encoding="utf-8"))
    mb = json.loads((b / MANIFEST).read_text(encoding="utf-8"))
    assert all(ma[n] == mb[n] for n in same)
    assert "2026-01-01" in (a / "report.md").read_text(encoding="utf-8")
    assert "time_s" not in (a / "report.json").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def tower_plan(tmp_path_factory):
    """The 1 200-household tower town of test_land planned from disk (grids and units)."""
    from test_land import _tower_town

    from gridplan.io.load import load_dataset
    from gridplan.run.pipeline import plan_dataset

    b, c = _tower_town()
    folder = tmp_path_factory.mktemp("tower")
    b = b.assign(name=["东方大厦"] + [None] * (len(b) - 1))
    b.to_file(folder / "buildings.gpkg", layer="buildings")
    c.to_file(folder / "communities.gpkg", layer="communities")
    return plan_dataset(load_dataset(folder), stages=["partition", "units"])


def test_building_parts_layer_lists_split_buildings_only(tower_plan) -> None:
    """The layer holds exactly the buildings whose ``grid_ids`` name several grids, and each
    one's rows sum to its households (independently of the partition's own table)."""
    parts = tower_plan.layers["building_parts"]
    b = tower_plan.buildings
    split = b[b["grid_ids"].astype(str).str.contains(";")]
    assert len(split) >= 1
    assert set(parts["building_id"].astype(str)) == set(split["building_id"].astype(str))
    sums = parts.groupby(parts["building_id"].astype(str))["households"].sum()
    for bid, hh, ids in zip(
        split["building_id"], split["households"], split["grid_ids"], strict=True
    ):
        assert int(sums[str(bid)]) == int(hh)
        held = set(parts.loc[parts["building_id"].astype(str) == str(bid), "grid_id"])
        assert held == set(str(ids).split(";"))


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_report_lists_split_towers_per_grid(tower_plan, lang: str) -> None:
    parts = tower_plan.layers["building_parts"]
    tower = parts[parts["building_id"].astype(str) == "B000"]
    want = tower.groupby("grid_id")["households"].sum().astype(int)
    assert len(want) >= 3
    report = build_report(tower_plan)
    split = report["split_buildings"]
    assert [s["building_id"] for s in split] == ["B000"]
    got = {g["grid_id"]: g["households"] for g in split[0]["grids"]}
    assert got == {str(k): int(v) for k, v in want.items()}
    assert split[0]["households"] == 1200 and split[0]["name"] == "东方大厦"
    for g in split[0]["grids"]:  # each grid's parts sum to what it holds
        assert sum(p["households"] for p in g["parts"]) == g["households"]
        assert all(1 <= p["entrance"] <= 3 for p in g["parts"])
    md = render_markdown(report, lang=lang)
    lab = {k.removeprefix("report."): v for k, v in LABELS[lang].items()}
    assert lab["split_title"].format(n=1) in md
    rows = [ln for ln in md.splitlines() if ln.startswith("|") and "东方大厦" in ln]
    assert len(rows) == 1 and "1,200" in rows[0]
    lines = md.splitlines()
    for gid, hh in want.items():  # a row per grid, ending with the grid's households
        assert any(f"| {gid} |" in ln and ln.rstrip(" |").endswith(f"{hh:,}") for ln in lines)
    check_language(md, lang, data_words={"东方大厦"})


def test_report_without_split_buildings_has_no_split_section(report: dict[str, Any]) -> None:
    assert report["split_buildings"] == []
    md = render_markdown(report, lang="en")
    assert "split over grids" not in md


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_skipped_stages_say_the_real_reason(lang: str) -> None:
    from gridplan.output.planfile import SKIP_REASONS

    plan = synthetic_plan()
    for name in ("assignments", "vacancies", "coverage", "sites", "catchments"):
        plan.layers.pop(name)
    plan.metadata["metrics"] = {"partition": plan.metadata["metrics"]["partition"]}
    plan.metadata["skipped"] = {
        "assign": SKIP_REASONS["no_people"],
        "coverage": SKIP_REASONS["no_roads_facilities"],
        "site": "a reason this version never wrote",
    }
    report = build_report(plan)
    assert report["staffing"]["skipped"] == "no_people"
    assert report["coverage"]["skipped"] == "no_roads_facilities"
    assert report["siting"]["skipped"] is None  # unknown: the generic sentence below
    md = render_markdown(report, lang=lang)
    lab = {k.removeprefix("report."): v for k, v in LABELS[lang].items()}
    assert lab["skip_no_people"].format(command=COMMANDS["staffing"]) in md
    assert lab["skip_no_roads_facilities"].format(command=COMMANDS["coverage"]) in md
    assert lab["not_run"].format(command=COMMANDS["siting"]) in md
    # staffing and coverage no longer just say "not planned, run gridplan assign/coverage"
    for section in ("staffing", "coverage"):
        assert lab["not_run"].format(command=COMMANDS[section]) not in md
    assert lab["att_no_people"] in md
    check_language(md, lang, data_words={"东城社区"})
