"""An editing session of one plan: the moves, locks and re-optimisation a planner asked for,
with undo/redo, live checks, an autosave of the edit list, one writer at a time, and save.

The session state is the list of changes in order (buildings → grid, with who, when, the
reason and the violations seen) and the set of locked grids. A change is a move, a merge of two
grids (every building of the smaller to the larger, whose code stays), a split (buildings of a
grid become a new grid coded next in the community's scheme) or a re-optimise of the rest —
one step: the buildings the re-plan engine moved are recorded as moves, so later moves are
not re-optimised again (press it again for that) and undo takes it back. The grids shown are
always :func:`gridplan.partition.apply_edits` of that list on the original plan, and save
writes :func:`gridplan.run.pipeline.replan_dataset` of the same list: what is saved is what
was seen.

Nothing is written to the plan until save, except two small files in the plan folder: the
writer's lock (``.gridplan-edit.lock``: a second session on the same plan is refused) and the
autosave of the edit list (``edit-session.json``, rewritten after every change, restored when a
session starts again, deleted after save), so a crash loses at most the change being made.
"""

from __future__ import annotations

import getpass
import json
import logging
import os
import socket
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridplan._errors import DataError, GridplanError
from gridplan._text import format_ids
from gridplan.edit.checks import HARD, CheckContext, check_grids, neighbours
from gridplan.i18n import label
from gridplan.privacy import mask_text

__all__ = [
    "AUTOSAVE",
    "LOCK_FILE",
    "EditSession",
    "HardRuleError",
    "Move",
    "PlanLockError",
    "State",
]

logger = logging.getLogger(__name__)

#: The writer's lock, inside the plan folder.
LOCK_FILE = ".gridplan-edit.lock"
#: The autosaved edit list, inside the plan folder (deleted after save).
AUTOSAVE = "edit-session.json"


class PlanLockError(GridplanError):
    """Another session is editing this plan."""


class HardRuleError(GridplanError):
    """A move breaks a hard rule (contiguity, barrier) and was not accepted with a reason."""

    def __init__(self, msg: str, violations: list[dict[str, Any]]) -> None:
        super().__init__(msg)
        self.violations = violations


#: Kinds of change: buildings moved by hand, two grids merged, a grid split, the rest
#: re-optimised by the engine.
KINDS: tuple[str, ...] = ("move", "merge", "split", "reoptimise")


@dataclass(frozen=True)
class Move:
    """One change: buildings moved to a grid (``targets``: one grid per building, for a
    re-optimise), of a ``kind`` of :data:`KINDS`; ``merged``: the grid a merge retired."""

    buildings: tuple[str, ...]
    grid_id: str
    reason: str | None = None
    by: str | None = None
    at: str | None = None
    violations: str | None = None
    kind: str = "move"
    merged: str | None = None
    targets: tuple[str, ...] | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "buildings": list(self.buildings),
            "grid_id": self.grid_id,
            "reason": self.reason,
            "by": self.by,
            "at": self.at,
            "violations": self.violations,
            "kind": self.kind,
            "merged": self.merged,
            "targets": None if self.targets is None else list(self.targets),
        }

    def rows(self) -> list[tuple[str, str]]:
        """(building, grid it goes to) of this change."""
        if self.targets is not None:
            return list(zip(self.buildings, self.targets, strict=True))
        return [(b, self.grid_id) for b in self.buildings]


