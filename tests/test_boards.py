"""Printed grid notice boards (网格公示牌): contents, masking, pages, fonts, determinism."""

from __future__ import annotations

import re
import warnings
from dataclasses import replace
from pathlib import Path

import pytest

from gridplan._errors import ConfigError, DataError
from gridplan.output.boards.content import board_contents, duty_phones, grid_number
from gridplan.output.boards.draw import ems, index_pages, wrap
from gridplan.output.planfile import Plan

pytest.importorskip("matplotlib")

FULL_MOBILE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")


def _one_community(plan: Plan, cid: str = "C03", n_grids: int | None = None) -> Plan:
    """The plan cut down to the grids of one community (fewer pages to draw)."""
    grids = plan.layers["grids"]
    keep = grids[grids["community_id"] == cid].sort_values("grid_id")
    if n_grids is not None:
        keep = keep.head(n_grids)
    ids = set(keep["grid_id"])
    layers = dict(plan.layers)
    layers["grids"] = keep
    layers["units"] = plan.layers["units"][plan.layers["units"]["grid_id"].isin(ids)]
    comms = plan.layers["communities"]
    layers["communities"] = comms[comms["community_id"] == cid]
    return replace(plan, layers=layers)


def test_board_per_grid_with_masked_phones(town_plan):
    boards = board_contents(town_plan, lang="zh")
    grids = town_plan.grids
    assert [b.grid_id for b in boards] == sorted(grids["grid_id"])
    assert sum(b.households for b in boards) == int(grids["households"].sum())
    assert sum(len(b.units) for b in boards) == len(town_plan.units)
    people = town_plan.layers["people"]
    names = set(people["name"].astype(str))
    for b in boards:
        assert b.head is not None and b.head.name in names  # names, not ids
        assert b.head_home is None  # not shown unless allowed
        for p in [b.head, *b.workers, *(u.head for u in b.units if u.head)]:
            assert p is not None and not FULL_MOBILE.search(p.phone), p
            assert "****" in p.phone or p.phone == ""
        assert b.duty_phone is None
    # 5-minute facilities named for some grid, and the categories missing listed
    assert any(b.facilities.get("5min") for b in boards)
    assert any(b.missing for b in boards)
    first = boards[0]
    assert first.name == f"{first.community_name}第{grid_number(first.grid_id)}网格"


def test_head_home_only_when_allowed(town_plan):
    boards = board_contents(town_plan, show_head_home=True)
    people = town_plan.layers["people"].set_index("person_id")
    for b in boards:
        assert b.head is not None
        assert b.head_home == str(people.loc[b.head.person_id, "building_id"])
    no_people = replace(
        town_plan, layers={k: v for k, v in town_plan.layers.items() if k != "people"}
    )
    with pytest.raises(DataError, match="DATASET"):
        board_contents(no_people, show_head_home=True)


def test_duty_phones_precedence_and_unknown_ids(town_plan):
    gids = sorted(town_plan.grids["grid_id"])
    c01 = [g for g in gids if g.startswith("C01")]
    phones = duty_phones(["0854-1", "C01=0854-2", f"{c01[0]}=0854-3"], town_plan)
    assert phones[c01[0]] == "0854-3"
    assert all(phones[g] == "0854-2" for g in c01[1:])
    assert all(phones[g] == "0854-1" for g in gids if not g.startswith("C01"))
    with pytest.raises(ConfigError, match="C77"):
        duty_phones(["C77=1"], town_plan)
    boards = board_contents(town_plan, duty_phone=phones)
    assert {b.duty_phone for b in boards} == {"0854-1", "0854-2", "0854-3"}


def test_wrap_keeps_lines_within_width():
    text = "社区卫生服务站：东关社区卫生服务站、西街社区卫生服务站 and Riverside Health Station"
    for width in (6, 10, 17.5, 40):
        lines = wrap(text, width)
        assert all(ems(line) <= width for line in lines), (width, lines)
        assert "".join(lines).replace(" ", "") == text.replace(" ", "")
    cut = wrap(text, 10, max_lines=2)
    assert len(cut) == 2 and cut[-1].endswith("…")


def test_index_continues_on_more_pages():
    assert index_pages(10, "A4") == 1
    assert index_pages(300, "A4") > index_pages(60, "A4") > 1
    assert index_pages(60, "A3") <= index_pages(60, "A4")


@pytest.fixture(scope="module")
def c03_boards(town_plan, tmp_path_factory) -> Path:
    from gridplan.output.boards.write import write_boards

    out = tmp_path_factory.mktemp("boards") / "boards"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a missing glyph (tofu) is a matplotlib warning
        write_boards(_one_community(town_plan, n_grids=2), out, lang="zh")
    return out


