"""The ``gridplan`` command line (see the README). Thin: parse, call one library function, print.

Exit codes: 0 success; 2 usage error; 1 a data or planning error, with a message that names the
layer, the offending ids and the fix. Nothing half-written is left behind on failure.
"""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from gridplan import __version__
from gridplan._errors import GridplanError
from gridplan.cli_requests import requests_group
from gridplan.db import shown

if TYPE_CHECKING:
    from gridplan._progress import ProgressBars
    from gridplan.output.planfile import Plan
    from gridplan.settings import Config

logger = logging.getLogger("gridplan")

OFFSETS = ("gcj02", "bd09")


def _setup_logging(verbosity: int) -> None:
    """One stderr handler on the ``gridplan`` logger, masking personal data.

    The handler's level does the filtering; the logger's own level is lowered only for ``-v``
    so that other code (a notebook, a test) keeps control of logging otherwise.
    """
    from gridplan.privacy import PersonalDataFilter

    level = {-1: logging.ERROR, 0: logging.WARNING, 1: logging.INFO}.get(verbosity, logging.DEBUG)
    root = logging.getLogger("gridplan")
    for h in list(root.handlers):
        if getattr(h, "_gridplan_cli", False):
            root.removeHandler(h)
    handler = logging.StreamHandler(sys.stderr)
    handler.setLevel(level)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handler.addFilter(PersonalDataFilter())
    handler._gridplan_cli = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    if level < root.getEffectiveLevel():
        root.setLevel(level)


class _State:
    """What every command shares: the verbosity, and the progress reporter built from it."""

    def __init__(self, verbosity: int) -> None:
        self.verbosity = verbosity
        self._bars: ProgressBars | None = None

    def say(self, line: str) -> None:
        if self.verbosity >= 0:
            click.echo(line, err=True)

    @property
    def progress(self) -> ProgressBars | None:
        """Stage lines and progress bars on stderr; ``None`` (nothing) with ``-q``."""
        if self.verbosity < 0:
            return None
        if self._bars is None:
            from gridplan._progress import ProgressBars

            self._bars = ProgressBars(self.say)
        return self._bars

    def close(self) -> None:
        if self._bars is not None:
            self._bars.close()


def _verbosity_callback(ctx: click.Context, param: click.Parameter, value: Any) -> None:
    """``-v``/``-q`` given after the subcommand: they add to those given before it."""
    if not value or ctx.resilient_parsing:
        return
    state = ctx.find_object(_State)
    if state is None:  # pragma: no cover - every command runs under the group
        return
    if param.name == "quiet":
        state.verbosity = -1
    elif state.verbosity >= 0:
        state.verbosity += int(value)
    _setup_logging(state.verbosity)


def verbosity_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``-v``/``-q`` on a subcommand too (``gridplan run DATASET --out DIR -q``)."""
    fn = click.option(
        "-q",
        "--quiet",
        is_flag=True,
        expose_value=False,
        callback=_verbosity_callback,
        help="Only errors (no progress).",
    )(fn)
    return click.option(
        "-v",
        "--verbose",
        count=True,
        expose_value=False,
        callback=_verbosity_callback,
        help="More log output (-vv for debug).",
    )(fn)


#: Lines of a problem list the CLI prints before "… and N more".
MAX_PROBLEM_LINES = 20


def error_text(exc: GridplanError) -> str:
    """The message of a library error for the terminal: a list of problems one per line,
    at most :data:`MAX_PROBLEM_LINES` of them and then how many more."""
    problems = [p for p in getattr(exc, "problems", []) if p]
    if len(problems) <= 1:
        return str(exc)
    shown = problems[:MAX_PROBLEM_LINES]
    lines = [f"{len(problems)} problems:", *(f"  - {p}" for p in shown)]
    if len(problems) > len(shown):
        lines.append(f"  … and {len(problems) - len(shown)} more")
    return "\n".join(lines)


def _library_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn gridplan's own errors into exit code 1 with the message; nothing else is caught.
    Progress bars are closed first, so the message starts on a line of its own."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        state = click.get_current_context().find_object(_State)
        try:
            return fn(*args, **kwargs)
        except GridplanError as exc:
            raise click.ClickException(error_text(exc)) from exc
        finally:
            if state is not None:
                state.close()

    return wrapper


# -- shared options ---------------------------------------------------------------------------


class Location(click.ParamType):
    """A file or folder path, or a PostgreSQL URL (``postgresql://…?schema=NAME``) kept as
    text (a path would fold its ``//``)."""

    name = "location"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        from gridplan.db import is_database_url

        if isinstance(value, Path) or not is_database_url(value):
            return Path(value)
        return str(value)


LOCATION = Location()


def offset_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--offset",
        type=click.Choice(OFFSETS),
        default=None,
        help="The dataset's coordinates carry the GCJ-02 or BD-09 web-map offset; convert them.",
    )(fn)


def overwrite_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--overwrite", is_flag=True, help="Replace an existing output (else exit 1, untouched)."
    )(fn)