@dataclass(frozen=True)
class State:
    """What the planner asked for: changes in order (:class:`Move`), locked grids."""

    moves: tuple[Move, ...] = ()
    locks: frozenset[str] = field(default_factory=frozenset)

    def as_json(self) -> dict[str, Any]:
        return {"moves": [m.as_json() for m in self.moves], "locks": sorted(self.locks)}

    @property
    def reoptimised(self) -> bool:
        """Whether the last change was a re-optimise of the rest."""
        return bool(self.moves) and self.moves[-1].kind == "reoptimise"

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> State:
        moves = tuple(
            Move(
                buildings=tuple(str(b) for b in m["buildings"]),
                grid_id=str(m["grid_id"]),
                reason=m.get("reason"),
                by=m.get("by"),
                at=m.get("at"),
                violations=m.get("violations"),
                kind=str(m.get("kind") or "move"),
                merged=m.get("merged"),
                targets=None if m.get("targets") is None else tuple(map(str, m["targets"])),
            )
            for m in data.get("moves", [])
        )
        if data.get("reoptimise"):
            logger.warning(
                "the autosave asks to re-optimise the rest after every move (an older session); "
                "restored without it: press re-optimise again"
            )
        return cls(moves=moves, locks=frozenset(str(x) for x in data.get("locks", [])))

    def edits(self) -> pd.DataFrame:
        """The edits table of :func:`gridplan.partition.apply_edits`, one row per building."""
        rows = [
            {
                "building_id": b,
                "grid_id": g,
                "reason": m.reason,
                "by": m.by,
                "at": m.at,
                "violations": m.violations,
            }
            for m in self.moves
            for b, g in m.rows()
        ]
        cols = ["building_id", "grid_id", "reason", "by", "at", "violations"]
        return pd.DataFrame(rows, columns=cols)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def acquire_lock(plan_dir: Path) -> Path:
    """Take the writer's lock of ``plan_dir`` (module docstring).

    A lock left by a session of this machine whose process is gone is taken over, with a
    warning; any other lock refuses.

    Raises
    ------
    PlanLockError
        Another session holds the lock.
    """
    path = plan_dir / LOCK_FILE
    me = {"pid": os.getpid(), "host": socket.gethostname(), "since": _now()}
    for _ in range(2):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            try:
                other = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                other = {}
            pid = int(other.get("pid", 0) or 0)
            if other.get("host") == me["host"] and pid and not _pid_alive(pid):
                logger.warning(
                    "%s: the edit session of process %s (since %s) is gone; taking over its lock",
                    plan_dir,
                    pid,
                    other.get("since"),
                )
                path.unlink(missing_ok=True)
                continue
            msg = (
                f"{plan_dir}: the plan is being edited by another session (process "
                f"{other.get('pid', '?')} on {other.get('host', '?')} since "
                f"{other.get('since', '?')}); one writer at a time: close that session first "
                f"(Ctrl-C), or delete {path} if it crashed on another machine"
            )
            raise PlanLockError(msg) from None
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(me, fh)
        return path
    msg = f"{plan_dir}: could not take the edit lock {path}; delete it and start again"
    raise PlanLockError(msg)


def _now() -> str:
    return datetime.now(UTC).astimezone().isoformat(timespec="seconds")


def _write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
    os.replace(tmp, path)


#: Columns of the drafted grids and buildings the checks and the page read.
GRID_COLUMNS: tuple[str, ...] = ("grid_id", "community_id", "households", "geometry")
BUILDING_COLUMNS: tuple[str, ...] = (
    "building_id",
    "grid_id",
    "community_id",
    "households",
    "geometry",
)


def _join(
    original: gpd.GeoDataFrame, redrawn: gpd.GeoDataFrame, comms: set[str], cols: tuple[str, ...]
) -> gpd.GeoDataFrame:
    """The original rows of the communities not in ``comms``, then the redrawn rows."""
    kept = original[~original["community_id"].astype(str).isin(sorted(comms))]
    out = pd.concat([kept[list(cols)], redrawn[list(cols)]], ignore_index=True)
    return gpd.GeoDataFrame(out, geometry="geometry", crs=original.crs)


@dataclass
class _Draft:
    grids: gpd.GeoDataFrame
    buildings: gpd.GeoDataFrame
    flags: list[str]
    checks: dict[str, dict[str, Any]]
    neighbours: dict[str, list[str]]


