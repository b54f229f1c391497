"""Notice-board pages drawn with matplotlib: one page per grid, and a community cover.

A grid page: the title band (grid code, name, figures), the grid's map (its buildings coloured
by ten-household unit, unit numbers, facilities nearby, the grid head's home only when allowed,
scale bar and north arrow), the staff with masked phones or the public duty phone, the
facilities within 5, 10 and 15 walking minutes and the categories missing, and the units with
their heads. A cover: the community's map with every grid labelled where the label fits, and
the grid index with page numbers (continued on further pages when long).

Texts are placed in figure coordinates, wrapped by their width in ems (a Chinese character is
one em, a Latin letter about half), so nothing runs off the page at either paper size.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import geopandas as gpd
import shapely
from pyproj import CRS

from gridplan.i18n import label, labels_in, tier_label
from gridplan.output.boards.content import Board, grid_number
from gridplan.output.maps.assets import CATEGORY_COLORS, CATEGORY_GLYPHS, PALETTE
from gridplan.output.planfile import Plan
from gridplan.output.rosters import cell_text

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["PAPERS", "Geo", "IndexRow", "cover_pages", "grid_page", "plan_geo"]

#: Paper name -> (width, height) in inches, portrait.
PAPERS: dict[str, tuple[float, float]] = {"A4": (8.27, 11.69), "A3": (11.69, 16.54)}

#: Pastel fills of the units on a grid's map (neighbouring units rarely share one).
UNIT_FILLS: tuple[str, ...] = (
    "#a6cee3",
    "#b2df8a",
    "#fdbf6f",
    "#cab2d6",
    "#fb9a99",
    "#ffff99",
    "#8dd3c7",
    "#bebada",
    "#fccde5",
    "#d9d9d9",
)
GRID_EDGE = "#c0392b"
INK = "#222222"
MUTED = "#666666"
ALERT = "#b03a2e"


@dataclass(frozen=True)
class IndexRow:
    """One line of a cover's grid index."""

    grid_id: str
    name: str
    households: int
    head: str
    page: int


@dataclass(frozen=True)
class Geo:
    """The plan's map layers in one metric CRS (``None`` for a layer the plan lacks)."""

    grids: gpd.GeoDataFrame
    units: gpd.GeoDataFrame | None
    buildings: gpd.GeoDataFrame | None
    water: gpd.GeoDataFrame | None
    communities: gpd.GeoDataFrame | None
    facilities: gpd.GeoDataFrame | None


def _layer(plan: Plan, name: str, crs: Any) -> gpd.GeoDataFrame | None:
    df = plan.layers.get(name)
    if not isinstance(df, gpd.GeoDataFrame) or not len(df) or df.geometry.name not in df:
        return None
    df = df[df.geometry.notna() & ~df.geometry.is_empty]
    if df.crs is None and plan.crs is not None:
        df = df.set_crs(plan.crs)
    return df.to_crs(crs) if len(df) else None


def plan_geo(plan: Plan) -> Geo:
    """The layers a board draws, in the grids' metric CRS (their UTM zone when in degrees)."""
    grids = plan.layers["grids"]
    assert isinstance(grids, gpd.GeoDataFrame)
    if grids.crs is None and plan.crs is not None:
        grids = grids.set_crs(plan.crs)
    crs = grids.crs
    if crs is None or not CRS.from_user_input(crs).is_projected:
        crs = grids.estimate_utm_crs()
    return Geo(
        grids=grids.to_crs(crs).sort_values("grid_id"),
        units=_layer(plan, "units", crs),
        buildings=_layer(plan, "buildings", crs),
        water=_layer(plan, "water", crs),
        communities=_layer(plan, "communities", crs),
        facilities=_layer(plan, "facilities", crs),
    )


# --------------------------------------------------------------------------- text helpers


def ems(text: str) -> float:
    """Width of ``text`` in ems: wide (CJK) characters 1, others about 0.55."""
    return sum(1.0 if unicodedata.east_asian_width(ch) in "WF" else 0.55 for ch in text)