def out_option(
    required: bool = True, *, dataset: bool = False
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return click.option(
        "--out",
        "out",
        type=click.Path(path_type=Path, file_okay=dataset) if dataset else LOCATION,
        required=required,
        help=(
            "Output dataset: a .gpkg file, or a folder."
            if dataset
            else "Output folder, or postgresql://…?schema=NAME for the plan's tables."
        ),
    )


def config_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``--config``, ``--seed`` and ``--strict``: what every planning command reads."""
    for deco in reversed(
        [
            click.option(
                "--config",
                "config_path",
                type=click.Path(path_type=Path, dir_okay=False, exists=True),
                default=None,
                help="plan.toml overriding the defaults.",
            ),
            click.option("--seed", type=int, default=None, help="Override the config's seed."),
            click.option(
                "--strict",
                is_flag=True,
                help="Treat grid balance flags as errors (exit 1).",
            ),
        ]
    ):
        fn = deco(fn)
    return fn


def lang_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--lang",
        type=click.Choice(["zh", "en"]),
        default="zh",
        show_default=True,
        help="Language of what people read (map, report, rosters, boards).",
    )(fn)


def reveal_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--reveal-personal",
        is_flag=True,
        help="Show phones and ID numbers unmasked in rosters (personal data!).",
    )(fn)


def basemap_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    fn = click.option(
        "--tianditu-key", default=None, help="Tianditu API key (needed by --basemap tianditu)."
    )(fn)
    return click.option(
        "--basemap",
        type=click.Choice(["osm", "tianditu", "gaode"]),
        default="osm",
        show_default=True,
        help="Map basemap (overlays are shifted to GCJ-02 over Gaode).",
    )(fn)


def plan_options(
    *, lang: bool = True, rosters: bool = True, basemap: bool = True
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The options of a planning command: the config always; the language when it writes
    something people read, ``--reveal-personal`` when it writes rosters, the basemap when it
    draws the map. A command offers only what it uses."""

    def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
        if basemap:
            fn = basemap_options(fn)
        if rosters:
            fn = reveal_option(fn)
        if lang:
            fn = lang_option(fn)
        return config_options(fn)

    return deco


def _check_map_options(basemap: str, tianditu_key: str | None) -> None:
    """Usage errors of the map options, found before any work (exit 2)."""
    if basemap == "tianditu" and not tianditu_key:
        raise click.BadParameter(
            "the Tianditu basemap needs a key: add --tianditu-key KEY (a free browser key from"
            " console.tianditu.gov.cn), or choose --basemap osm or gaode",
            param_hint="--basemap",
        )


def _overrides(seed: int | None, strict: bool) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    if seed is not None:
        overrides["seed"] = seed
    if strict:
        overrides["grids"] = {"strict": True}
    return overrides


def _config(config_path: Path | None, seed: int | None, strict: bool) -> Config:
    from gridplan.settings import load_config

    return load_config(config_path, **_overrides(seed, strict))


# -- the group ----------------------------------------------------------------------------------


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="gridplan")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.option("-q", "--quiet", is_flag=True, help="Only errors.")
@click.pass_context
def main(ctx: click.Context, verbose: int, quiet: bool) -> None:
    """gridplan: plan community grids (网格), ten-household units (十联户), their staff and
    the 15-minute life circle, from building, road, facility and roster data."""
    verbosity = -1 if quiet else verbose
    _setup_logging(verbosity)
    ctx.obj = _State(verbosity)