class EditSession:
    """One planner editing one plan (module docstring).

    Parameters
    ----------
    plan_dir
        The plan folder (``gridplan run`` output).
    dataset
        The dataset the plan was made from; ``None`` for the one its metadata records.
    offset
        The dataset's web-map offset; ``None`` for the one the plan recorded.
    lang
        Language of the messages and of the plan saved.
    by
        Who edits (logged with every move); ``None`` for the login name.

    Raises
    ------
    PlanLockError
        Another session edits the plan.
    DataError
        No dataset given and the recorded one is gone; or the plan has no grids.
    """

    def __init__(
        self,
        plan_dir: str | Path,
        dataset: str | Path | None = None,
        *,
        offset: str | None = None,
        lang: str = "zh",
        by: str | None = None,
    ) -> None:
        from gridplan.io.load import load_dataset
        from gridplan.output.planfile import read_plan
        from gridplan.run.pipeline import replan_config

        self.plan_dir = Path(plan_dir)
        if not (self.plan_dir / "plan.gpkg").is_file():
            msg = f"{self.plan_dir}: no plan.gpkg; give a plan folder written by `gridplan run`"
            raise DataError(msg)
        self.lang = lang
        self.by = by or getpass.getuser()
        self.old = read_plan(self.plan_dir)
        recorded = self.old.metadata.get("dataset") or {}
        if dataset is None:
            source = recorded.get("source")
            if not source or not Path(str(source)).exists():
                shown = source or "not recorded"
                msg = (
                    f"{self.plan_dir}: the dataset the plan was made from ({shown}) is not "
                    "there; give it: gridplan edit PLAN_DIR DATASET"
                )
                raise DataError(msg)
            dataset = str(source)
        self.dataset_path = dataset
        self.offset = offset if offset is not None else recorded.get("offset")
        self.config = replan_config(self.old)
        self.lock_path: Path | None = acquire_lock(self.plan_dir)
        try:
            self.dataset = load_dataset(dataset, offset=self.offset, config=self.config)
            self._prepare()
        except BaseException:
            self.close()
            raise

    # -- set-up ------------------------------------------------------------------------------

    def _prepare(self) -> None:
        crs = self.dataset.crs
        if "grids" not in self.old.layers or not len(self.old.grids):
            msg = f"{self.plan_dir}: the plan has no grids; edit a plan made by `gridplan run`"
            raise DataError(msg)
        self.grids = self.old.grids.to_crs(crs)
        self.buildings = self.old.buildings.to_crs(crs)
        self.before = dict(
            zip(
                self.buildings["building_id"].astype(str),
                self.buildings["grid_id"].astype(str),
                strict=True,
            )
        )
        g = self.config.grids
        L = self.dataset.layers
        self.ctx = CheckContext.build(
            communities=L["communities"],
            roads=L.get("roads"),
            barriers=L.get("barriers"),
            barrier_road_classes=g.barrier_road_classes,
            min_households=g.min_households,
            max_households=g.max_households,
            unit_members=self.old.layers.get("unit_members"),
            assignments=self.old.layers.get("assignments"),
            people=L.get("people"),
            coverage=self.old.layers.get("coverage"),
        )
        self.state = State()
        self.undo_stack: list[State] = []
        self.redo_stack: list[State] = []
        self.restored = 0
        self.last: list[str] = []
        self.saved_to: str | None = None
        self.autosave_path = self.plan_dir / AUTOSAVE
        if self.autosave_path.is_file():
            data = json.loads(self.autosave_path.read_text(encoding="utf-8"))
            self.state = State.from_json(data.get("state", {}))
            self.restored = len(self.state.moves)
            logger.warning(
                "%s: restored %d unsaved move(s) and %d lock(s) of an earlier session (%s)",
                self.plan_dir,
                len(self.state.moves),
                len(self.state.locks),
                self.autosave_path,
            )
        self.comm_of_grid = dict(
            zip(
                self.grids["grid_id"].astype(str),
                self.grids["community_id"].astype(str),
                strict=True,
            )
        )
        self.base = self._compute(State())
        self.base_checks = self.base.checks
        self.draft = self._compute(self.state)

    def close(self) -> None:
        """Release the writer's lock (the autosave stays until save)."""
        path = getattr(self, "lock_path", None)
        if path is not None:
            Path(path).unlink(missing_ok=True)
            self.lock_path = None

    def __enter__(self) -> EditSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- drafts ------------------------------------------------------------------------------

    def _compute(self, state: State, moves: dict[str, tuple[str, str]] | None = None) -> _Draft:
        """The plan after ``state``: only the communities the changes touch are redrawn and
        checked (grids are drawn inside one community, each independently of the others, so
        the rest is the original plan and its checks as they were)."""
        base = getattr(self, "base", None)
        if not state.moves and base is not None:
            return base
        comms = self._communities_of(state) if base is not None else None
        if not state.moves:
            grids, buildings, flags = self.grids, self.buildings, []
        else:
            done = self._apply(state, communities=comms)
            grids, buildings = done.result.grids, done.result.buildings
            flags = list(done.result.flags)
            if comms is not None:
                grids = _join(self.grids, grids, comms, GRID_COLUMNS)
                buildings = _join(self.buildings, buildings, comms, BUILDING_COLUMNS)
        if comms is None or base is None:
            ids = set(grids["grid_id"].astype(str)) | set(self.grids["grid_id"].astype(str))
            inside = grids
        else:
            inside = grids[grids["community_id"].astype(str).isin(comms)]
            ids = set(inside["grid_id"].astype(str)) | {
                g for g, c in self.comm_of_grid.items() if c in comms
            }
        prev = getattr(self, "draft", None)
        checks = check_grids(
            grids,
            buildings,
            ids,
            self.ctx,
            before=self.before,
            moves=moves,
            previous_neighbours=prev.neighbours if prev is not None else None,
        )
        for m in state.moves:  # a grid merged away is no violation, but says where it went
            if m.kind == "merge" and m.merged and m.merged not in set(grids["grid_id"]):
                row = checks.get(m.merged)
                if row is not None:
                    row["violations"] = [v for v in row["violations"] if v["kind"] != "empty"]
                    row["merged_into"] = m.grid_id
                    row["bounds"] = "merged"
        near = neighbours(inside)
        if base is not None and comms is not None:
            checks = {
                **{g: c for g, c in base.checks.items() if self.comm_of_grid.get(g) not in comms},
                **checks,
            }
            near = {
                **{
                    g: n
                    for g, n in base.neighbours.items()
                    if self.comm_of_grid.get(g) not in comms
                },
                **near,
            }
        return _Draft(grids, buildings, flags, checks, near)

    def _communities_of(self, state: State) -> set[str]:
        """The communities whose grids the changes of ``state`` touch."""
        return {
            self.comm_of_grid[self.before[b]]
            for m in state.moves
            for b in m.buildings
            if b in self.before and self.before[b] in self.comm_of_grid
        }

    def _apply(self, state: State, *, communities: set[str] | None = None) -> Any:
        """:func:`apply_edits` of ``state`` on the original plan (on ``communities`` only,
        when given: the others are left out of the redraw)."""
        from gridplan.partition.edits import apply_edits

        L = self.dataset.layers
        grids, buildings = self.grids, self.buildings
        current, comm = L["buildings"], L["communities"]
        if communities is not None:
            keep = sorted(communities)
            grids = grids[grids["community_id"].astype(str).isin(keep)]
            buildings = buildings[buildings["community_id"].astype(str).isin(keep)]
            current = current[current["community_id"].astype(str).isin(keep)]
            comm = comm[comm["community_id"].astype(str).isin(keep)]
        return apply_edits(
            grids,
            buildings,
            state.edits(),
            current=current,
            communities=comm,
            roads=L.get("roads"),
            barriers=L.get("barriers"),
            locks=sorted(state.locks),
            reoptimise=False,
            config=self.config,
            seed=self.config.seed,
        )

    def grid_of(self, building_id: str) -> str:
        """The grid a building is in now."""
        b = self.draft.buildings
        hit = b.loc[b["building_id"].astype(str) == str(building_id), "grid_id"]
        if not len(hit):
            msg = f"buildings: {building_id} is not in the plan; pick a building on the map"
            raise DataError(msg)
        return str(hit.iloc[0])

    def _change(self, new: State) -> None:
        self.undo_stack.append(self.state)
        self.redo_stack.clear()
        self.state = new
        self._autosave()

    def _autosave(self) -> None:
        if not self.state.moves and not self.state.locks:
            self.autosave_path.unlink(missing_ok=True)
            return
        _write_json(
            self.autosave_path,
            {
                "plan": str(self.plan_dir),
                "dataset": str(self.dataset_path),
                "saved_at": _now(),
                "state": self.state.as_json(),
            },
        )

    # -- what the planner does ---------------------------------------------------------------

    def violation_text(
        self, grid: str, v: dict[str, Any], checks: dict[str, dict[str, Any]] | None = None
    ) -> str:
        """One violation in words (the session's language), from ``checks`` (default: now)."""
        c = (checks if checks is not None else self.draft.checks).get(grid, {})
        return label(
            f"edit.v_{v['kind']}",
            self.lang,
            grid=grid,
            households=c.get("households", 0),
            min=self.ctx.min_households,
            max=self.ctx.max_households,
            ids=format_ids(v.get("ids", [])),
        )

    def move(
        self,
        building_ids: list[str],
        grid_id: str,
        *,
        accept: bool = False,
        reason: str | None = None,
        by: str | None = None,
        kind: str = "move",
        merged: str | None = None,
    ) -> dict[str, dict[str, Any]]:
        """Move buildings to ``grid_id``; returns the checks of the grids the move touched.

        ``grid_id`` may be a new grid coded in the community's scheme (a split, :meth:`split`);
        ``kind`` and ``merged`` record a merge or split (:meth:`merge`, :meth:`split`).

        Raises
        ------
        DataError
            Unknown buildings or grid, a move across communities or touching a locked grid,
            buildings already there, or ``accept`` without a reason.
        HardRuleError
            The move breaks contiguity or a barrier and ``accept`` is false; nothing changed.
        """
        from gridplan.partition.edits import check_edits

        grid_id = str(grid_id)
        reason = (reason or "").strip() or None
        ids = [str(b) for b in dict.fromkeys(building_ids)]
        if not ids:
            msg = "move: no building selected; click buildings (shift-click or box to add)"
            raise DataError(msg)
        frm = {b: self.grid_of(b) for b in ids}
        ids = [b for b in ids if frm[b] != grid_id]
        if not ids:
            msg = f"move: the selected buildings are already in grid {grid_id}; pick another grid"
            raise DataError(msg)
        locked = sorted(({frm[b] for b in ids} | {grid_id}) & self.state.locks)
        if locked:
            msg = (
                f"move: grid(s) {', '.join(locked)} are locked; unlock them first, or move "
                "other buildings"
            )
            raise DataError(msg)
        if accept and not reason:
            msg = "move: accepting a violation needs a reason (it goes into the edit log)"
            raise DataError(msg)
        when = _now()
        who = (by or "").strip() or self.by
        step = Move(tuple(ids), grid_id, reason, who, when, kind=kind, merged=merged)
        candidate = replace(self.state, moves=(*self.state.moves, step))
        check_edits(candidate.edits(), self.buildings, self.grids, candidate.locks)
        moves = {b: (frm[b], grid_id) for b in ids}
        draft = self._compute(candidate, moves)
        now = dict(
            zip(
                draft.buildings["building_id"].astype(str),
                draft.buildings["grid_id"].astype(str),
                strict=True,
            )
        )
        # buildings the redraw could not join to their new grid became a grid of their own
        strays = sorted(b for b in ids if now.get(b) != grid_id)
        touched = sorted({*frm.values(), grid_id, *(now[b] for b in strays if b in now)})
        checks = {g: draft.checks[g] for g in touched if g in draft.checks}
        if strays and grid_id in checks:
            checks[grid_id]["violations"].append({"kind": "stray", "ids": strays})
        old_kinds = {
            g: {v["kind"] for v in self.draft.checks.get(g, {}).get("violations", [])}
            for g in touched
        }
        new_hard = [
            {"grid_id": g, **v}
            for g, c in checks.items()
            for v in c["violations"]
            if v["kind"] in HARD and v["kind"] not in old_kinds.get(g, set())
        ]
        texts = [
            self.violation_text(g, v, draft.checks)
            for g, c in checks.items()
            for v in c["violations"]
        ]
        if new_hard and not accept:
            words = "; ".join(self.violation_text(v["grid_id"], v, draft.checks) for v in new_hard)
            msg = label("edit.hard_rule", self.lang, violations=words)
            raise HardRuleError(msg, new_hard)
        done = replace(step, violations="; ".join(texts) or None)
        self.draft = draft
        self._change(replace(self.state, moves=(*self.state.moves, done)))
        self.last = touched
        return checks

    def set_lock(self, grid_id: str, locked: bool = True) -> None:
        """Lock (or unlock) a grid: kept exactly as it is by moves and re-optimisation.

        Raises
        ------
        DataError
            An unknown grid, or one that hand moves touch (undo them first).
        """
        grid_id = str(grid_id)
        if grid_id not in set(self.draft.grids["grid_id"].astype(str)):
            msg = f"lock: there is no grid {grid_id} now; pick a grid on the map"
            raise DataError(msg)
        if locked:
            if grid_id in self.state.locks:
                return
            edits = self.state.edits()
            into = edits["grid_id"] == grid_id
            outof = edits["building_id"].map(self.before) == grid_id
            held = sorted(set(edits.loc[into | outof, "building_id"]))
            if held:
                msg = (
                    f"lock: grid {grid_id} holds buildings moved by hand ({format_ids(held)}); "
                    "a locked grid is kept as the plan had it: undo those moves first"
                )
                raise DataError(msg)
            new = replace(self.state, locks=self.state.locks | {grid_id})
        else:
            if grid_id not in self.state.locks:
                return
            new = replace(self.state, locks=self.state.locks - {grid_id})
        self.draft = self._compute(new)
        self._change(new)
        self.last = [grid_id]

    def merge(
        self,
        grid_a: str,
        grid_b: str,
        *,
        accept: bool = False,
        reason: str | None = None,
        by: str | None = None,
    ) -> dict[str, dict[str, Any]]:
        """Merge two neighbouring grids: every building of the one with fewer households
        moves to the larger, which keeps its code (a tie: the lower code). One change (one
        undo step); returns the checks of both grids (the retired one says ``merged_into``).

        Raises
        ------
        DataError
            Unknown grids, not neighbours, of two communities, or a locked one.
        HardRuleError
            The merged grid would break a hard rule (a barrier between them) unless accepted.
        """
        from gridplan.partition.edits import merge_edits

        a, b = str(grid_a), str(grid_b)
        d = self.draft
        for g in (a, b):
            if g not in d.checks or d.checks[g].get("bounds") in ("empty", "merged"):
                msg = f"merge: there is no grid {g} now; pick two grids on the map"
                raise DataError(msg)
        if b not in d.neighbours.get(a, []):
            msg = (
                f"merge: grids {a} and {b} do not border each other; merge neighbouring grids "
                "(or move buildings by hand)"
            )
            raise DataError(msg)
        ha, hb = d.checks[a]["households"], d.checks[b]["households"]
        keep, gone = (a, b) if (ha, b) > (hb, a) else (b, a)
        if ha == hb:
            keep, gone = min(a, b), max(a, b)
        ids = merge_edits(d.buildings, keep, gone)["building_id"].tolist()
        why = (reason or "").strip() or label("edit.merged_reason", self.lang, gone=gone, keep=keep)
        checks = self.move(ids, keep, accept=accept, reason=why, by=by, kind="merge", merged=gone)
        self.last = sorted({keep, gone, *checks})
        return {g: self.draft.checks[g] for g in self.last if g in self.draft.checks}

    def split(
        self,
        building_ids: list[str],
        *,
        accept: bool = False,
        reason: str | None = None,
        by: str | None = None,
    ) -> dict[str, dict[str, Any]]:
        """Split a grid: ``building_ids`` (of one grid) become a new grid, coded next in the
        community's scheme (never a code this session or the plan used). One change.

        Raises
        ------
        DataError
            No buildings, buildings of several grids, the whole grid, or a locked grid.
        HardRuleError
            Either part breaks a hard rule (not contiguous, across a barrier) unless accepted.
        """
        from gridplan.partition.edits import next_grid_code, split_edits

        d = self.draft
        e = split_edits(d.buildings, d.grids, building_ids)
        src = self.grid_of(str(e["building_id"].iloc[0]))
        comm = str(d.grids.set_index(d.grids["grid_id"].astype(str))["community_id"][src])
        used = (
            set(self.grids["grid_id"].astype(str))
            | set(d.grids["grid_id"].astype(str))
            | {g for m in self.state.moves for _b, g in m.rows()}
        )
        code = next_grid_code(used, comm)
        why = (reason or "").strip() or label("edit.split_reason", self.lang, grid=src, new=code)
        return self.move(
            e["building_id"].tolist(), code, accept=accept, reason=why, by=by, kind="split"
        )

    def reoptimise(self, *, by: str | None = None) -> int:
        """Re-plan the rest once: grids out of bounds after the changes, fewest households
        moved, locked grids kept. The buildings the engine moved are recorded as one change
        (undo takes it back); later moves are not re-optimised again. Returns how many
        buildings moved (0: nothing could be improved, and nothing is recorded)."""
        from gridplan.partition.replan import replan_grids

        # the re-plan engine on the plan as drawn now (the changes are already redrawn)
        L = self.dataset.layers
        done = replan_grids(
            self.draft.buildings,
            self.draft.grids,
            L["buildings"],
            L["communities"],
            roads=L.get("roads"),
            barriers=L.get("barriers"),
            config=self.config,
            seed=self.config.seed,
            locks=sorted(self.state.locks),
        )
        now = dict(
            zip(
                self.draft.buildings["building_id"].astype(str),
                self.draft.buildings["grid_id"].astype(str),
                strict=True,
            )
        )
        after = done.buildings
        moved = [
            (b, g)
            for b, g in zip(
                after["building_id"].astype(str), after["grid_id"].astype(str), strict=True
            )
            if b in now and now[b] != g
        ]
        if not moved:
            self.last = []
            return 0
        who = (by or "").strip() or self.by
        step = Move(
            tuple(b for b, _g in moved),
            "",
            label("edit.reoptimised_reason", self.lang),
            who,
            _now(),
            kind="reoptimise",
            targets=tuple(g for _b, g in moved),
        )
        new = replace(self.state, moves=(*self.state.moves, step))
        self.draft = self._compute(new)
        self.last = sorted({now[b] for b, _g in moved} | {g for _b, g in moved})
        self._change(new)
        return len(moved)

    def undo(self) -> None:
        """Back to the state before the last change (nothing to undo: no change)."""
        if not self.undo_stack:
            return
        self.redo_stack.append(self.state)
        self.state = self.undo_stack.pop()
        self.draft = self._compute(self.state)
        self.last = []
        self._autosave()

    def redo(self) -> None:
        """Again the change last undone."""
        if not self.redo_stack:
            return
        self.undo_stack.append(self.state)
        self.state = self.redo_stack.pop()
        self.draft = self._compute(self.state)
        self.last = []
        self._autosave()

    def save(self, out: str | Path, *, overwrite: bool = False) -> Path:
        """Write the edited plan to a new folder: :func:`replan_dataset` of the session's
        state through the atomic writer, with the ``edits`` log layer; then the autosave is
        deleted.

        Raises
        ------
        DataError
            ``out`` is the plan being edited, or nothing was changed.
        OutputExistsError
            ``out`` exists and ``overwrite`` is false; nothing written.
        """
        from gridplan._atomic import check_output_dir
        from gridplan.run.pipeline import replan_dataset, run_to_folder

        out = Path(out)
        if out.resolve() == self.plan_dir.resolve():
            msg = (
                f"save: {out} is the plan being edited; save to a new folder (the original "
                "stays as the record of what was changed)"
            )
            raise DataError(msg)
        if not self.state.moves:
            msg = "save: nothing to save; move buildings or re-optimise first"
            raise DataError(msg)
        check_output_dir(out, overwrite=overwrite)
        plan = replan_dataset(
            self.old,
            self.dataset,
            config=self.config,
            edits=self.state.edits(),
            locks=sorted(self.state.locks),
            reoptimise=False,
        )
        plan.metadata.setdefault("replan", {})["edited_by"] = sorted(
            {m.by for m in self.state.moves if m.by}
        )
        # (a re-optimise is recorded as the moves it made: say that it happened)
        plan.metadata["replan"]["reoptimised"] = any(
            m.kind == "reoptimise" for m in self.state.moves
        )
        written = run_to_folder(plan, out, overwrite=overwrite, lang=self.lang)
        self.autosave_path.unlink(missing_ok=True)
        self.saved_to = str(written)
        logger.info("saved the edited plan to %s", written)
        return Path(written)

    # -- what the page shows -----------------------------------------------------------------

    def violations(self) -> list[dict[str, Any]]:
        """Every violation of the plan as it stands now, in words."""
        out = []
        for g in sorted(self.draft.checks):
            for v in self.draft.checks[g]["violations"]:
                out.append(
                    {
                        "grid_id": g,
                        "kind": v["kind"],
                        "hard": v["kind"] in HARD,
                        "text": mask_text(self.violation_text(g, v)),
                    }
                )
        return out

    def _web_geometry(self, geoms: Any) -> list[dict[str, Any]]:
        """GeoJSON geometries in WGS 84 (1e-6°, about 0.1 m) of metric geometries."""
        web = gpd.GeoSeries(geoms, crs=self.grids.crs).to_crs(4326)
        fixed = shapely.set_precision(web.array, 1e-6)
        return [json.loads(shapely.to_geojson(g)) for g in fixed]

    def snapshot(self, *, delta: bool = False) -> dict[str, Any]:
        """The page's view of the session (JSON-ready; coordinates in WGS 84).

        ``delta``: grids drawn as in the original plan come without geometry and ``grid_of``
        lists only the buildings in another grid than the plan had them (``grid_of_delta``):
        the page keeps the original from its first, full snapshot. On a city this is a few
        kilobytes instead of half a megabyte per change.
        """
        from gridplan.output.maps.make import grid_colors

        d = self.draft
        ids = d.grids["grid_id"].astype(str).to_numpy()
        orig = self.grids.set_index(self.grids["grid_id"].astype(str)).geometry
        same = np.array(
            [
                g in orig.index and bool(shapely.equals_exact(geom, orig[g], 0.0))
                for g, geom in zip(ids, d.grids.geometry.array, strict=True)
            ],
            dtype=bool,
        )
        drawn = iter(self._web_geometry(d.grids.geometry.array[~same]))
        cached = getattr(self, "_colors", None)
        if cached is None or cached[0] is not d:
            self._colors = (d, grid_colors(d.grids))
        colors = self._colors[1]
        feats = []
        for gid, cid, hh, is_same in zip(
            ids,
            d.grids["community_id"].astype(str),
            d.grids["households"],
            same,
            strict=True,
        ):
            c = d.checks.get(gid, {})
            geom = next(drawn) if not is_same else None if delta else self.base_web()["grids"][gid]
            feats.append(
                {
                    "type": "Feature",
                    "geometry": geom,
                    "properties": {
                        "grid_id": gid,
                        "community_id": cid,
                        "households": int(hh),
                        "color": colors.get(gid, "#888888"),
                        "locked": gid in self.state.locks,
                        "bounds": c.get("bounds", "ok"),
                        "hard": any(v["kind"] in HARD for v in c.get("violations", [])),
                    },
                }
            )
        b = d.buildings
        grid_of = dict(zip(b["building_id"].astype(str), b["grid_id"].astype(str), strict=True))
        if delta:
            grid_of = {k: v for k, v in grid_of.items() if self.before.get(k) != v}
        return {
            "grids": {"type": "FeatureCollection", "features": feats},
            "grid_of": grid_of,
            "grid_of_delta": delta,
            "checks": d.checks,
            "base_households": {g: c.get("households", 0) for g, c in self.base_checks.items()},
            "neighbours": d.neighbours,
            "violations": self.violations(),
            "last": self.last,
            "locks": sorted(self.state.locks),
            "reoptimised": self.state.reoptimised,
            "moves": [m.as_json() for m in self.state.moves],
            "can_undo": bool(self.undo_stack),
            "can_redo": bool(self.redo_stack),
            "restored": self.restored,
            "saved_to": self.saved_to,
            "by": self.by,
            "bounds": [self.ctx.min_households, self.ctx.max_households],
            "coverage_keys": self.ctx.coverage_keys,
            "coverage_labels": [self._coverage_label(k) for k in self.ctx.coverage_keys],
            "flags": [mask_text(f) for f in d.flags],
        }

    def _coverage_label(self, key: str) -> str:
        from gridplan.i18n import category_label, tier_label

        tier, _, cat = key.partition("/")
        return f"{tier_label(tier, self.lang)} {category_label(cat, self.lang)}"

    def base_web(self) -> dict[str, Any]:
        """The original plan as the page keeps it (its delta snapshots leave it out):
        ``grids`` grid_id -> GeoJSON geometry (WGS 84), ``grid_of`` building -> grid."""
        if not hasattr(self, "_base_web"):
            self._base_web = {
                "grids": dict(
                    zip(
                        self.grids["grid_id"].astype(str),
                        self._web_geometry(self.grids.geometry.array),
                        strict=True,
                    )
                ),
                "grid_of": dict(self.before),
            }
        return self._base_web

    def buildings_geojson(self) -> dict[str, Any]:
        """The buildings (id, households, footprint in WGS 84): they never change."""
        b = self.buildings.to_crs(4326)
        geoms = shapely.set_precision(b.geometry.array, 1e-6)
        hh = pd.to_numeric(b["households"], errors="coerce").fillna(0).astype(int)
        return {
            "type": "FeatureCollection",
            "features": [
                {
                    "type": "Feature",
                    "geometry": json.loads(shapely.to_geojson(geom)),
                    "properties": {"building_id": bid, "households": int(h)},
                }
                for bid, h, geom in zip(b["building_id"].astype(str), hh, geoms, strict=True)
            ],
        }

    def suggested_out(self) -> str:
        """A folder to save to: ``PLAN_DIR-edited`` (numbered when taken)."""
        base = self.plan_dir.resolve()
        cand = base.with_name(base.name + "-edited")
        n = 2
        while cand.exists():
            cand = base.with_name(f"{base.name}-edited-{n}")
            n += 1
        return str(cand)