def wrap(text: str, width_em: float, max_lines: int | None = None) -> list[str]:
    """``text`` broken into lines of at most ``width_em`` ems (at spaces and after 、，,
    where possible); the last line cut with ``…`` when ``max_lines`` is reached."""
    lines: list[str] = []
    line = ""
    for token in _tokens(text):
        if line and ems(line + token) > width_em:
            lines.append(line.rstrip())
            line = token.lstrip()
        else:
            line += token
        while ems(line) > width_em:  # one token wider than a line: cut it
            cut = len(line)
            while cut > 1 and ems(line[:cut]) > width_em:
                cut -= 1
            lines.append(line[:cut])
            line = line[cut:]
    if line.strip():
        lines.append(line.rstrip())
    if max_lines is not None and len(lines) > max_lines:
        last = lines[max_lines - 1]
        while last and ems(last + "…") > width_em:
            last = last[:-1]
        lines = [*lines[: max_lines - 1], last + "…"]
    return lines


def _tokens(text: str) -> list[str]:
    out: list[str] = []
    cur = ""
    for ch in text:
        cur += ch
        if ch in " 、，,;；" or unicodedata.east_asian_width(ch) in "WF":
            out.append(cur)
            cur = ""
    if cur:
        out.append(cur)
    return out


def fit(text: str, width_em: float) -> str:
    """``text`` on one line of ``width_em`` ems, cut with ``…`` when longer."""
    return wrap(text, width_em, max_lines=1)[0] if text else ""


# --------------------------------------------------------------------------- map helpers


def _frame(ax: Axes, bounds: Sequence[float], margin: float = 0.1) -> None:
    """Set ``ax`` to show ``bounds`` with a margin, at the axes' own aspect (equal scale)."""
    minx, miny, maxx, maxy = bounds
    w, h = max(maxx - minx, 1.0), max(maxy - miny, 1.0)
    cx, cy = (minx + maxx) / 2, (miny + maxy) / 2
    pos = ax.get_position()
    fw, fh = cast("Figure", ax.figure).get_size_inches()
    aspect = (pos.height * fh) / (pos.width * fw)
    w, h = w * (1 + 2 * margin), h * (1 + 2 * margin)
    if h / w > aspect:
        w = h / aspect
    else:
        h = w * aspect
    ax.set_xlim(cx - w / 2, cx + w / 2)
    ax.set_ylim(cy - h / 2, cy + h / 2)
    ax.set_aspect("equal", adjustable="box")
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_edgecolor("#999999")
        spine.set_linewidth(0.6)


def _clip(gdf: gpd.GeoDataFrame | None, ax: Axes) -> gpd.GeoDataFrame | None:
    if gdf is None:
        return None
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    return gdf.cx[x0:x1, y0:y1]


def _draw(ax: Axes, gdf: gpd.GeoDataFrame | None, **kw: Any) -> None:
    if gdf is not None and len(gdf):
        gdf.plot(ax=ax, **kw)


def _scale_bar(ax: Axes, k: float, lang: str) -> None:
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    span = x1 - x0
    length = next((v for v in (2000, 1000, 500, 300, 200, 100, 50, 20) if v <= span / 4), 10)
    x, y = x0 + 0.04 * span, y0 + 0.05 * (y1 - y0)
    ax.plot([x, x + length], [y, y], color=INK, lw=2.5 * k, solid_capstyle="butt", zorder=20)
    unit = "米" if lang == "zh" else "m"
    ax.text(
        x + length / 2,
        y + 0.015 * (y1 - y0),
        f"{length} {unit}",
        ha="center",
        va="bottom",
        fontsize=7 * k,
        color=INK,
        zorder=20,
        path_effects=_halo(k),
    )
    nx_, ny_ = x1 - 0.05 * span, y1 - 0.1 * (y1 - y0)
    ax.annotate(
        "",
        xy=(nx_, y1 - 0.03 * (y1 - y0)),
        xytext=(nx_, ny_),
        arrowprops={"arrowstyle": "-|>", "color": INK, "lw": 1.2 * k},
        zorder=20,
    )
    ax.text(
        nx_,
        ny_ - 0.01 * (y1 - y0),
        "北" if lang == "zh" else "N",
        ha="center",
        va="top",
        fontsize=8 * k,
        fontweight="bold",
        color=INK,
        zorder=20,
        path_effects=_halo(k),
    )


def _halo(k: float) -> list[Any]:
    from matplotlib import patheffects

    return [patheffects.withStroke(linewidth=2.2 * k, foreground="white")]