@main.command()
@out_option(dataset=True)
@click.option(
    "--scale",
    type=click.Choice(["town", "city", "province"]),
    default="town",
    show_default=True,
    help="town: 3 communities (~8 800 households); city: ~19; province: hundreds.",
)
@click.option("--seed", type=int, default=0, show_default=True)
@overwrite_option
@verbosity_options
@click.pass_obj
@_library_errors
def sample(state: _State, out: Path, scale: str, seed: int, overwrite: bool) -> None:
    """Write a deterministic synthetic sample dataset to OUT (a .gpkg file, or a folder)."""
    from gridplan._atomic import check_output
    from gridplan.sample.generate import write_sample

    check_output(out, overwrite=overwrite)  # refuse before any work
    state.say(f"generating the {scale} sample (seed {seed}) …")
    path = write_sample(out, scale, seed=seed, overwrite=overwrite)
    click.echo(f"wrote {path}")


@main.command()
@click.argument("dataset", type=LOCATION)
@offset_option
@click.option("--config", "config_path", type=click.Path(path_type=Path, dir_okay=False))
@verbosity_options
@click.pass_obj
@_library_errors
def validate(state: _State, dataset: Path, offset: str | None, config_path: Path | None) -> None:
    """Check DATASET against the dataset contract; list every problem at once."""
    from gridplan.io.load import read_dataset
    from gridplan.validate.checks import check_dataset

    cfg = _config(config_path, None, False)
    errors, warnings = check_dataset(read_dataset(dataset, offset=offset), config=cfg)
    for w in warnings:
        click.echo(f"warning: {w}", err=True)
    if errors:
        lines = "\n".join(f"  - {e}" for e in errors)
        raise click.ClickException(f"{shown(dataset)}: {len(errors)} problem(s):\n{lines}")
    click.echo(f"{shown(dataset)}: valid ({len(warnings)} warning(s))")


def _load(
    state: _State,
    dataset: Path | str,
    offset: str | None,
    cfg: Config,
    communities: str | None,
    overrides: Path | None = None,
):
    from gridplan.io.load import load_dataset
    from gridplan.run.pipeline import subset_communities

    state.say(f"reading {shown(dataset)} …")
    ds = load_dataset(dataset, offset=offset, config=cfg, overrides=overrides)
    for w in ds.warnings:
        logger.warning("%s", w)
    if communities:
        ids = [c.strip() for c in communities.split(",") if c.strip()]
        ds = subset_communities(ds, ids)
    return ds


def _check_out(out: Path | str, overwrite: bool, files: Path | None = None) -> None:
    """Fail before any work when OUT (a folder or a plan schema) or --files may not be written."""
    from gridplan._atomic import check_output_dir
    from gridplan.db import is_database_url, parse_database_url

    if is_database_url(out):
        from gridplan.output.postgis import check_plan_schema

        check_plan_schema(parse_database_url(str(out)), overwrite=overwrite)
        if files is not None:
            check_output_dir(files, overwrite=overwrite)
    else:
        if files is not None:
            raise click.UsageError("--files goes with --out postgresql://… (a folder holds them)")
        check_output_dir(out, overwrite=overwrite)


def overrides_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--overrides",
        type=click.Path(path_type=Path, dir_okay=False, exists=True),
        default=None,
        help=(
            "A planner's corrections, CSV building_id,use,households: they win over every estimate."
        ),
    )(fn)


def files_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--files",
        type=click.Path(path_type=Path, file_okay=False),
        default=None,
        help="With --out postgresql://…: the folder for the map, report and rosters.",
    )(fn)


