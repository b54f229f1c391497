"""Rosters: sheets and headers in both languages, phones and IDs masked unless revealed."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
import pytest
from test_maps import ID_NUMBER, PHONES, synthetic_plan, unmasked_numbers

from gridplan.i18n import label
from gridplan.output.rosters import people_directory, roster_tables, write_rosters


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


def _plan_with_missing_phones():
    """The synthetic plan with G01 served by four workers, two of them without a phone, and a
    unit head without a phone (issue 13 B: a missing phone shifted every later phone)."""
    plan = synthetic_plan()
    people = plan.layers["people"].copy()
    people["phone"] = people["phone"].astype(object)
    people.loc[people["person_id"].isin(["P03", "P05", "P06"]), "phone"] = None
    plan.layers["people"] = people
    extra = pd.DataFrame(
        [
            ("P02", "grid_worker_part", "G01", 30.0),
            ("P05", "grid_worker_part", "G01", 60.0),
            ("P04", "grid_worker_part", "G01", 90.0),
        ],
        columns=["person_id", "role", "target_id", "distance_m"],
    )
    plan.layers["assignments"] = pd.concat([plan.layers["assignments"], extra], ignore_index=True)
    return plan


def _expected_phones(plan, lang: str) -> dict[str, str]:
    """Name -> the phone a roster must show beside it, from the people layer: the mobile
    masked as 138****5678, or the placeholder."""
    none = {"zh": "无", "en": "none"}[lang]
    out = {}
    people = plan.layers["people"]
    for name, phone in zip(people["name"], people["phone"], strict=True):
        out[name] = none if phone is None else f"{phone[:3]}****{phone[-4:]}"
    return out


def _pairs(names: str, phones: str, sep: str) -> list[tuple[str, str]]:
    if names in (label("vacant", "zh"), label("vacant", "en")):
        assert not phones  # a vacant post has no phone
        return []
    n = str(names).split(sep) if names else []
    p = str(phones).split(sep) if phones else []
    assert len(n) == len(p), (names, phones)
    return list(zip(n, p, strict=True))


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_phones_stay_beside_their_names(tmp_path: Path, lang: str) -> None:
    openpyxl = pytest.importorskip("openpyxl")
    plan = _plan_with_missing_phones()
    expected = _expected_phones(plan, lang)
    sep = "、" if lang == "zh" else "; "
    write_rosters(plan, tmp_path, lang=lang)
    book = openpyxl.load_workbook(tmp_path / "rosters.xlsx")

    def sheet_rows(name: str) -> list[dict[str, str]]:
        rows = list(book[name].iter_rows(values_only=True))
        return [
            {str(h): ("" if v is None else str(v)) for h, v in zip(rows[0], r, strict=True)}
            for r in rows[1:]
        ]

    csv = pd.read_csv(tmp_path / "rosters" / "grids.csv", dtype=str, encoding="utf-8-sig")
    csv_rows = csv.fillna("").to_dict("records")
    grid_pairs = [
        ("grid_head", "grid_head_phone"),
        ("workers", "workers_phones"),
    ]
    seen = 0
    for rows in (sheet_rows("grids"), csv_rows):
        assert len(rows) == 3
        for row in rows:
            for names, phones in grid_pairs:
                for name, phone in _pairs(row[label(names, lang)], row[label(phones, lang)], sep):
                    assert phone == expected[name], (row[label("grid_id", lang)], name)
                    seen += 1
        g01 = next(r for r in rows if r[label("grid_id", lang)] == "G01")
        assert g01[label("workers", lang)] == sep.join(["刘洋", "李娜", "杨磊", "陈静"])
        assert g01[label("workers_phones", lang)] == sep.join(
            [expected["刘洋"], expected["李娜"], expected["杨磊"], expected["陈静"]]
        )
        assert expected["刘洋"] == expected["杨磊"] == {"zh": "无", "en": "none"}[lang]
    assert seen > 10
    for row in sheet_rows("units"):
        for name, phone in _pairs(
            row[label("unit_head", lang)], row[label("unit_head_phone", lang)], sep
        ):
            assert phone == expected[name]
    for row in sheet_rows("staff"):
        assert row[label("phone", lang)] == expected[row[label("person_name", lang)]]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_map_popups_pair_names_with_their_phones(tmp_path: Path, lang: str) -> None:
    import json
    import re

    from gridplan.output.maps.make import write_map

    plan = _plan_with_missing_phones()
    expected = _expected_phones(plan, lang)
    html = write_map(plan, tmp_path / "map.html", lang=lang).read_text(encoding="utf-8")
    # every JSON string of the page, decoded (folium escapes non-ASCII as \uXXXX)
    strings = []
    for lit in re.findall(r'"((?:[^"\\]|\\.)*)"', html):
        try:
            strings.append(json.loads(f'"{lit}"'))
        except ValueError:
            continue
    shown: dict[str, set[str]] = {}
    for s in strings:
        m = re.fullmatch(r"(.+) \((.*)\)", s)
        if m and m.group(1) in expected:
            shown.setdefault(m.group(1), set()).add(m.group(2))
    # every staffed person is listed, each beside their own phone or the placeholder
    staffed = set(
        plan.layers["people"]
        .set_index("person_id")
        .loc[sorted(set(plan.layers["assignments"]["person_id"])), "name"]
    )
    assert staffed <= set(shown)
    for name, phones in shown.items():
        assert phones == {expected[name]}, name
    # G01's workers, in order, as the grid pop-up lists them
    g01 = [f"{n} ({expected[n]})" for n in ("刘洋", "李娜", "杨磊", "陈静")]
    assert re.search(
        r"\[\s*" + r",\s*".join(re.escape(json.dumps(x)) for x in g01) + r"\s*\]", html
    ) or re.search(
        r"\[\s*"
        + r",\s*".join(re.escape(json.dumps(x, ensure_ascii=False)) for x in g01)
        + r"\s*\]",
        html,
    )


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_workbook_is_ready_to_print(tmp_path: Path, lang: str) -> None:
    """Every sheet: bold header row, frozen and repeated on each printed page, landscape A4
    one page wide; an empty post reads 空缺 / vacant; phones still masked."""
    openpyxl = pytest.importorskip("openpyxl")
    plan = synthetic_plan()
    write_rosters(plan, tmp_path, lang=lang)
    book = openpyxl.load_workbook(tmp_path / "rosters.xlsx")
    assert book.sheetnames == ["grids", "units", "staff"]
    for sheet in book.worksheets:
        assert all(cell.font.bold for cell in sheet[1] if cell.value is not None)
        assert sheet.freeze_panes == "A2"
        assert sheet.print_title_rows == "$1:$1"
        assert sheet.page_setup.orientation == "landscape"
        assert int(sheet.page_setup.paperSize) == int(sheet.PAPERSIZE_A4)
        assert sheet.sheet_properties.pageSetUpPr.fitToPage is True
        assert sheet.page_setup.fitToWidth == 1 and sheet.page_setup.fitToHeight == 0
        assert "&P" in sheet.oddFooter.center.text
    vacant = label("vacant", lang)
    grids = pd.read_excel(tmp_path / "rosters.xlsx", sheet_name="grids", dtype=str)
    heads = grids.set_index(label("grid_id", lang))[label("grid_head", lang)]
    assert heads["G03"] == vacant  # G03 has no grid head in the synthetic plan
    assert heads["G01"] != vacant
    units = pd.read_excel(tmp_path / "rosters.xlsx", sheet_name="units", dtype=str)
    unit_heads = units.set_index(label("unit_id", lang))[label("unit_head", lang)]
    assert unit_heads["G03-U01"] == vacant and unit_heads["G03-U02"] == vacant
    assert not unmasked_numbers(_all_text([tmp_path / "rosters.xlsx"]))


def test_one_units_sheet_per_community_and_same_bytes(tmp_path: Path) -> None:
    """With ``by_community`` the units are split into one sheet per community, named by the
    community; the same rosters written twice are the same bytes."""
    openpyxl = pytest.importorskip("openpyxl")
    plan = synthetic_plan()
    plan.metadata["created_at"] = "2026-01-01T08:00:00Z"
    write_rosters(plan, tmp_path / "a", lang="zh", by_community=True)
    book = openpyxl.load_workbook(tmp_path / "a" / "rosters.xlsx")
    names = plan.layers["communities"]["name"].tolist()
    assert book.sheetnames == ["grids", "staff", *sorted(names)]
    sheet = book[names[0]]
    assert sheet.print_title_rows == "$1:$1" and sheet.max_row == 1 + len(plan.layers["units"])
    plan.metadata["parameters"]["rosters"] = {"by_community": True}  # the plan's setting
    write_rosters(plan, tmp_path / "b", lang="zh")
    a = (tmp_path / "a" / "rosters.xlsx").read_bytes()
    assert a == (tmp_path / "b" / "rosters.xlsx").read_bytes()
    assert book.properties.created.year == 2026
