"""``gridplan requests``: the resident request loop on the command line (thin, like
:mod:`gridplan.cli`): import, dispatch, update, list, report, points."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from gridplan._errors import GridplanError

__all__ = ["requests_group"]


def _errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except GridplanError as exc:
            raise click.ClickException(str(exc)) from exc

    return wrapper


def _ledger(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--ledger",
        required=True,
        help="The request ledger: a .gpkg file (created on first import) or a postgresql:// URL.",
    )(fn)


def _config_opt(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--config",
        "config_path",
        type=click.Path(path_type=Path, dir_okay=False),
        help="plan.toml with a [requests] section (deadlines, weights, time zone).",
    )(fn)


def _now_opt(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--now", default=None, help="Time of the action with its offset (default: now)."
    )(fn)


def _cfg(path: Path | None) -> Any:
    from gridplan.settings import load_config

    return load_config(path)


@click.group(name="requests")
def requests_group() -> None:
    """The resident request loop: 群众点单 → 社区派单 → 党员接单."""


@requests_group.command(name="import")
@click.argument("source", type=click.Path(path_type=Path, dir_okay=False))
@_ledger
@click.option(
    "--plan", "plan_dir", required=True, type=click.Path(path_type=Path), help="Plan folder."
)
@click.option("--timezone", default=None, help="Zone of times written without an offset.")
@click.option(
    "--crs",
    default=None,
    help="CRS of x/y columns (EPSG:4545), or of lon/lat when not WGS84 (EPSG:4490).",
)
@_config_opt
@_errors
def import_cmd(
    source: Path,
    ledger: str,
    plan_dir: Path,
    timezone: str | None,
    crs: str | None,
    config_path: Path | None,
) -> None:
    """Import SOURCE (CSV, XLSX, GeoJSON) into the ledger: all records or none."""
    from gridplan.requests import import_requests, load_context

    cfg = _cfg(config_path)
    ctx = load_context(plan_dir, config=cfg)
    res = import_requests(ledger, source, ctx, timezone=timezone, crs=crs, config=cfg)
    click.echo(f"imported {len(res)} request(s) into {res.ledger}")


@requests_group.command()
@_ledger
@click.option(
    "--plan", "plan_dir", required=True, type=click.Path(path_type=Path), help="Plan folder."
)
@click.option(
    "--dataset", required=True, type=click.Path(path_type=Path), help="Its dataset (roster, roads)."
)
@click.option(
    "--method",
    type=click.Choice(["flow", "cpsat"]),
    default="flow",
    show_default=True,
    help="flow: slot form, exact min-cost flow; cpsat: effort-weighted, CP-SAT.",
)
@click.option("--reoptimise", is_flag=True, help="Also re-decide dispatched cases nobody accepted.")
@click.option(
    "--guard/--no-guard",
    default=None,
    help="Never worse than the office rule on placed, metres and lateness (flow; default: "
    "[requests] guard_office_rule, on).",
)
@_now_opt
@_config_opt
@_errors
def dispatch(
    ledger: str,
    plan_dir: Path,
    dataset: Path,
    method: str,
    reoptimise: bool,
    guard: bool | None,
    now: str | None,
    config_path: Path | None,
) -> None:
    """Dispatch the open requests to the plan's roster (one transaction)."""
    from dataclasses import replace

    from gridplan.requests import dispatch_ledger, load_context

    cfg = _cfg(config_path)
    if guard is not None:
        cfg = replace(cfg, requests=replace(cfg.requests, guard_office_rule=guard))
    ctx = load_context(plan_dir, dataset, config=cfg)
    res = dispatch_ledger(ledger, ctx, now=now, method=method, reoptimise=reoptimise, config=cfg)
    i = res.info
    click.echo(
        f"dispatched {i['placed']} of {i['requests']} request(s) ({i['method']}, {i['status']}, "
        f"objective {i['objective']:.0f}, bound {i['bound']:.0f}, gap {i['gap']:.2%}); "
        f"{i['walked_m']:.0f} m walked, {i['lateness_h']:.1f} h late ({i['late']} late), "
        f"{len(i['escalated_overdue'])} escalated for a passed deadline"
    )
    if i.get("guard") not in (None, "off"):
        click.echo(
            f"  office-rule guard {i['guard']}: the office rule would place "
            f"{i['office_placed']}, walk {i['office_walked_m']:.0f} m, "
            f"{i['office_lateness_h']:.1f} h late"
        )
    for reason in res.unplaced["reason"]:
        click.echo(f"  {reason}")