def _run(
    state: _State,
    dataset: Path,
    out: Path,
    *,
    stages: list[str] | None,
    config_path: Path | None,
    seed: int | None,
    offset: str | None,
    overwrite: bool,
    strict: bool,
    lang: str = "zh",
    reveal_personal: bool = False,
    basemap: str = "osm",
    tianditu_key: str | None = None,
    communities: str | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    batch_size: int | None = None,
    overrides: Path | None = None,
    files: Path | None = None,
    requests: str | None = None,
    request_file: Path | None = None,
) -> None:
    from gridplan.run.folder import plan_to_folder

    _check_map_options(basemap, tianditu_key)
    _check_out(out, overwrite, files)  # fail before any work (a bad config included)
    done = plan_to_folder(
        dataset,
        out,
        config=_config(config_path, seed, strict),
        stages=stages,
        workers=workers,
        scheduler=scheduler,
        batch_size=batch_size,
        offset=offset,
        communities=[c.strip() for c in (communities or "").split(",") if c.strip()],
        overwrite=overwrite,
        lang=lang,
        reveal_personal=reveal_personal,
        basemap=basemap,
        tianditu_key=tianditu_key,
        progress=state.progress,
        overrides=overrides,
        files=files,
        requests=requests,
        request_file=request_file,
    )
    if done.plan is None:
        click.echo(f"wrote {out} (batched: partition, units, staffing, coverage)")
    else:
        _summary(done.plan, done.out)
        if done.files is not None:
            click.echo(f"wrote {done.files} (map, report, rosters)")


def _summary(plan: Plan, out: Path | str) -> None:
    m = plan.metadata.get("metrics", {})
    part = m.get("partition", {})
    bits = [f"{len(plan.grids)} grids"] if "grids" in plan.layers else []
    complete = m.get("coverage", {}).get("complete_share", {})
    if complete and "units" not in plan.layers:
        shares = ", ".join(f"{t} {v:.0%}" for t, v in complete.items())
        bits.append(f"households reaching every facility category: {shares}")
    if "units" in plan.layers:
        bits.append(f"{len(plan.units)} units")
    if "max_deviation" in part:
        bits.append(f"max deviation {part['max_deviation']:.1%}")
    b = plan.layers.get("buildings")
    if b is not None and "use_source" in b.columns and (b["use_source"] == "override").any():
        bits.append(f"{int((b['use_source'] == 'override').sum())} override(s) applied")
    where = shown(out)
    click.echo(f"wrote {where} ({', '.join(bits)})" if bits else f"wrote {where}")


@main.command()
@click.argument("dataset", type=LOCATION)
@out_option()
@files_option
@plan_options()
@offset_option
@overwrite_option
@click.option("--communities", default=None, help="Plan only these community ids (comma list).")
@overrides_option
@click.option("--workers", type=int, default=None, help="Run on a local Dask cluster of N workers.")
@click.option("--scheduler", default=None, help="Address of an existing dask.distributed cluster.")
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=None,
    help=(
        "Plan N communities at a time from disk (provinces): partition, units, staffing,"
        " coverage, rosters; no siting, map or report."
    ),
)
@click.option(
    "--requests",
    "requests",
    default=None,
    help="A request ledger (.gpkg or postgresql:// URL): its open requests on the map and "
    "a requests section (三率, overdue, coverage gaps) in the report.",
)
@verbosity_options
@click.pass_obj
@_library_errors
def run(
    state: _State,
    dataset: Path,
    out: Path,
    workers: int | None,
    scheduler: str | None,
    batch_size: int | None,
    **kw: Any,
) -> None:
    """Plan DATASET end to end and write the plan folder OUT."""
    if workers is not None and scheduler is not None:
        raise click.UsageError("give --workers or --scheduler, not both")
    if workers is not None and workers < 1:
        raise click.BadParameter("give at least 1 worker", param_hint="--workers")
    if batch_size is not None and kw.get("communities"):
        raise click.UsageError("--communities and --batch-size do not go together")
    _run(
        state,
        dataset,
        out,
        stages=None,
        workers=workers,
        scheduler=scheduler,
        batch_size=batch_size,
        **kw,
    )


