"""The CLI the rio way: verbosity after the subcommand, only the options a command uses, usage
errors before any work, messages in CLI words, long error lists one per line, progress, print."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from gridplan._errors import DataError
from gridplan.cli import MAX_PROBLEM_LINES, error_text, main


@pytest.fixture()
def runner() -> CliRunner:
    return CliRunner()


def _options(runner: CliRunner, command: str) -> set[str]:
    res = runner.invoke(main, [command, "--help"])
    assert res.exit_code == 0, res.output
    return set(re.findall(r"(--[a-z][a-z-]+)", res.output))


def test_each_stage_offers_only_the_options_it_uses(runner):
    map_only = {"--basemap", "--tianditu-key"}
    for stage in ("partition", "units", "site"):
        opts = _options(runner, stage)
        assert not opts & (map_only | {"--lang", "--reveal-personal"}), (stage, opts)
        assert {"--config", "--seed", "--strict", "--offset", "--overwrite"} <= opts
    for stage in ("assign", "report"):
        opts = _options(runner, stage)
        assert {"--lang", "--reveal-personal"} <= opts and not opts & map_only, stage
    for command in ("map", "run", "demo", "replan"):
        assert map_only | {"--lang"} <= _options(runner, command), command
    for command in ("run", "partition", "sample", "validate", "print", "coverage"):
        assert {"--verbose", "--quiet"} <= _options(runner, command), command


def test_missing_tianditu_key_is_a_usage_error_before_any_work(runner, town_path, tmp_path):
    out = tmp_path / "plan"
    for command in ("run", "map", "replan"):
        args = [command, str(town_path), "--out", str(out), "--basemap", "tianditu"]
        if command == "replan":
            args.insert(1, str(tmp_path / "no-plan"))
        res = runner.invoke(main, args)
        assert res.exit_code == 2, (command, res.output)
        assert "--tianditu-key" in res.output
        assert "reading" not in res.output  # nothing was read
        assert not out.exists()


def test_missing_config_file_is_a_usage_error(runner, town_path, tmp_path):
    res = runner.invoke(
        main,
        ["partition", str(town_path), "--out", str(tmp_path / "p"), "--config", "nope.toml"],
    )
    assert res.exit_code == 2 and "nope.toml" in res.output


def test_sample_refused_before_generating(runner, tmp_path):
    out = tmp_path / "ds"
    out.mkdir()
    res = runner.invoke(main, ["sample", "--out", str(out)])
    assert res.exit_code == 1
    assert "--overwrite" in res.output and "overwrite=True" not in res.output
    assert "generating" not in res.output
    gpkg = tmp_path / "ds.gpkg"
    gpkg.write_bytes(b"")
    res = runner.invoke(main, ["sample", "--out", str(gpkg)])
    assert res.exit_code == 1 and "generating" not in res.output
    assert gpkg.read_bytes() == b""


def test_quiet_and_verbose_after_the_subcommand(runner, town_path, tmp_path):
    res = runner.invoke(main, ["partition", str(town_path), "--out", str(tmp_path / "a"), "-q"])
    assert res.exit_code == 0, res.output
    assert "reading" not in res.stderr and "community" not in res.stderr
    assert "wrote" in res.stdout
    res = runner.invoke(main, ["partition", str(town_path), "--out", str(tmp_path / "b")])
    assert res.exit_code == 0, res.output
    # counted steps: a line each when stderr is no terminal (a bar on a terminal)
    assert "community C01 planned (1/3)" in res.stderr
    assert "community C03 planned (3/3)" in res.stderr

    def cli_level() -> int:
        (handler,) = [
            h for h in logging.getLogger("gridplan").handlers if getattr(h, "_gridplan_cli", 0)
        ]
        return handler.level

    assert runner.invoke(main, ["validate", str(town_path), "-v"]).exit_code == 0
    assert cli_level() == logging.INFO
    assert runner.invoke(main, ["-v", "validate", str(town_path), "-v"]).exit_code == 0
    assert cli_level() == logging.DEBUG  # counts add up
    assert runner.invoke(main, ["-v", "validate", str(town_path), "-q"]).exit_code == 0
    assert cli_level() == logging.ERROR  # -q wins


def test_long_problem_lists_one_line_each_capped():
    problems = [f"buildings: problem {i}" for i in range(MAX_PROBLEM_LINES + 7)]
    text = error_text(DataError("many", problems))
    lines = text.splitlines()
    assert lines[0] == f"{len(problems)} problems:"
    assert lines[1] == "  - buildings: problem 0"
    assert len(lines) == MAX_PROBLEM_LINES + 2
    assert lines[-1] == "  … and 7 more"
    assert error_text(DataError("one thing")) == "one thing"


def test_strict_error_lists_grids_one_per_line(runner, town_path, tmp_path):
    cfg = tmp_path / "tight.toml"
    cfg.write_text("[grids]\ntarget_households = 400\nmin_households = 395\nmax_households = 405\n")
    out = tmp_path / "plan"
    res = runner.invoke(
        main, ["partition", str(town_path), "--out", str(out), "--config", str(cfg), "--strict"]
    )
    assert res.exit_code == 1, res.output
    error = res.stderr[res.stderr.index("Error:") :].splitlines()
    items = [ln for ln in error if ln.startswith("  - ")]
    assert len(items) >= 2
    assert re.search(r"(\d+) grid\(s\) out of bounds", error[0])
    # one grid a line (each with its fix), not one 3 000-character line
    assert all(len(ln) < 400 for ln in error)
    assert all("Fix:" in ln for ln in items)
    assert "--strict" in error[0]
    assert sum("out of bounds" in ln for ln in error) == len({ln.split(":")[0] for ln in items})
    assert not out.exists()


def test_progress_bars_count_steps(tmp_path):
    import io

    from gridplan._progress import ProgressBars, tell

    lines: list[str] = []
    tell(lines.append, "community C01 planned", done=1, total=2)
    assert lines == ["community C01 planned (1/2)"]

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Tty()
    with ProgressBars(lines.append, file=stream, leave=True) as bars:
        for i in range(1, 4):
            tell(bars, f"board {i}", done=i, total=3)
        bars("writing …")
    assert "3/3" in stream.getvalue() and "board 3" in stream.getvalue()
    assert lines[-1] == "writing …"


def test_print_command(runner, town_plan_dir, town_path, tmp_path):
    out = tmp_path / "boards"
    bad = runner.invoke(
        main, ["print", str(town_plan_dir), "--out", str(out), "--duty-phone", "C01-001="]
    )
    assert bad.exit_code == 2 and "--duty-phone" in bad.output
    bad = runner.invoke(main, ["print", str(town_plan_dir), "--paper", "B5"])
    assert bad.exit_code == 2
    res = runner.invoke(
        main,
        ["print", str(town_plan_dir), "--out", str(out), "--lang", "en", "--duty-phone", "C77=1"],
    )
    assert res.exit_code == 1 and "C77" in res.output
    assert not out.exists()


@pytest.mark.slow
def test_print_town_boards(runner, town_plan_dir, tmp_path):
    out = tmp_path / "boards"
    res = runner.invoke(main, ["print", str(town_plan_dir), "--out", str(out), "-q"])
    assert res.exit_code == 0, res.output
    n_grids = len(list((out / "pages").glob("C0?-*.png")))
    assert n_grids == 23
    assert (out / "atlas.pdf").stat().st_size > 0
    res = runner.invoke(main, ["print", str(town_plan_dir), "--out", str(out)])
    assert res.exit_code == 1 and "--overwrite" in res.output


def test_print_reads_names_from_the_rosters(town_plan_dir):
    from gridplan.output.boards.content import board_contents, staff_from_rosters
    from gridplan.output.planfile import read_plan

    staff = staff_from_rosters(town_plan_dir)
    assert staff is not None and {"person_id", "name", "phone"} <= set(staff.columns)
    plan = read_plan(Path(town_plan_dir))
    boards = board_contents(plan, people=staff)
    assert all(b.head is None or b.head.name != b.head.person_id for b in boards)


def test_stage_commands_read_an_overrides_file(runner, town_path, tmp_path):
    for command in ("partition", "units", "assign", "site", "map", "report", "coverage"):
        assert "--overrides" in _options(runner, command), command
    fix = tmp_path / "fix.csv"
    fix.write_text("building_id,households\nB00010,41\n", encoding="utf-8")
    out = tmp_path / "plan"
    res = runner.invoke(
        main,
        ["partition", str(town_path), "--out", str(out), "--overrides", str(fix)],
    )
    assert res.exit_code == 0, res.output
    assert "1 override(s) applied" in res.output
    from gridplan.output.planfile import read_plan

    b = read_plan(out).buildings.set_index("building_id")
    assert b.loc["B00010", "households"] == 41 and b.loc["B00010", "use_source"] == "override"
    res = runner.invoke(
        main,
        ["units", str(town_path), "--out", str(tmp_path / "u"), "--overrides", "nope.csv"],
    )
    assert res.exit_code == 2 and "nope.csv" in res.output


@pytest.fixture()
def stale_town(town_path, tmp_path):
    """The town with community C03's households_total far above its buildings' estimate."""
    import shutil

    import geopandas as gpd

    folder = tmp_path / "stale"
    shutil.copytree(town_path, folder)
    c = gpd.read_file(folder / "communities.geojson")
    c.loc[c["community_id"] == "C03", "households_total"] = 9000
    c.to_file(folder / "communities.geojson")
    return folder


@pytest.mark.parametrize("batched", [False, True])
def test_stale_total_warning_is_printed_once(runner, stale_town, tmp_path, batched):
    args = ["partition", str(stale_town), "--out", str(tmp_path / "p")]
    if batched:
        args = ["run", str(stale_town), "--out", str(tmp_path / "p"), "--batch-size", "2"]
    res = runner.invoke(main, args)
    assert res.exit_code == 0, res.output
    lines = [ln for ln in res.stderr.splitlines() if "households_total looks stale" in ln]
    assert len(lines) == 1, res.stderr
    assert "C03" in lines[0] and "scales the estimates up" in lines[0]