def _facility_markers(ax: Axes, geo: Geo, k: float, lang: str) -> list[str]:
    """Facility markers (colour and glyph of the category) in view; the categories shown."""
    fac = _clip(geo.facilities, ax)
    if fac is None or not len(fac) or "category" not in fac.columns:
        return []
    fac = fac.sort_values([c for c in ("category", "facility_id") if c in fac.columns])
    pts = fac.geometry.representative_point()
    cats = [cell_text(c) for c in fac["category"]]
    for p, c in zip(pts, cats, strict=True):
        ax.scatter(
            [p.x],
            [p.y],
            s=(11 * k) ** 2,
            color=CATEGORY_COLORS.get(c, "#555555"),
            edgecolors="white",
            linewidths=0.8 * k,
            zorder=15,
        )
        ax.text(
            p.x,
            p.y,
            CATEGORY_GLYPHS[lang].get(c, c[:1].upper()),
            ha="center",
            va="center",
            fontsize=6 * k,
            color="white",
            fontweight="bold",
            zorder=16,
        )
    return sorted(set(cats))


# --------------------------------------------------------------------------- grid page


def _grid_map(ax: Axes, board: Board, geo: Geo, k: float, lang: str) -> list[Any]:
    """Draw the grid's map into ``ax``; return legend handles."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    grid = geo.grids[geo.grids["grid_id"].astype(str) == board.grid_id]
    _frame(ax, grid.total_bounds, margin=0.08)
    ax.set_facecolor("#fafafa")
    others = _clip(geo.grids[geo.grids["grid_id"].astype(str) != board.grid_id], ax)
    _draw(ax, others, facecolor="#efefef", edgecolor="#9a9a9a", linewidth=0.6 * k, zorder=1)
    _draw(
        ax,
        _clip(geo.water, ax),
        facecolor="#bcdcf5",
        edgecolor="#7fb2dd",
        linewidth=0.4 * k,
        zorder=2,
    )
    b = _clip(geo.buildings, ax)
    if b is not None:
        _draw(ax, b, facecolor="#d4d4d4", edgecolor="#9a9a9a", linewidth=0.2 * k, zorder=3)
    handles: list[Any] = [
        Patch(
            facecolor="none",
            edgecolor=GRID_EDGE,
            linewidth=2 * k,
            label=label("print.grid_boundary", lang),
        ),
    ]
    units = geo.units
    if units is not None and "grid_id" in units.columns:
        mine = units[units["grid_id"].astype(str) == board.grid_id].sort_values("unit_id")
        if len(mine):
            colours = [UNIT_FILLS[i % len(UNIT_FILLS)] for i in range(len(mine))]
            mine.plot(ax=ax, color=colours, edgecolor="#555555", linewidth=0.3 * k, zorder=4)
            handles.append(
                Patch(
                    facecolor=UNIT_FILLS[0],
                    edgecolor="#555555",
                    label=label("print.unit_legend", lang),
                )
            )
            # units of one big building share its footprint: one label "3–9" for them
            shared: dict[bytes, list[str]] = {}
            shapes: dict[bytes, Any] = {}
            for uid, geom in zip(mine["unit_id"], mine.geometry, strict=True):
                key = shapely.to_wkb(geom)
                shared.setdefault(key, []).append(grid_number(cell_text(uid)))
                shapes[key] = geom
            size = 5.5 * k if len(shared) <= 40 else 4.5 * k
            for key, numbers in shared.items():
                p = shapes[key].representative_point()
                text = numbers[0] if len(numbers) == 1 else f"{numbers[0]}–{numbers[-1]}"
                ax.text(
                    p.x,
                    p.y,
                    text,
                    ha="center",
                    va="center",
                    fontsize=size,
                    color=INK,
                    zorder=6,
                    path_effects=_halo(k * 0.6),
                )
    grid.plot(ax=ax, facecolor="none", edgecolor=GRID_EDGE, linewidth=2.2 * k, zorder=8)
    cats = _facility_markers(ax, geo, k, lang)
    if cats:
        handles.append(
            Line2D(
                [],
                [],
                marker="o",
                linestyle="",
                markersize=7 * k,
                markerfacecolor=CATEGORY_COLORS.get(cats[0], "#555"),
                markeredgecolor="white",
                label=label("print.facility_legend", lang),
            )
        )
    if board.head_home and geo.buildings is not None:
        home = geo.buildings[geo.buildings["building_id"].astype(str) == board.head_home]
        if len(home):
            p = home.geometry.iloc[0].representative_point()
            ax.scatter(
                [p.x],
                [p.y],
                marker="*",
                s=(16 * k) ** 2,
                color="#f1c40f",
                edgecolors=INK,
                linewidths=0.8 * k,
                zorder=18,
            )
            handles.append(
                Line2D(
                    [],
                    [],
                    marker="*",
                    linestyle="",
                    markersize=11 * k,
                    markerfacecolor="#f1c40f",
                    markeredgecolor=INK,
                    label=label("print.head_home", lang),
                )
            )
    _scale_bar(ax, k, lang)
    ax.set_xlabel("")
    ax.set_ylabel("")
    return handles


def _person_line(p: Any, phone: bool, lang: str) -> str:
    if p is None:
        return label("vacant", lang)
    if not phone:
        return p.name
    return f"{p.name}  {p.phone or label('no_phone', lang)}"


def grid_page(
    board: Board,
    geo: Geo,
    *,
    paper: str,
    lang: str,
    page: int,
    footer: str,
) -> Figure:
    """The notice board of one grid as a matplotlib Figure (not yet saved).

    Parameters
    ----------
    board
        What the board says (:func:`~gridplan.output.boards.content.board_contents`).
    geo
        The plan's layers in a metric CRS (:func:`plan_geo`).
    paper
        ``"A4"`` or ``"A3"`` (portrait); everything scales with the paper.
    lang
        ``"zh"`` or ``"en"``.
    page
        Page number in the atlas.
    footer
        The footer line (source and date).
    """
    from matplotlib.figure import Figure

    lab = labels_in("print", lang)
    w, h = PAPERS[paper]
    k = w / PAPERS["A4"][0]
    fig = Figure(figsize=(w, h), dpi=150)
    fig.patch.set_facecolor("white")
    left, right = 0.06, 0.94
    # title band
    fig.text(
        left,
        0.958,
        lab["board_title"],
        fontsize=22 * k,
        fontweight="bold",
        color=GRID_EDGE,
        va="center",
    )
    fig.text(
        right,
        0.958,
        board.grid_id,
        fontsize=20 * k,
        fontweight="bold",
        color=INK,
        ha="right",
        va="center",
    )
    em_line = (right - left) * w * 72 / (13 * k)
    fig.text(left, 0.925, fit(board.name, em_line), fontsize=13 * k, color=INK, va="center")
    figures = [lab["households"].format(n=f"{board.households:,}")]
    if board.population is not None:
        figures.append(lab["population"].format(n=f"{board.population:,}"))
    if board.n_buildings is not None:
        figures.append(lab["buildings"].format(n=board.n_buildings))
    figures.append(lab["units"].format(n=len(board.units)))
    fig.text(left, 0.901, " · ".join(figures), fontsize=10 * k, color=MUTED, va="center")
    fig.add_artist(_hline(fig, left, right, 0.888, GRID_EDGE, 1.5 * k))

    # the units table takes what it needs at the bottom, the map and panel the rest
    table_top, row_in = _table_height(len(board.units), k, h, bottom=0.062)
    map_bottom = table_top + 0.05
    ax = fig.add_axes((left, map_bottom, 0.53, 0.875 - map_bottom))
    handles = _grid_map(ax, board, geo, k, lang)
    fig.legend(
        handles=handles,
        loc="upper left",
        bbox_to_anchor=(left, map_bottom - 0.004),
        ncol=len(handles),
        fontsize=7 * k,
        frameon=False,
        handlelength=1.4,
        columnspacing=1.2,
        borderaxespad=0,
        borderpad=0.2,
    )

    # staff and facilities panel
    x0 = left + 0.53 + 0.03
    width_em = (right - x0) * w * 72 / (9.5 * k)
    small_em = (right - x0) * w * 72 / (7.8 * k)
    y = 0.875
    show_phone = board.duty_phone is None
    y = _section(fig, x0, y, lab["grid_head"], k)
    y = _lines(fig, x0, y, wrap(_person_line(board.head, show_phone, lang), width_em), k, 9.5)
    y = _section(fig, x0, y - 0.006, lab["workers"], k)
    workers = [_person_line(p, show_phone, lang) for p in board.workers] or [label("vacant", lang)]
    worker_lines = [ln for p in workers for ln in wrap(p, width_em)]
    y = _lines(fig, x0, y, worker_lines[:6], k, 9.5)
    if board.duty_phone:
        y = _section(fig, x0, y - 0.006, lab["duty_phone"], k)
        fig.text(
            x0,
            y - 0.012,
            fit(board.duty_phone, width_em * 0.62),
            fontsize=15 * k,
            fontweight="bold",
            color=GRID_EDGE,
            va="center",
        )
        y -= 0.03
    y = _section(fig, x0, y - 0.008, lab["reach"], k)
    reach: list[tuple[str, str, bool]] = []  # text, colour, bold
    tiers = sorted(set(board.facilities) | set(board.missing), key=_minutes)
    sep = "、" if lang == "zh" else ", "
    for tier in tiers:
        reach.append((tier_label(tier, lang), INK, True))
        for cat, names in board.facilities.get(tier, []):
            more = lab["and_more"].format(n=len(names)) if len(names) > 1 else ""
            reach.append((fit(f"{cat}{lab['colon']}{names[0]}{more}", small_em), INK, False))
        if not board.facilities.get(tier):
            reach.append((lab["none_within"], MUTED, False))
        gaps = board.missing.get(tier, [])
        if gaps:
            for ln in wrap(lab["missing"] + sep.join(gaps), small_em, max_lines=2):
                reach.append((ln, ALERT, False))
    if not tiers:
        reach.append((lab["no_coverage"], MUTED, False))
    step = 7.8 * k * 1.5 / 72 / h
    budget = max(1, int((y - map_bottom) / step))
    if len(reach) > budget:
        reach = [*reach[: budget - 1], ("…", MUTED, False)]
    for text, colour, bold in reach:
        fig.text(
            x0,
            y - step / 2,
            text,
            fontsize=7.8 * k,
            color=colour,
            va="center",
            fontweight="bold" if bold else "normal",
        )
        y -= step

    # units
    _units_table(fig, board, left, right, table_top, row_in, k, w, h, lang)
    # footer
    fig.add_artist(_hline(fig, left, right, 0.045, "#bbbbbb", 0.6 * k))
    note = lab["privacy_duty"] if board.duty_phone else lab["privacy"]
    fig.text(
        left,
        0.03,
        fit(f"{footer} · {note}", (right - left - 0.08) * w * 72 / (7 * k)),
        fontsize=7 * k,
        color=MUTED,
        va="center",
    )
    fig.text(
        right,
        0.03,
        lab["page"].format(n=page),
        fontsize=7 * k,
        color=MUTED,
        ha="right",
        va="center",
    )
    return fig


#: Columns of the units table, and the row height it prefers (inches on A4).
UNIT_COLUMNS = 3
UNIT_ROW_IN = 0.2


def _table_height(n_units: int, k: float, h: float, *, bottom: float) -> tuple[float, float]:
    """Top of the units table (figure fraction) and its row height (inches): the preferred
    rows when they fit below a map of at least a third of the page, else rows squeezed."""
    per_col = max(1, math.ceil(n_units / UNIT_COLUMNS))
    header = 0.03
    row_in = UNIT_ROW_IN * k
    top = bottom + header + (per_col + 1) * row_in / h
    highest = 0.875 - 0.05 - 0.34
    if top > highest:
        row_in = (highest - bottom - header) * h / (per_col + 1)
        top = highest
    return top, row_in


def _minutes(tier: str) -> int:
    digits = "".join(ch for ch in str(tier) if ch.isdigit())
    return int(digits) if digits else 0


def _hline(fig: Figure, x0: float, x1: float, y: float, colour: str, lw: float) -> Any:
    from matplotlib.lines import Line2D

    return Line2D([x0, x1], [y, y], transform=fig.transFigure, color=colour, linewidth=lw)


def _table_head(
    fig: Figure,
    x: float,
    width: float,
    col_w: float,
    y: float,
    step: float,
    columns: list[tuple[float, str]],
    size: float,
    k: float,
) -> None:
    """A table's bold header row at ``y`` (each title at its fraction of ``col_w``) and the rule
    under it, ``width`` long: the units table of a board and the grid index of a cover."""
    for off, title in columns:
        fig.text(
            x + off * col_w, y, title, fontsize=size, fontweight="bold", color=MUTED, va="center"
        )
    fig.add_artist(_hline(fig, x, x + width, y - step * 0.55, "#999999", 0.5 * k))


def _section(fig: Figure, x: float, y: float, title: str, k: float) -> float:
    fig.text(x, y - 0.008, title, fontsize=10 * k, fontweight="bold", color=GRID_EDGE, va="center")
    return y - 0.02


def _lines(fig: Figure, x: float, y: float, lines: list[str], k: float, size: float) -> float:
    step = size * 1.45 / 72 / PAPERS["A4"][1]  # the same share of any paper (fonts scale)
    for ln in lines:
        fig.text(x, y - step / 2, ln, fontsize=size * k, color=INK, va="center")
        y -= step
    return y


def _units_table(
    fig: Figure,
    board: Board,
    left: float,
    right: float,
    top: float,
    row_in: float,
    k: float,
    w: float,
    h: float,
    lang: str,
) -> None:
    lab = labels_in("print", lang)
    fig.text(
        left,
        top,
        lab["units_title"].format(n=len(board.units)),
        fontsize=11 * k,
        fontweight="bold",
        color=GRID_EDGE,
        va="center",
    )
    rows = board.units
    if not rows:
        fig.text(left, top - 0.03, lab["no_units"], fontsize=9 * k, color=MUTED, va="center")
        return
    head_y = top - 0.025
    ncol = UNIT_COLUMNS
    per_col = math.ceil(len(rows) / ncol)
    size = min(8.0 * k, row_in * 72 / 1.5)
    col_w = (right - left) / ncol
    # sub-columns: number, households, head, phone (fractions of a column)
    cols = (0.0, 0.13, 0.3, 0.62)
    name_em = (cols[3] - cols[2]) * col_w * w * 72 / size - 0.5
    phone_em = (1 - cols[3]) * col_w * w * 72 / size - 0.8
    titles = (lab["unit_no"], lab["unit_households"], lab["unit_head"], lab["unit_phone"])
    show_phone = board.duty_phone is None
    step = row_in / h
    for c in range(ncol):
        chunk = rows[c * per_col : (c + 1) * per_col]
        if not chunk:
            break
        x = left + c * col_w
        shown = [(o, t) for o, t in zip(cols, titles, strict=True) if show_phone or t != titles[3]]
        _table_head(fig, x, col_w - 0.012, col_w, head_y, step, shown, size, k)
        for i, u in enumerate(chunk):
            yy = head_y - (i + 1) * step
            if i % 2 == 1:
                from matplotlib.patches import Rectangle

                fig.add_artist(
                    Rectangle(
                        (x, yy - step / 2),
                        col_w - 0.012,
                        step,
                        transform=fig.transFigure,
                        facecolor="#f3f3f3",
                        edgecolor="none",
                        zorder=0,
                    )
                )
            vacant = u.head is None
            cells = [
                grid_number(u.unit_id),
                str(u.households),
                fit(label("vacant", lang) if vacant else u.head.name, name_em),  # type: ignore[union-attr]
                "" if vacant or not show_phone else fit(u.head.phone or "—", phone_em),  # type: ignore[union-attr]
            ]
            for j, (off, cell) in enumerate(zip(cols, cells, strict=True)):
                fig.text(
                    x + off * col_w,
                    yy,
                    cell,
                    fontsize=size,
                    va="center",
                    color=MUTED if (vacant and j == 2) else INK,
                    fontstyle="italic" if (vacant and j == 2) else "normal",
                )


# --------------------------------------------------------------------------- cover


def cover_pages(
    community_id: str,
    community_name: str,
    boards: list[Board],
    index: list[IndexRow],
    geo: Geo,
    *,
    paper: str,
    lang: str,
    first_page: int,
    footer: str,
    colors: dict[str, str],
) -> list[Figure]:
    """The cover of one community (its map, the grid index) and, when the index is long, the
    pages continuing it.

    Parameters
    ----------
    community_id, community_name
        The community.
    boards
        Its grids' boards (for the figures in the subtitle).
    index
        One row per grid, with the page of its board.
    geo
        The plan's layers (:func:`plan_geo`).
    paper, lang
        As :func:`grid_page`.
    first_page
        The cover's page number.
    footer
        The footer line.
    colors
        Grid id -> fill colour (neighbours differ).
    """
    from matplotlib.figure import Figure

    lab = labels_in("print", lang)
    w, h = PAPERS[paper]
    k = w / PAPERS["A4"][0]
    left, right = 0.06, 0.94
    figs: list[Figure] = []
    fig = Figure(figsize=(w, h), dpi=150)
    fig.text(
        left,
        0.955,
        fit(community_name, (right - left) * w * 72 / (22 * k)),
        fontsize=22 * k,
        fontweight="bold",
        color=INK,
        va="center",
    )
    fig.text(left, 0.922, lab["atlas_title"], fontsize=15 * k, color=GRID_EDGE, va="center")
    hh = sum(b.households for b in boards)
    units = sum(len(b.units) for b in boards)
    fig.text(
        left,
        0.897,
        lab["cover_figures"].format(grids=len(boards), households=f"{hh:,}", units=units),
        fontsize=10 * k,
        color=MUTED,
        va="center",
    )
    fig.add_artist(_hline(fig, left, right, 0.884, GRID_EDGE, 1.5 * k))
    ax = fig.add_axes((left, 0.43, right - left, 0.44))
    _community_map(ax, community_id, geo, k, lang, colors)
    figs.append(fig)
    rows_first = _index_rows_fit(0.395 - 0.06, h, k)
    chunks = [index[: rows_first * 2]]
    rest = index[rows_first * 2 :]
    rows_more = _index_rows_fit(0.9 - 0.06, h, k)
    while rest:
        chunks.append(rest[: rows_more * 2])
        rest = rest[rows_more * 2 :]
    for n, chunk in enumerate(chunks):
        if n == 0:
            page_fig, top = fig, 0.41
        else:
            page_fig = Figure(figsize=(w, h), dpi=150)
            page_fig.text(
                left,
                0.955,
                f"{community_name} · {lab['index_title']}",
                fontsize=14 * k,
                fontweight="bold",
                color=INK,
                va="center",
            )
            figs.append(page_fig)
            top = 0.92
        page_fig.text(
            left,
            top,
            lab["index_title"],
            fontsize=11 * k,
            fontweight="bold",
            color=GRID_EDGE,
            va="center",
        )
        _index_table(page_fig, chunk, left, right, top - 0.025, k, w, h, lang)
    for n, f in enumerate(figs):
        f.add_artist(_hline(f, left, right, 0.045, "#bbbbbb", 0.6 * k))
        f.text(
            left,
            0.03,
            fit(footer, (right - left - 0.08) * w * 72 / (7 * k)),
            fontsize=7 * k,
            color=MUTED,
            va="center",
        )
        f.text(
            right,
            0.03,
            lab["page"].format(n=first_page + n),
            fontsize=7 * k,
            color=MUTED,
            ha="right",
            va="center",
        )
    return figs


INDEX_ROW_IN = 0.2


def _index_rows_fit(height_frac: float, h: float, k: float) -> int:
    return max(1, int(height_frac * h / (INDEX_ROW_IN * k)) - 1)


def index_pages(n_rows: int, paper: str) -> int:
    """How many pages a community's cover and its index take (1 unless the index is long)."""
    w, h = PAPERS[paper]
    k = w / PAPERS["A4"][0]
    first = _index_rows_fit(0.395 - 0.06, h, k) * 2
    more = _index_rows_fit(0.9 - 0.06, h, k) * 2
    return 1 + max(0, math.ceil((n_rows - first) / more))


