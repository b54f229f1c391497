"""Printable rosters of a plan: grids, ten-household units and staff.

``rosters.xlsx`` (sheets ``grids``, ``units``, ``staff``) and ``rosters/*.csv`` (UTF-8 with a
byte-order mark, so Excel shows Chinese correctly). Names are public in a roster; phone and ID
numbers are masked (:mod:`gridplan.privacy`) unless an authorised officer asks for
``reveal=True``.

Example
-------
>>> from gridplan.output.rosters import write_rosters
>>> write_rosters(plan, "out/town", lang="zh")                # doctest: +SKIP
[PosixPath('out/town/rosters/grids.csv'), ...]
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from gridplan.i18n import check_lang, label, role_label
from gridplan.output.planfile import Plan
from gridplan.privacy import mask_id_number, mask_phone

__all__ = [
    "Person",
    "merge_roster_tables",
    "people_directory",
    "person_phone",
    "roster_tables",
    "write_roster_tables",
    "write_rosters",
]

logger = logging.getLogger(__name__)

#: Order of roles in the staff sheet.
ROLE_ORDER: tuple[str, ...] = (
    "grid_head",
    "grid_worker_full",
    "grid_worker_part",
    "grid_worker",
    "unit_head",
    "building_head",
    "volunteer",
)

#: Roles counted as grid workers.
WORKER_ROLES: tuple[str, ...] = ("grid_worker_full", "grid_worker_part", "grid_worker")


@dataclass(frozen=True)
class Person:
    """What a roster or a map may show of one person."""

    person_id: str
    name: str
    phone: str
    id_number: str
    party_member: bool | None


def cell_text(value: Any) -> str:
    """A table cell as text: missing → "", 13812345678.0 → "13812345678" (a phone number read
    as a float by a CSV reader), anything else → ``str``."""
    if value is None:
        return ""
    try:
        if pd.isna(value):
            return ""
    except (TypeError, ValueError):
        pass
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # a phone number read as a float by a CSV reader
    return str(value)


def _nonempty(plan: Plan, name: str) -> pd.DataFrame | None:
    df = plan.layers.get(name)
    if df is None or len(df) == 0:
        return None
    return df


def people_directory(plan: Plan, *, reveal: bool = False) -> dict[str, Person]:
    """Person id -> :class:`Person`, phones and ID numbers masked unless ``reveal``.

    Parameters
    ----------
    plan
        A plan; its ``people`` layer is read when present (an empty directory otherwise).
    reveal
        Keep phones and ID numbers unmasked.
    """
    people = _nonempty(plan, "people")
    if people is None or "person_id" not in people.columns:
        return {}
    out: dict[str, Person] = {}
    id_col = next((c for c in ("id_number", "id_card", "idcard") if c in people.columns), None)
    for raw in people.to_dict("records"):
        rec: dict[str, Any] = {str(k): v for k, v in raw.items()}
        pid = cell_text(rec.get("person_id"))
        phone = cell_text(rec.get("phone"))
        idn = cell_text(rec.get(id_col)) if id_col else ""
        party = rec.get("party_member")
        out[pid] = Person(
            person_id=pid,
            name=cell_text(rec.get("name")) or pid,
            phone=phone if reveal else mask_phone(phone),
            id_number=idn if reveal else mask_id_number(idn),
            party_member=None if cell_text(party) == "" else bool(party),
        )
    return out


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    return [{str(k): v for k, v in rec.items()} for rec in df.to_dict("records")]


def _round(value: Any) -> int | None:
    text = cell_text(value)
    try:
        return round(float(text))
    except ValueError:
        return None


def _membercell_text(rec: dict[str, Any], lang: str) -> str:
    """``B0001（2单元 3–5层）`` / ``B0001 (entrance 2, floors 3–5)``: one member of a unit."""
    bid = cell_text(rec.get("building_id"))
    entrance = cell_text(rec.get("entrance"))
    lo, hi = cell_text(rec.get("floor_from")), cell_text(rec.get("floor_to"))
    floors = f"{lo}–{hi}" if lo and hi and lo != hi else (lo or hi)
    if lang == "zh":
        parts = [f"{entrance}单元" if entrance else "", f"{floors}层" if floors else ""]
        detail = " ".join(p for p in parts if p)
        return f"{bid}（{detail}）" if detail else bid
    parts = [f"entrance {entrance}" if entrance else "", f"floors {floors}" if floors else ""]
    detail = ", ".join(p for p in parts if p)
    return f"{bid} ({detail})" if detail else bid


def _split_ids(value: Any) -> list[str]:
    return [s for s in cell_text(value).split(";") if s]


def grid_workers(plan: Plan) -> dict[str, list[str]]:
    """Grid id -> person ids of its grid workers (from ``assignments``, else ``worker_ids``)."""
    out: dict[str, list[str]] = {}
    assignments = _nonempty(plan, "assignments")
    if assignments is not None and {"role", "target_id", "person_id"} <= set(assignments.columns):
        rows = assignments[assignments["role"].isin(WORKER_ROLES)]
        for gid, pid in zip(rows["target_id"], rows["person_id"], strict=True):
            out.setdefault(cell_text(gid), []).append(cell_text(pid))
        return out
    grids = _nonempty(plan, "grids")
    if grids is not None and "worker_ids" in grids.columns:
        for gid, ids in zip(grids["grid_id"], grids["worker_ids"], strict=True):
            out[cell_text(gid)] = _split_ids(ids)
    return out


def _names(ids: list[str], people: dict[str, Person], sep: str = "、") -> str:
    return sep.join(people[p].name if p in people else p for p in ids)


def person_phone(pid: str, people: dict[str, Person], lang: str) -> str:
    """The phone of ``pid`` as a roster shows it (masked unless revealed), or the placeholder
    ``无`` / ``none`` when the roster of people gives none, so that a list of phones stays
    beside its list of names."""
    person = people.get(pid)
    return person.phone if person is not None and person.phone else label("no_phone", lang)


def _phones(ids: list[str], people: dict[str, Person], lang: str, sep: str = "、") -> str:
    """One phone per id, in the order of :func:`_names` (a placeholder for a missing phone);
    ``""`` when the plan has no roster of people at all."""
    if not people:
        return ""
    return sep.join(person_phone(p, people, lang) for p in ids)


def roster_tables(plan: Plan, *, lang: str = "zh", reveal: bool = False) -> dict[str, pd.DataFrame]:
    """The roster sheets (``grids``, ``units``, ``staff``) with headers in ``lang``.

    A sheet is left out when the plan has nothing for it (no grids, no units, no staff).

    Parameters
    ----------
    plan
        The plan.
    lang
        ``"zh"`` or ``"en"`` headers and role names.
    reveal
        Show phones and ID numbers unmasked (personal data!).
    """
    check_lang(lang)
    people = people_directory(plan, reveal=reveal)
    workers = grid_workers(plan)
    yes, no = label("yes", lang), label("no", lang)
    vacant = label("vacant", lang)
    sep = "、" if lang == "zh" else "; "
    sheets: dict[str, pd.DataFrame] = {}

    grids = _nonempty(plan, "grids")
    if grids is not None:
        communities = _nonempty(plan, "communities")
        cname: dict[str, str] = {}
        if communities is not None and "name" in communities.columns:
            cname = {
                cell_text(c): cell_text(n)
                for c, n in zip(communities["community_id"], communities["name"], strict=True)
            }
        rows = []
        for rec in _records(grids.sort_values("grid_id")):
            gid = cell_text(rec.get("grid_id"))
            head = cell_text(rec.get("head_id"))
            wids = workers.get(gid, [])
            rows.append(
                {
                    label("grid_id", lang): gid,
                    label("community_id", lang): cell_text(rec.get("community_id")),
                    label("community_name", lang): cname.get(
                        cell_text(rec.get("community_id")), ""
                    ),
                    label("households", lang): rec.get("households"),
                    label("population", lang): _round(rec.get("population")),
                    label("n_buildings", lang): rec.get("n_buildings"),
                    label("n_units", lang): rec.get("n_units"),
                    label("grid_head", lang): _names([head], people) if head else vacant,
                    label("grid_head_phone", lang): _phones([head], people, lang) if head else "",
                    label("workers", lang): _names(wids, people, sep) if wids else vacant,
                    label("workers_phones", lang): _phones(wids, people, lang, sep),
                }
            )
        sheets["grids"] = pd.DataFrame(rows)

    units = _nonempty(plan, "units")
    if units is not None:
        members = _nonempty(plan, "unit_members")
        blds: dict[str, list[str]] = {}
        if members is not None:
            for rec in _records(members):
                lst = blds.setdefault(cell_text(rec.get("unit_id")), [])
                text = _membercell_text(rec, lang)
                if text not in lst:
                    lst.append(text)
        rows = []
        for rec in _records(units.sort_values(["grid_id", "unit_id"])):
            uid = cell_text(rec.get("unit_id"))
            head = cell_text(rec.get("head_id"))
            rows.append(
                {
                    label("unit_id", lang): uid,
                    label("grid_id", lang): cell_text(rec.get("grid_id")),
                    label("households", lang): rec.get("households"),
                    label("unit_head", lang): _names([head], people) if head else vacant,
                    label("unit_head_phone", lang): _phones([head], people, lang) if head else "",
                    label("buildings_list", lang): sep.join(blds.get(uid, [])),
                }
            )
        sheets["units"] = pd.DataFrame(rows)

    assignments = _nonempty(plan, "assignments")
    if assignments is not None:
        rows = []
        cols = set(assignments.columns)
        order = {r: i for i, r in enumerate(ROLE_ORDER)}
        ranked = assignments.assign(
            _order=[order.get(cell_text(r), len(order)) for r in assignments["role"]]
        ).sort_values(["_order", "role", "target_id", "person_id"])
        for rec in _records(ranked):
            pid = cell_text(rec.get("person_id"))
            person = people.get(pid)
            party = person.party_member if person else None
            rows.append(
                {
                    label("person_id", lang): pid,
                    label("person_name", lang): person.name if person else pid,
                    label("role", lang): role_label(cell_text(rec.get("role")), lang),
                    label("target_id", lang): cell_text(rec.get("target_id")),
                    label("party_member", lang): "" if party is None else (yes if party else no),
                    label("phone", lang): person_phone(pid, people, lang) if people else "",
                    label("id_number", lang): person.id_number if person else "",
                    label("distance_m", lang): (
                        round(float(rec["distance_m"]))
                        if "distance_m" in cols and cell_text(rec.get("distance_m"))
                        else None
                    ),
                }
            )
        staff = pd.DataFrame(rows)
        id_col = label("id_number", lang)
        if id_col in staff.columns and not staff[id_col].astype(bool).any():
            staff = staff.drop(columns=[id_col])
        sheets["staff"] = staff
    return sheets


def write_rosters(
    plan: Plan,
    folder: str | Path,
    *,
    lang: str = "zh",
    reveal: bool = False,
    by_community: bool | None = None,
) -> list[Path]:
    """Write ``rosters.xlsx`` and ``rosters/*.csv`` into ``folder``.

    Parameters
    ----------
    plan
        The plan.
    folder
        The plan folder (created when missing).
    lang
        ``"zh"`` or ``"en"`` headers.
    reveal
        Show phones and ID numbers unmasked (personal data: only for an authorised printout).
    by_community
        In the workbook, one sheet of units per community instead of one ``units`` sheet;
        ``None``: the plan's ``[rosters] by_community`` setting.

    Returns
    -------
    list of pathlib.Path
        The files written (the workbook last; it is skipped, with a warning, when openpyxl is
        not installed).
    """
    if by_community is None:
        params = plan.metadata.get("parameters") or {}
        section = params.get("rosters") if isinstance(params, dict) else None
        by_community = bool(isinstance(section, dict) and section.get("by_community"))
    sheets = roster_tables(plan, lang=lang, reveal=reveal)
    return write_roster_tables(
        sheets,
        folder,
        reveal=reveal,
        lang=lang,
        by_community=by_community,
        date=str(plan.metadata.get("created_at") or "")[:10] or None,
    )


def merge_roster_tables(
    parts: list[dict[str, pd.DataFrame]], *, lang: str = "zh"
) -> dict[str, pd.DataFrame]:
    """The roster sheets of several parts of one plan (the batches of a batched run, each from
    :func:`roster_tables`) as one, rows in the order :func:`roster_tables` gives a whole plan.

    Parameters
    ----------
    parts
        Sheets per part, in part order.
    lang
        The language the sheets were made in.
    """
    check_lang(lang)
    names = [n for n in ("grids", "units", "staff") if any(n in p for p in parts)]
    rank = {role_label(r, lang): i for i, r in enumerate(ROLE_ORDER)}
    out: dict[str, pd.DataFrame] = {}
    for name in names:
        frames = [p[name] for p in parts if name in p]
        nonempty = [f for f in frames if len(f)] or frames[:1]
        df = pd.concat(nonempty, ignore_index=True) if len(nonempty) > 1 else nonempty[0].copy()
        if name == "grids":
            keys = [label("grid_id", lang)]
        elif name == "units":
            keys = [label("grid_id", lang), label("unit_id", lang)]
        else:
            id_col = label("id_number", lang)
            if id_col in df.columns:
                df[id_col] = df[id_col].fillna("")
                if not df[id_col].astype(bool).any():
                    df = df.drop(columns=[id_col])  # as roster_tables drops an empty ID column
            keys = [
                "_order",
                label("role", lang),
                label("target_id", lang),
                label("person_id", lang),
            ]
            df["_order"] = [rank.get(cell_text(r), len(rank)) for r in df[label("role", lang)]]
        df = df.sort_values(keys, kind="stable").reset_index(drop=True)
        out[name] = df.drop(columns=["_order"], errors="ignore")
    return out


def _community_sheets(sheets: dict[str, pd.DataFrame], lang: str) -> dict[str, pd.DataFrame]:
    """The workbook's sheets with ``units`` split by community: one sheet per community, named
    by the community (its name when the grids sheet has one), in community order."""
    units, grids = sheets.get("units"), sheets.get("grids")
    if units is None or grids is None:
        return sheets
    gcol, ccol, ncol = (
        label("grid_id", lang),
        label("community_id", lang),
        label("community_name", lang),
    )
    community = dict(zip(grids[gcol].astype(str), grids[ccol].astype(str), strict=True))
    names = dict(zip(grids[ccol].astype(str), grids[ncol].astype(str), strict=True))
    of_unit = units[gcol].astype(str).map(community).fillna("")
    out = {k: v for k, v in sheets.items() if k != "units"}
    used = {name.lower() for name in out}
    for cid in sorted(of_unit.unique()):
        title = _sheet_title(names.get(cid) or cid or label("vacant", lang), used)
        out[title] = units[of_unit == cid].reset_index(drop=True)
    return out


def _sheet_title(text: str, used: set[str]) -> str:
    """An Excel sheet name: at most 31 characters, none of ``[]:*?/\\``, unique."""
    base = "".join("_" if ch in "[]:*?/\\" else ch for ch in text)[:31] or "sheet"
    title, n = base, 2
    while title.lower() in used:
        title = f"{base[: 31 - len(str(n)) - 1]}~{n}"
        n += 1
    used.add(title.lower())
    return title


def _print_ready(sheet: Any, title: str, lang: str) -> None:
    """Bold frozen header row repeated on every printed page, landscape A4, one page wide,
    the sheet's title in the page header and page numbers in the footer."""
    from openpyxl.styles import Alignment, Font, PatternFill

    bold = Font(bold=True)
    fill = PatternFill("solid", fgColor="DDDDDD")
    for cell in sheet[1]:
        cell.font = bold
        cell.fill = fill
        cell.alignment = Alignment(vertical="center", wrap_text=True)
    sheet.freeze_panes = "A2"
    sheet.print_title_rows = "1:1"
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    sheet.print_options.gridLines = True
    sheet.page_margins.left = sheet.page_margins.right = 0.4
    sheet.oddHeader.center.text = title
    sheet.oddFooter.center.text = "第 &P 页，共 &N 页" if lang == "zh" else "Page &P of &N"


#: Sheet titles of the workbook, by sheet key.
_SHEET_TITLES = {"grids": "grid_list", "units": "units", "staff": "workers"}


def _fixed_zip(path: Path, when: str | None) -> None:
    """Rewrite an .xlsx so that the same rosters give the same bytes: every zip entry dated
    1980-01-01 and the workbook's created/modified time set to ``when`` (the plan's date)."""
    import re
    import zipfile

    stamp = f"{when or '1980-01-01'}T00:00:00Z"
    with zipfile.ZipFile(path) as zin:
        entries = [(info.filename, zin.read(info.filename)) for info in zin.infolist()]
    tmp = path.with_suffix(".tmp.xlsx")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zout:
        for name, data in entries:
            if name == "docProps/core.xml":
                text = re.sub(
                    r"(<dcterms:(?:created|modified)[^>]*>)[^<]*(<)",
                    lambda m: m.group(1) + stamp + m.group(2),
                    data.decode("utf-8"),
                )
                data = text.encode("utf-8")
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zout.writestr(info, data)
    tmp.replace(path)


def write_roster_tables(
    sheets: dict[str, pd.DataFrame],
    folder: str | Path,
    *,
    reveal: bool = False,
    lang: str = "zh",
    by_community: bool = False,
    date: str | None = None,
) -> list[Path]:
    """Write roster sheets (:func:`roster_tables`) as ``rosters/*.csv`` and ``rosters.xlsx``
    into ``folder``; see :func:`write_rosters`.

    The workbook is ready to print: bold header rows frozen and repeated on every page,
    landscape A4 one page wide, page numbers; with ``by_community`` one units sheet per
    community. ``date`` (the plan's, ``YYYY-MM-DD``) dates the workbook, so the same rosters
    give the same bytes."""
    folder = Path(folder)
    csv_dir = folder / "rosters"
    csv_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for name, df in sheets.items():
        path = csv_dir / f"{name}.csv"
        df.to_csv(path, index=False, encoding="utf-8-sig")
        written.append(path)
    if reveal:
        logger.warning("rosters written with phones and ID numbers unmasked (reveal=True)")
    try:
        import openpyxl  # noqa: F401
    except ImportError:
        logger.warning("openpyxl is not installed: rosters.xlsx skipped, CSV rosters written")
        return written
    if not sheets:
        return written
    xlsx = folder / "rosters.xlsx"
    book = _community_sheets(sheets, lang) if by_community else sheets
    with pd.ExcelWriter(xlsx, engine="openpyxl") as writer:
        for name, df in book.items():
            df.to_excel(writer, sheet_name=name, index=False)
            sheet = writer.sheets[name]
            for idx, col in enumerate(df.columns, start=1):
                values = [str(col), *(str(v) for v in df[col].head(200))]
                width = min(40, max(len(v) for v in values) * 1.6 + 2)
                sheet.column_dimensions[sheet.cell(row=1, column=idx).column_letter].width = width
            key = _SHEET_TITLES.get(name)
            _print_ready(sheet, label(key, lang) if key else name, lang)
    _fixed_zip(xlsx, date)
    written.append(xlsx)
    return written