@main.command()
@out_option(required=False)
@plan_options()
@overwrite_option
@verbosity_options
@click.pass_obj
@_library_errors
def demo(state: _State, out: Path | None, **kw: Any) -> None:
    """Run the whole pipeline on the bundled sample town (writes ./demo-plan by default), with
    its month of residents' requests imported into the plan's requests.gpkg and shown on the
    map and in the report."""
    from gridplan.run.pipeline import bundled_town

    out = out or Path("demo-plan")
    dataset = bundled_town()
    requests = dataset / "requests.csv"
    _run(
        state,
        dataset,
        out,
        stages=None,
        offset=None,
        request_file=requests if requests.exists() else None,
        **kw,
    )


#: What each stage command writes besides plan.gpkg: rosters (``--lang``,
#: ``--reveal-personal``), a report (``--lang``), the map (``--lang``, ``--basemap``).
_STAGE_OUTPUTS: dict[str, dict[str, bool]] = {
    "partition": {"lang": False, "rosters": False, "basemap": False},
    "units": {"lang": False, "rosters": False, "basemap": False},
    "assign": {"lang": True, "rosters": True, "basemap": False},
    "site": {"lang": False, "rosters": False, "basemap": False},
    "map": {"lang": True, "rosters": True, "basemap": True},
    "report": {"lang": True, "rosters": True, "basemap": False},
}


def _stage_command(stage: str, doc: str) -> None:
    @main.command(name=stage, help=doc)
    @click.argument("dataset", type=LOCATION)
    @out_option()
    @plan_options(**_STAGE_OUTPUTS[stage])
    @offset_option
    @overwrite_option
    @click.option("--communities", default=None, help="Plan only these community ids.")
    @overrides_option
    @verbosity_options
    @click.pass_obj
    @_library_errors
    def _cmd(state: _State, dataset: Path, out: Path, **kw: Any) -> None:
        _run(state, dataset, out, stages=[stage], **kw)


for _stage, _doc in (
    ("partition", "Partition each community of DATASET into grids (网格)."),
    ("units", "Grids, then ten-household units (十联户) inside each grid."),
    ("assign", "Grids and units, then staff them from the people roster."),
    ("site", "Coverage, then recommend new facility sites."),
    ("map", "The whole plan and its Folium map (map.html)."),
    ("report", "The whole plan and its report (report.md, report.json)."),
):
    _stage_command(_stage, _doc)


@main.command()
@click.argument("dataset", type=LOCATION)
@out_option()
@click.option(
    "--per-grid",
    is_flag=True,
    help="Partition DATASET into grids first and summarise coverage per grid as well.",
)
@click.option(
    "--grids",
    "grids_plan",
    type=click.Path(path_type=Path, exists=True),
    default=None,
    metavar="PLAN_DIR",
    help=(
        "Summarise per grid with the grids of an existing plan folder (from `gridplan run` or"
        " `gridplan partition` on this dataset) instead of partitioning again."
    ),
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="plan.toml overriding the defaults (tiers, categories, walking speed).",
)
@click.option("--seed", type=int, default=None, help="Override the config's seed (--per-grid).")
@click.option("--strict", is_flag=True, help="Grid balance flags are errors (--per-grid).")
@offset_option
@overwrite_option
@click.option("--communities", default=None, help="Only the buildings of these community ids.")
@overrides_option
@verbosity_options
@click.pass_obj
@_library_errors
def coverage(
    state: _State,
    dataset: Path,
    out: Path,
    per_grid: bool,
    grids_plan: Path | None,
    config_path: Path | None,
    seed: int | None,
    strict: bool,
    offset: str | None,
    overwrite: bool,
    communities: str | None,
    overrides: Path | None,
) -> None:
    """15-minute life-circle coverage of DATASET on the walk network, written to OUT.

    Walking minutes from every residential building to the nearest facility of each category
    of each tier (GB 50180), and the share of households covered, for the whole dataset and
    per community: layers `coverage` and `coverage_summary` of OUT/plan.gpkg. No grids are
    planned: add --per-grid to partition first, or --grids PLAN_DIR to use the grids of a plan
    made before (each building keeps its grid there), for per-grid figures too. Catchment
    polygons are drawn by `gridplan map`, not here."""
    from gridplan.output.planfile import read_plan
    from gridplan.run.pipeline import plan_coverage, run_to_folder

    if per_grid and grids_plan is not None:
        raise click.UsageError("give --per-grid (partition now) or --grids PLAN_DIR, not both")
    _check_out(out, overwrite)  # fail before any work
    cfg = _config(config_path, seed, strict)
    old = None
    if grids_plan is not None:  # read (and fail) before the dataset
        old = read_plan(grids_plan, layers=("grids", "buildings", "building_parts"))
    ds = _load(state, dataset, offset, cfg, communities, overrides)
    plan = plan_coverage(ds, config=cfg, per_grid=per_grid, grids=old, progress=state.progress)
    if grids_plan is not None:
        plan.metadata["grids_from"]["plan"] = str(grids_plan)
    run_to_folder(
        plan,
        out,
        stages=["coverage"],
        overwrite=overwrite,
        progress=state.progress,
    )
    _summary(plan, out)