def _index_table(
    fig: Figure,
    rows: list[IndexRow],
    left: float,
    right: float,
    top: float,
    k: float,
    w: float,
    h: float,
    lang: str,
) -> None:
    lab = labels_in("print", lang)
    col_w = (right - left) / 2
    cols = (0.0, 0.2, 0.55, 0.7, 0.9)
    size = 7.8 * k
    titles = (
        lab["index_code"],
        lab["index_name"],
        lab["index_households"],
        lab["grid_head"],
        lab["index_page"],
    )
    step = INDEX_ROW_IN * k / h
    per_col = math.ceil(len(rows) / 2)
    name_em = (cols[2] - cols[1]) * col_w * w * 72 / size - 0.5
    head_em = (cols[4] - cols[3]) * col_w * w * 72 / size - 0.3
    for c in range(2):
        chunk = rows[c * per_col : (c + 1) * per_col]
        if not chunk:
            break
        x = left + c * col_w
        _table_head(
            fig, x, col_w - 0.015, col_w, top, step, list(zip(cols, titles, strict=True)), size, k
        )
        for i, r in enumerate(chunk):
            yy = top - (i + 1) * step
            cells = (
                r.grid_id,
                fit(r.name, name_em),
                f"{r.households:,}",
                fit(r.head, head_em),
                str(r.page),
            )
            for off, cell in zip(cols, cells, strict=True):
                fig.text(x + off * col_w, yy, cell, fontsize=size, color=INK, va="center")