def test_pages_atlas_and_png_size(c03_boards):
    pages = c03_boards / "pages"
    assert sorted(p.name for p in pages.iterdir()) == sorted(
        f"{stem}.{ext}" for stem in ("cover-C03", "C03-001", "C03-002") for ext in ("pdf", "png")
    )
    atlas = (c03_boards / "atlas.pdf").read_bytes()
    assert len(re.findall(rb"/Type\s*/Page\b", atlas)) == 3
    assert b"/CreationDate" not in atlas  # deterministic
    from matplotlib.image import imread

    img = imread(pages / "C03-001.png")
    assert img.shape[:2] == (1753, 1240)  # A4 (8.27 × 11.69 in) at 150 dpi, portrait
    # the Chinese font is embedded in the PDF (not a Latin font drawing boxes)
    assert b"WenQuanYi" in atlas or b"Noto" in atlas or b"SourceHan" in atlas


def test_same_plan_same_bytes(town_plan, c03_boards, tmp_path):
    from gridplan.output.boards.write import write_boards

    out = write_boards(_one_community(town_plan, n_grids=2), tmp_path / "again", lang="zh")
    for name in ("atlas.pdf", "pages/C03-001.png", "pages/C03-001.pdf"):
        assert (out / name).read_bytes() == (c03_boards / name).read_bytes(), name


def test_no_chinese_font_says_what_to_install(town_plan, tmp_path, monkeypatch):
    from gridplan.output.boards import write as board_write

    monkeypatch.setattr(board_write, "cjk_font", lambda: None)
    with pytest.raises(ConfigError, match="fonts-wqy-zenhei"):
        board_write.write_boards(town_plan, tmp_path / "b", lang="zh")
    assert not (tmp_path / "b").exists()


def test_bad_paper_and_refused_overwrite(town_plan, c03_boards):
    from gridplan._errors import OutputExistsError
    from gridplan.output.boards.write import write_boards

    with pytest.raises(ConfigError, match="paper"):
        write_boards(town_plan, c03_boards.parent / "x", paper="Letter")
    before = (c03_boards / "atlas.pdf").read_bytes()
    with pytest.raises(OutputExistsError):
        write_boards(_one_community(town_plan, n_grids=1), c03_boards)
    assert (c03_boards / "atlas.pdf").read_bytes() == before


@pytest.fixture()
def small_plan_dir(town_plan, tmp_path):
    """A plan folder of two grids of C03 (few pages), with rosters and manifest."""
    from gridplan.run.pipeline import run_to_folder

    return Path(
        run_to_folder(_one_community(town_plan, n_grids=2), tmp_path / "plan", stages=["assign"])
    )


def _manifest(folder: Path) -> dict[str, str]:
    import json

    return json.loads((folder / "manifest.json").read_text(encoding="utf-8"))


def test_boards_in_the_plan_folder_are_in_its_manifest(small_plan_dir, tmp_path):
    import json

    from gridplan.output.boards.write import print_boards
    from gridplan.output.planfile import file_checksum

    before = _manifest(small_plan_dir)
    assert before and not any(k.startswith("boards/") for k in before)
    # a stale entry of an earlier print, gone from the folder, must not survive
    stale = {**before, "boards/pages/OLD.pdf": "0" * 64}
    (small_plan_dir / "manifest.json").write_text(json.dumps(stale), encoding="utf-8")
    out = print_boards(small_plan_dir, lang="zh")
    assert out == small_plan_dir / "boards"
    after = _manifest(small_plan_dir)
    files = sorted(p for p in out.rglob("*") if p.is_file())
    assert files
    listed = {k: v for k, v in after.items() if k.startswith("boards/")}
    assert listed == {p.relative_to(small_plan_dir).as_posix(): file_checksum(p) for p in files}
    assert {k: v for k, v in after.items() if k not in listed} == before  # the rest kept
    # every file of the folder is listed with its checksum (the manifest checks out)
    on_disk = {
        p.relative_to(small_plan_dir).as_posix(): file_checksum(p)
        for p in small_plan_dir.rglob("*")
        if p.is_file() and p.name != "manifest.json"
    }
    assert after == on_disk
    assert not list(small_plan_dir.glob(".manifest.json*"))  # no temporary file left
    # boards written elsewhere leave the plan's manifest alone
    print_boards(small_plan_dir, tmp_path / "elsewhere", lang="zh")
    assert _manifest(small_plan_dir) == after


def test_boards_into_a_folder_without_manifest_are_refused_first(small_plan_dir):
    from gridplan.output.boards.write import print_boards

    (small_plan_dir / "manifest.json").unlink()
    with pytest.raises(DataError, match=r"has no manifest\.json"):
        print_boards(small_plan_dir, lang="zh")
    assert not (small_plan_dir / "boards").exists()