@main.command()
@click.argument("old_plan", type=LOCATION)
@click.argument("dataset", type=LOCATION)
@out_option()
@files_option
@click.option(
    "--edits",
    "edits_path",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    default=None,
    help="Hand edits, CSV building_id,grid_id[,reason]: move those buildings to those grids "
    "(a grid_id coded <community_id>-NNN that the plan lacks makes a new grid).",
)
@click.option(
    "--locks",
    default=None,
    help="Grids kept exactly as they are (comma list); edits may not touch them.",
)
@click.option(
    "--reoptimise/--no-reoptimise",
    default=True,
    show_default=True,
    help="After --edits, re-plan the grids out of bounds (fewest moves; locks kept).",
)
@plan_options()
@offset_option
@overwrite_option
@verbosity_options
@click.pass_obj
@_library_errors
def replan(
    state: _State, old_plan: Path | str, dataset: Path | str, out: Path | str, **kw: Any
) -> None:
    """Re-plan DATASET after a change, moving as few households as possible from OLD_PLAN.

    The re-plan uses OLD_PLAN's parameters and seed; --config, --seed and --strict override
    them key by key (with a warning: changed parameters move more households)."""
    from gridplan.output.planfile import read_plan
    from gridplan.run.pipeline import replan_config, replan_dataset, run_to_folder

    overwrite = kw.pop("overwrite")
    _check_map_options(kw["basemap"], kw["tianditu_key"])
    _check_out(out, overwrite, kw.get("files"))  # fail before any work
    edits_path, reoptimise = kw.pop("edits_path"), kw.pop("reoptimise")
    locks = [x.strip() for x in (kw.pop("locks") or "").split(",") if x.strip()]
    edits = None
    if edits_path is not None:
        from gridplan.partition.edits import read_edits

        edits = read_edits(edits_path)
    old = read_plan(old_plan)
    cfg = replan_config(old, kw.pop("config_path"), **_overrides(kw.pop("seed"), kw.pop("strict")))
    ds = _load(state, dataset, kw.pop("offset"), cfg, None)
    plan = replan_dataset(
        old,
        ds,
        config=cfg,
        progress=state.progress,
        edits=edits,
        locks=locks,
        reoptimise=reoptimise,
    )
    written = run_to_folder(plan, out, overwrite=overwrite, progress=state.progress, **kw)
    _summary(plan, written)


