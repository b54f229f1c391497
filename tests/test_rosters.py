"""Rosters: sheets and headers in both languages, phones and IDs masked unless revealed."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
import pytest
from test_maps import ID_NUMBER, PHONES, synthetic_plan, unmasked_numbers

from gridplan.i18n import label
from gridplan.rosters import people_directory, roster_tables, write_rosters


def _all_text(paths: list[Path]) -> str:
    """Every cell of every CSV and workbook written, as text."""
    parts = []
    for p in paths:
        if p.suffix == ".csv":
            parts.append(p.read_text(encoding="utf-8-sig"))
        elif p.suffix == ".xlsx":
            for df in pd.read_excel(p, sheet_name=None, dtype=str).values():
                parts.append(df.to_csv(index=False))
    return "\n".join(parts)


def test_masked_by_default(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    pytest.importorskip("openpyxl")
    with caplog.at_level(logging.DEBUG):
        paths = write_rosters(synthetic_plan(), tmp_path, lang="zh")
    assert sorted(p.name for p in paths) == ["grids.csv", "rosters.xlsx", "staff.csv", "units.csv"]
    text = _all_text(paths)
    for phone in PHONES:
        assert phone not in text
    assert ID_NUMBER not in text
    assert not unmasked_numbers(text)
    assert "138****5678" in text and "张伟" in text  # name public, phone masked
    assert "110***********002X" in text
    assert not any(p in caplog.text for p in PHONES)


def test_reveal_shows_phones_and_ids(tmp_path: Path) -> None:
    pytest.importorskip("openpyxl")
    paths = write_rosters(synthetic_plan(), tmp_path, lang="en", reveal=True)
    text = _all_text(paths)
    assert "13812345678" in text and ID_NUMBER in text
    staff = pd.read_excel(tmp_path / "rosters.xlsx", sheet_name="staff", dtype=str)
    assert "13812345678" in set(staff["Phone"])


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_sheets_and_headers(lang: str) -> None:
    sheets = roster_tables(synthetic_plan(), lang=lang)
    assert list(sheets) == ["grids", "units", "staff"]
    grids, units, staff = sheets["grids"], sheets["units"], sheets["staff"]
    assert label("grid_id", lang) in grids.columns and label("grid_head", lang) in grids.columns
    assert len(grids) == 3 and len(units) == 6 and len(staff) == 9
    g1 = grids.set_index(label("grid_id", lang)).loc["G01"]
    assert g1[label("grid_head", lang)] == "张伟"
    assert g1[label("workers", lang)] == "刘洋"
    u = units.set_index(label("unit_id", lang)).loc["G01-U01"]
    expected = (
        "B000（1单元 1–6层）、B001（1单元 1–6层）"
        if lang == "zh"
        else "B000 (entrance 1, floors 1–6); B001 (entrance 1, floors 1–6)"
    )
    assert u[label("buildings_list", lang)] == expected
    assert staff[label("role", lang)].iloc[0] == ("网格长" if lang == "zh" else "Grid head")
    roles = set(staff[label("role", lang)])
    assert ("网格长" if lang == "zh" else "Grid head") in roles


def test_csv_has_bom_for_excel(tmp_path: Path) -> None:
    write_rosters(synthetic_plan(), tmp_path, lang="zh")
    raw = (tmp_path / "rosters" / "grids.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    assert "网格编号".encode() in raw


def test_without_people_or_staff(tmp_path: Path) -> None:
    plan = synthetic_plan(with_people=False)
    assert people_directory(plan) == {}
    sheets = roster_tables(plan, lang="en")
    assert sheets["grids"].set_index("Grid").loc["G01", "Grid head"] == "P00"
    plan.layers.pop("assignments")
    plan.layers.pop("units")
    paths = write_rosters(plan, tmp_path, lang="en")
    assert sorted(p.name for p in paths if p.suffix == ".csv") == ["grids.csv"]


def test_without_openpyxl_writes_csv_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import builtins

    real_import = builtins.__import__

    def fake_import(name: str, *args: object, **kwargs: object) -> object:
        if name == "openpyxl" or name.startswith("openpyxl."):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(builtins, "__import__", fake_import)
    with caplog.at_level(logging.WARNING):
        paths = write_rosters(synthetic_plan(), tmp_path)
    assert all(p.suffix == ".csv" for p in paths) and len(paths) == 3
    assert "openpyxl is not installed" in caplog.text


def test_phone_read_as_float_is_masked_like_text() -> None:
    plan = synthetic_plan()
    people = plan.layers["people"].copy()
    people["phone"] = people["phone"].astype(float)
    plan.layers["people"] = people
    directory = people_directory(plan)
    assert directory["P00"].phone == "138****5678"
    assert people_directory(plan, reveal=True)["P00"].phone == "13812345678"