def _community_map(
    ax: Axes, community_id: str, geo: Geo, k: float, lang: str, colors: dict[str, str]
) -> None:
    grids = geo.grids
    mine = (
        grids[grids["community_id"].astype(str) == community_id]
        if "community_id" in grids
        else grids
    )
    comm = None
    if geo.communities is not None and "community_id" in geo.communities.columns:
        comm = geo.communities[geo.communities["community_id"].astype(str) == community_id]
    bounds = (comm if comm is not None and len(comm) else mine).total_bounds
    _frame(ax, bounds, margin=0.04)
    ax.set_facecolor("#fafafa")
    _draw(
        ax,
        _clip(grids[~grids.index.isin(mine.index)], ax),
        facecolor="#efefef",
        edgecolor="#aaaaaa",
        linewidth=0.4 * k,
        zorder=1,
    )
    fills = [colors.get(cell_text(g), PALETTE[0]) for g in mine["grid_id"]]
    mine.plot(ax=ax, color=fills, alpha=0.45, edgecolor="#333333", linewidth=0.8 * k, zorder=2)
    _draw(
        ax,
        _clip(geo.water, ax),
        facecolor="#bcdcf5",
        edgecolor="#7fb2dd",
        linewidth=0.4 * k,
        zorder=3,
    )
    if comm is not None and len(comm):
        comm.boundary.plot(ax=ax, color=INK, linewidth=1.6 * k, linestyle="--", zorder=4)
    _grid_labels(ax, mine, k)
    _scale_bar(ax, k, lang)
    ax.set_xlabel("")
    ax.set_ylabel("")