@main.command()
@click.argument("dataset", type=LOCATION)
@click.option(
    "--out",
    "out",
    type=LOCATION,
    required=True,
    help="The new dataset: a .gpkg file, a folder, or postgresql://…?schema=NAME.",
)
@files_option
@click.option("--target-residents", type=int, default=None, help="Residents per community [10000].")
@click.option("--min-residents", type=int, default=None, help="Smallest community [5000].")
@click.option("--max-residents", type=int, default=None, help="Largest community [12000].")
@click.option(
    "--grids",
    "grids",
    type=click.Path(path_type=Path, exists=True),
    default=None,
    help="An old plan's folder: its grids are kept whole.",
)
@click.option("--config", "config_path", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--seed", type=int, default=None, help="Override the config's seed.")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
@offset_option
@overwrite_option
@click.pass_obj
@_library_errors
def communities(state: _State, dataset: Path | str, out: Path | str, **kw: Any) -> None:
    """Re-draw the communities of DATASET (one sub-district) into OUT, a new dataset.

    Communities of about 10 000 residents (GB 50180-2018: 5 000-12 000), never across a
    barrier, keeping residents in their old community where the bounds allow; a report and an
    old-vs-new map go beside OUT (with OUT a postgresql://…?schema=NAME URL: into --files)."""
    from gridplan.run.communities import communities_to_dataset
    from gridplan.settings import load_config

    section = {
        key: kw.pop(key)
        for key in ("target_residents", "min_residents", "max_residents")
        if kw.get(key) is not None
    }
    for key in ("target_residents", "min_residents", "max_residents"):
        kw.pop(key, None)
    extra: dict[str, Any] = {"communities": section} if section else {}
    if kw.get("seed") is not None:
        extra["seed"] = kw["seed"]
    cfg = load_config(kw.pop("config_path"), **extra)
    done = communities_to_dataset(
        dataset,
        out,
        grids=kw.pop("grids"),
        files=kw.pop("files"),
        config=cfg,
        offset=kw.pop("offset"),
        overwrite=kw.pop("overwrite"),
        lang=kw.pop("lang"),
        progress=state.say,
    )
    m = done.plan.metrics
    moved = (
        f"; {m['residents_moved']} residents moved (at least {m['residents_had_to_move']} had to)"
        if "residents_moved" in m
        else ""
    )
    click.echo(
        f"wrote {done.dataset}: {m['communities']} communities, {m['smallest']}-{m['largest']} "
        f"residents, {round(100 * m['share_within_bounds'])} % within bounds{moved}; "
        f"report in {done.report}"
    )


def _bbox(
    ctx: click.Context, param: click.Parameter, value: str | None
) -> tuple[float, ...] | None:
    if value is None:
        return None
    try:
        parts = tuple(float(v) for v in value.split(","))
    except ValueError:
        parts = ()
    if len(parts) != 4 or not (parts[0] < parts[2] and parts[1] < parts[3]):
        raise click.BadParameter("give WEST,SOUTH,EAST,NORTH in degrees", param_hint="--bbox")
    return parts


@main.command(name="import-osm")
@click.argument("pbf", type=click.Path(path_type=Path, dir_okay=False))
@out_option(dataset=True)
@click.option("--bbox", callback=_bbox, default=None, help="WEST,SOUTH,EAST,NORTH in degrees.")
@overwrite_option
@verbosity_options
@click.pass_obj
@_library_errors
def import_osm_cmd(state: _State, pbf: Path, out: Path, bbox: Any, overwrite: bool) -> None:
    """Import an OpenStreetMap .osm.pbf extract as a dataset OUT (a .gpkg file, or a folder)."""
    from gridplan._atomic import check_output
    from gridplan.io.osm import import_osm

    check_output(out, overwrite=overwrite)  # refuse before any work
    state.say(f"reading {pbf} …")
    import_osm(pbf, out, bbox=bbox, overwrite=overwrite)
    click.echo(f"wrote {out}")


def _duty_phone(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> Any:
    """``PHONE`` or ``ID=PHONE``: an empty phone is a usage error (ids are checked with the
    plan)."""
    for v in values:
        key, sep, phone = v.partition("=")
        if not (phone if sep else key).strip() or (sep and not key.strip()):
            raise click.BadParameter(
                f"{v!r}: give PHONE, or GRID_ID=PHONE / COMMUNITY_ID=PHONE",
                param_hint="--duty-phone",
            )
    return values


@main.command()
@click.argument("plan_dir", type=click.Path(path_type=Path, exists=True, file_okay=False))
@click.argument("dataset", type=click.Path(path_type=Path), required=False)
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on; another than 127.0.0.1 lets other machines edit the plan.",
)
@click.option("--by", default=None, help="Who edits (logged with every move) [login name].")
@lang_option
@offset_option
@verbosity_options
@click.pass_obj
@_library_errors
def edit(
    state: _State,
    plan_dir: Path,
    dataset: Path | None,
    port: int,
    host: str,
    by: str | None,
    lang: str,
    offset: str | None,
) -> None:
    """Hand edits of the plan in PLAN_DIR in the browser: move buildings between grids with
    live checks, lock grids, re-optimise the rest, undo/redo, save as a new plan folder.

    DATASET defaults to the one the plan was made from. One session per plan; the unsaved
    edits are kept in PLAN_DIR/edit-session.json until saved. Ctrl-C stops the server."""
    from gridplan.edit import EditSession, serve

    session = EditSession(plan_dir, dataset, offset=offset, lang=lang, by=by)
    if session.restored:
        click.echo(f"restored {session.restored} unsaved edit(s) of the last session")
    serve(
        session,
        host=host,
        port=port,
        ready=lambda url: click.echo(f"editing {plan_dir}: open {url} (Ctrl-C stops)"),
    )


@main.command(name="print")
@click.argument("plan_dir", type=click.Path(path_type=Path, exists=True, file_okay=False))
@click.argument("dataset", type=click.Path(path_type=Path), required=False)
@click.option(
    "--out",
    "out",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Output folder (default: PLAN_DIR/boards).",
)
@click.option(
    "--paper", type=click.Choice(["A4", "A3"]), default="A4", show_default=True, help="Paper."
)
@lang_option
@click.option(
    "--duty-phone",
    multiple=True,
    metavar="[ID=]PHONE",
    callback=_duty_phone,
    help=(
        "A public duty phone shown instead of personal phones: PHONE for every grid, or"
        " GRID_ID=PHONE / COMMUNITY_ID=PHONE (repeat the option)."
    ),
)
@click.option(
    "--show-head-home",
    is_flag=True,
    help="Mark the grid head's home on the map (personal data: only with consent; needs DATASET).",
)
@offset_option
@overwrite_option
@verbosity_options
@click.pass_obj
@_library_errors
def print_cmd(
    state: _State,
    plan_dir: Path,
    dataset: Path | None,
    out: Path | None,
    paper: str,
    lang: str,
    duty_phone: tuple[str, ...],
    show_head_home: bool,
    offset: str | None,
    overwrite: bool,
) -> None:
    """Grid notice boards (网格公示牌) of the plan in PLAN_DIR: a page per grid (PDF and PNG),
    a cover per community with its map and grid index, and atlas.pdf of every page.

    Phones are masked (or replaced by --duty-phone). Names come from the plan, else from
    DATASET (the dataset the plan was made from), else from PLAN_DIR/rosters/staff.csv."""
    from gridplan._atomic import check_output_dir
    from gridplan.output.boards.write import print_boards

    target = out if out is not None else plan_dir / "boards"
    check_output_dir(target, overwrite=overwrite)  # fail before any work
    written = print_boards(
        plan_dir,
        target,
        dataset=dataset,
        offset=offset,
        paper=paper,
        lang=lang,
        duty_phone=duty_phone,
        show_head_home=show_head_home,
        overwrite=overwrite,
        progress=state.progress,
    )
    pages = sorted((written / "pages").glob("*.png"))
    click.echo(f"wrote {written} ({len(pages)} pages as PNG and PDF, atlas.pdf)")


main.add_command(requests_group)  # gridplan requests import|dispatch|update|list|report|points

if __name__ == "__main__":  # pragma: no cover
    main()