@requests_group.command()
@click.argument("request_id")
@click.argument("status")
@_ledger
@click.option("--person", default=None, help="Person dispatched to / accepting.")
@click.option("--note", default=None)
@click.option("--resolution", default=None, help="What was done (needed to resolve).")
@click.option(
    "--satisfaction",
    type=click.Choice(["satisfied", "basically_satisfied", "dissatisfied"]),
    default=None,
    help="The resident's rating at the revisit.",
)
@click.option("--hours", type=float, default=None, help="Hours spent (points: hours × difficulty).")
@click.option("--duplicate-of", default=None)
@click.option(
    "--dataset",
    type=click.Path(path_type=Path),
    default=None,
    help="Check --person against this dataset's roster.",
)
@click.option("--actor", default="community", show_default=True)
@_now_opt
@_config_opt
@_errors
def update(
    request_id: str,
    status: str,
    ledger: str,
    person: str | None,
    note: str | None,
    resolution: str | None,
    satisfaction: str | None,
    hours: float | None,
    duplicate_of: str | None,
    dataset: Path | None,
    actor: str,
    now: str | None,
    config_path: Path | None,
) -> None:
    """Move REQUEST_ID to STATUS (accepted, in_progress, resolved, revisited, closed, ...)."""
    from gridplan.requests import update_request

    people = None
    if dataset is not None:
        from gridplan.io import load_dataset

        ds = load_dataset(dataset)
        people = (
            set(ds.layers["people"]["person_id"].astype(str)) if "people" in ds.layers else set()
        )
    row = update_request(
        ledger,
        request_id,
        status,
        actor=actor,
        person_id=person,
        note=note,
        resolution=resolution,
        satisfaction=satisfaction,
        hours=hours,
        duplicate_of=duplicate_of,
        at=now,
        people=people,
        config=_cfg(config_path),
    )
    click.echo(f"{request_id}: {row['status']}")


@requests_group.command(name="list")
@_ledger
@click.option("--status", default=None, help="Only this status (comma list).")
@click.option(
    "--overdue", "which", flag_value="overdue", help="Active requests past their deadline."
)
@click.option(
    "--due-soon", "which", flag_value="due_soon", help="Due within [requests] due_soon_h."
)
@click.option("--revisit-due", "which", flag_value="revisit_due", help="Resolved, revisit due.")
@click.option("--open311", is_flag=True, help="Print Open311 GeoReport v2 JSON.")
@click.option("--reveal-personal", is_flag=True, help="Show requesters' names and phones.")
@_now_opt
@_config_opt
@_errors
def list_cmd(
    ledger: str,
    status: str | None,
    which: str | None,
    open311: bool,
    reveal_personal: bool,
    now: str | None,
    config_path: Path | None,
) -> None:
    """List requests (requesters' names and phones masked)."""
    from gridplan.privacy import mask_phone
    from gridplan.requests import due_lists, open_ledger, read_requests
    from gridplan.requests import open311 as to_open311

    led = open_ledger(ledger)
    if which:
        df = due_lists(led, now=now, config=_cfg(config_path))[which]
    else:
        df = read_requests(led, statuses=status.split(",") if status else None)
    if open311:
        click.echo(json.dumps(to_open311(df), ensure_ascii=False, indent=1, default=str))
        return
    cols = [
        "request_id",
        "status",
        "service_code",
        "grid_id",
        "assignee",
        "expected_at",
        "requester_name",
        "requester_phone",
    ]
    out = df[cols].copy()
    if not reveal_personal:
        out["requester_name"] = [
            (str(v)[:1] + "*") if isinstance(v, str) and v else "" for v in out["requester_name"]
        ]
        out["requester_phone"] = [mask_phone(v) for v in out["requester_phone"]]
    click.echo(out.to_string(index=False) if len(out) else "no requests")
    click.echo(f"{len(out)} request(s)")


@requests_group.command()
@_ledger
@click.option("--out", required=True, type=click.Path(path_type=Path, file_okay=False))
@click.option(
    "--plan",
    "plan_dir",
    default=None,
    type=click.Path(path_type=Path),
    help="The plan: coverage gaps and a map with the open requests.",
)
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
@click.option("--overwrite", is_flag=True, help="Replace an existing report folder.")
@_now_opt
@_config_opt
@_errors
def report(
    ledger: str,
    out: Path,
    plan_dir: Path | None,
    lang: str,
    overwrite: bool,
    now: str | None,
    config_path: Path | None,
) -> None:
    """Write the request report (三率, roll-ups, coverage gaps), the open requests layer and,
    with --plan, requests_map.html."""
    from gridplan._atomic import atomic_output_dir
    from gridplan.requests import open_ledger, open_requests_layer, read_requests
    from gridplan.requests.reports import write_request_report

    cfg = _cfg(config_path)
    led = open_ledger(ledger)
    coverage = None
    plan = None
    if plan_dir is not None:
        from gridplan.output.planfile import read_plan

        plan = read_plan(plan_dir)
        coverage = plan.layers.get("coverage")
    with atomic_output_dir(out, overwrite=overwrite) as tmp:
        paths = write_request_report(led, tmp, coverage=coverage, lang=lang, now=now, config=cfg)
        if plan is not None:
            from gridplan.output.maps.make import make_map

            layer = open_requests_layer(read_requests(led), lang=lang, now=now)
            make_map(plan, lang=lang, requests=layer).save(str(tmp / "requests_map.html"))
    click.echo(f"wrote {out} ({', '.join(p.name for p in paths)})")


@requests_group.command()
@_ledger
@click.option("--redeem", default=None, help="Person redeeming points.")
@click.option("--points", "amount", type=float, default=None, help="Points to redeem.")
@click.option("--note", default="")
@_errors
def points(ledger: str, redeem: str | None, amount: float | None, note: str) -> None:
    """Points per person (hours × difficulty); --redeem PERSON --points N spends some."""
    from gridplan.requests import points_totals, redeem_points

    if redeem is not None:
        if amount is None:
            raise click.BadParameter("give --points with --redeem", param_hint="--points")
        left = redeem_points(ledger, redeem, amount, note=note)
        click.echo(f"{redeem}: redeemed {amount:g}, {left:g} left")
        return
    tot = points_totals(ledger)
    click.echo(tot.to_string(index=False) if len(tot) else "no points yet")