def _grid_labels(ax: Axes, grids: gpd.GeoDataFrame, k: float) -> None:
    """Each grid's code at its pole of inaccessibility, only where the label fits inside the
    grid and overlaps no label already placed (larger grids first)."""
    from shapely.ops import polylabel

    (x0, x1), _ = ax.get_xlim(), ax.get_ylim()
    pos = ax.get_position()
    metres_per_pt = (x1 - x0) / (pos.width * cast("Figure", ax.figure).get_size_inches()[0] * 72)
    size = 7.5 * k
    placed: list[Any] = []
    order = grids.assign(_a=grids.geometry.area).sort_values(
        ["_a", "grid_id"], ascending=[False, True]
    )
    for gid, geom in zip(order["grid_id"], order.geometry, strict=True):
        text = cell_text(gid)
        poly = max(getattr(geom, "geoms", [geom]), key=lambda g: g.area)
        p = polylabel(poly, tolerance=max(1.0, math.sqrt(poly.area) / 50))
        half_w = ems(text) * size * metres_per_pt / 2
        half_h = size * 0.7 * metres_per_pt
        box = shapely.box(p.x - half_w, p.y - half_h, p.x + half_w, p.y + half_h)
        if not poly.buffer(half_h * 0.3).contains(box):
            continue
        if any(box.intersects(b) for b in placed):
            continue
        placed.append(box)
        ax.text(
            p.x,
            p.y,
            text,
            ha="center",
            va="center",
            fontsize=size,
            color=INK,
            fontweight="bold",
            zorder=10,
            path_effects=_halo(k),
        )


def index_row_head(board: Board) -> str:
    """The grid head's name for the index (vacant posts left empty)."""
    return board.head.name if board.head is not None else ""
