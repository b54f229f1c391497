"""Write the notice boards of a plan: a PDF and a PNG per grid, covers, and the atlas.

The folder written (atomically: on an error nothing of it is left, an earlier one untouched)::

    atlas.pdf                every page: per community its cover (and index), then its grids
    pages/<grid_id>.pdf      one grid's board, ready to print
    pages/<grid_id>.png      the same page as an image (150 dpi)
    pages/cover-<community_id>.pdf / .png   a community's cover (its first page)

Pages are deterministic: the same plan gives the same bytes (no creation date in the PDFs).
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from gridplan._atomic import atomic_output_dir
from gridplan._errors import ConfigError, DataError
from gridplan._progress import Progress, tell
from gridplan.i18n import check_lang, label
from gridplan.output.boards.content import (
    Board,
    board_contents,
    duty_phones,
    staff_from_rosters,
)
from gridplan.output.boards.draw import (
    PAPERS,
    IndexRow,
    cover_pages,
    grid_page,
    index_pages,
    index_row_head,
    plan_geo,
)
from gridplan.output.fonts import CJK_FONT_ADVICE, cjk_font
from gridplan.output.planfile import MANIFEST, Plan, read_plan, update_manifest

if TYPE_CHECKING:
    from matplotlib.figure import Figure
    from matplotlib.font_manager import FontProperties

__all__ = ["print_boards", "write_boards"]

logger = logging.getLogger(__name__)

#: Resolution of the PNG pages.
PNG_DPI = 150

_PDF_META: dict[str, Any] = {"CreationDate": None, "ModDate": None, "Producer": "gridplan"}


def _safe(name: str) -> str:
    return re.sub(r"[^\w.-]+", "_", name) or "_"


def _footer(plan: Plan, lang: str) -> str:
    created = str(plan.metadata.get("created_at", "") or "")[:10]
    version = str(plan.metadata.get("gridplan_version", "") or "")
    return label("print.footer", lang, date=created or "—", version=version or "—")


def write_boards(
    plan: Plan,
    out: str | Path,
    *,
    paper: str = "A4",
    lang: str = "zh",
    people: pd.DataFrame | None = None,
    duty_phone: dict[str, str] | None = None,
    show_head_home: bool = False,
    overwrite: bool = False,
    progress: Progress | None = None,
) -> Path:
    """Write every grid's notice board (网格公示牌), the community covers and the atlas.

    Parameters
    ----------
    plan
        A plan with grids (read with :func:`gridplan.output.read_plan`, or in memory).
    out
        The folder to write (see the module docstring for what it holds).
    paper
        ``"A4"`` or ``"A3"``, portrait.
    lang
        ``"zh"`` or ``"en"``.
    people
        The dataset's ``people`` layer, for names when the plan holds none.
    duty_phone
        Grid id -> public duty phone (:func:`~gridplan.output.boards.content.duty_phones`).
    show_head_home
        Mark the grid head's home on the map (personal data: only with consent).
    overwrite
        Replace an existing ``out``.
    progress
        Progress callback (:mod:`gridplan._progress`): one step per page.

    Returns
    -------
    pathlib.Path
        ``out``.

    Raises
    ------
    ConfigError
        An unknown paper or language; Chinese asked for and no Chinese font installed.
    DataError
        The plan has no grids (or, with ``show_head_home``, no homes of people).
    OutputExistsError
        ``out`` exists and ``overwrite`` is false.

    Example
    -------
    >>> from gridplan.output import read_plan
    >>> write_boards(read_plan("demo-plan"), "demo-plan/boards")   # doctest: +SKIP
    PosixPath('demo-plan/boards')
    """
    if paper not in PAPERS:
        msg = f"print: unknown paper {paper!r}; choose one of {', '.join(PAPERS)}"
        raise ConfigError(msg)
    try:
        check_lang(lang)
    except ValueError as exc:
        raise ConfigError(f"print: {exc}") from None
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        msg = "print: the boards are drawn with matplotlib; pip install 'gridplan[charts]'"
        raise ConfigError(msg) from None
    font = cjk_font()
    if lang == "zh" and font is None:
        msg = (
            "print: no Chinese font found, so the boards would show empty boxes; "
            f"{CJK_FONT_ADVICE} (or print with --lang en)"
        )
        raise ConfigError(msg)
    boards = board_contents(
        plan, lang=lang, people=people, duty_phone=duty_phone, show_head_home=show_head_home
    )
    geo = plan_geo(plan)
    from gridplan.output.maps.make import grid_colors

    colors = grid_colors(geo.grids)
    footer = _footer(plan, lang)
    by_comm: dict[str, list[Board]] = {}
    for b in boards:
        by_comm.setdefault(b.community_id, []).append(b)
    # page numbers: per community its cover pages, then its grids
    pages: dict[str, int] = {}
    covers: dict[str, int] = {}
    n = 1
    for cid in sorted(by_comm):
        covers[cid] = n
        n += index_pages(len(by_comm[cid]), paper)
        for b in by_comm[cid]:
            pages[b.grid_id] = n
            n += 1
    total = len(boards) + len(by_comm)
    from matplotlib import rc_context
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.backends.backend_pdf import PdfPages

    out = Path(out)
    with atomic_output_dir(out, overwrite=overwrite) as tmp, rc_context({"pdf.fonttype": 42}):
        folder = tmp / "pages"
        folder.mkdir()
        done = 0
        with PdfPages(tmp / "atlas.pdf", metadata=_PDF_META) as atlas:
            for cid in sorted(by_comm):
                group = by_comm[cid]
                index = [
                    IndexRow(b.grid_id, b.name, b.households, index_row_head(b), pages[b.grid_id])
                    for b in group
                ]
                figs = cover_pages(
                    cid,
                    group[0].community_name,
                    group,
                    index,
                    geo,
                    paper=paper,
                    lang=lang,
                    first_page=covers[cid],
                    footer=footer,
                    colors=colors,
                )
                for f in figs:
                    use_font(f, font)
                _save(figs[0], folder / f"cover-{_safe(cid)}", atlas, FigureCanvasAgg)
                for extra in figs[1:]:
                    FigureCanvasAgg(extra)
                    atlas.savefig(extra)
                done += 1
                tell(progress, f"cover {cid}", done=done, total=total)
                for b in group:
                    fig = grid_page(
                        b, geo, paper=paper, lang=lang, page=pages[b.grid_id], footer=footer
                    )
                    use_font(fig, font)
                    _save(fig, folder / _safe(b.grid_id), atlas, FigureCanvasAgg)
                    done += 1
                    tell(progress, f"board {b.grid_id}", done=done, total=total)
        if not boards:  # pragma: no cover - board_contents raises first
            msg = "print: no grid to print"
            raise DataError(msg)
    logger.info("notice boards written to %s (%d grids, %d pages)", out, len(boards), n - 1)
    return out


def print_boards(
    plan_dir: str | Path,
    out: str | Path | None = None,
    *,
    dataset: str | Path | None = None,
    offset: str | None = None,
    paper: str = "A4",
    lang: str = "zh",
    duty_phone: list[str] | tuple[str, ...] = (),
    show_head_home: bool = False,
    overwrite: bool = False,
    progress: Progress | None = None,
) -> Path:
    """What ``gridplan print`` does: read a plan folder and write its notice boards.

    Names and phones come from the plan's ``people`` layer, else from ``dataset`` (the
    dataset the plan was made from), else from the plan folder's ``rosters/staff.csv``.

    Parameters
    ----------
    plan_dir
        A plan folder written by ``gridplan run``.
    out
        The folder to write; ``PLAN_DIR/boards`` by default.
    dataset
        The dataset the plan was made from (its ``people`` layer: names, phones, homes).
    offset
        The dataset's web-map offset (``gcj02``, ``bd09``), as for every command reading one.
    duty_phone
        ``PHONE`` (every grid) or ``ID=PHONE`` items
        (:func:`~gridplan.output.boards.content.duty_phones`).
    paper, lang, show_head_home, overwrite, progress
        As :func:`write_boards`.

    Returns
    -------
    pathlib.Path
        The folder written. When it lies inside ``plan_dir`` (the default), the plan's
        ``manifest.json`` is updated to list the boards (:func:`update_manifest`).
    """
    plan_dir = Path(plan_dir)
    target = Path(out) if out is not None else plan_dir / "boards"
    plan = read_plan(plan_dir)
    inside = target.resolve().is_relative_to(plan_dir.resolve())
    if inside and not (plan_dir / MANIFEST).is_file():
        msg = (
            f"print: {plan_dir} has no {MANIFEST}, so boards written into it could not be "
            "listed there; give a plan folder written by `gridplan run`, or --out outside it"
        )
        raise DataError(msg)
    duty = duty_phones(list(duty_phone), plan)
    people = None
    if "people" not in plan.layers:
        if dataset is not None:
            from gridplan.io.load import read_dataset

            people = read_dataset(dataset, offset=offset, layers=["people"]).layer("people")
            if people is None or not len(people):
                msg = (
                    f"print: {dataset} has no people layer to name the grid staff; give the "
                    "dataset the plan was made from"
                )
                raise DataError(msg)
        else:
            people = staff_from_rosters(plan_dir)
    written = write_boards(
        plan,
        target,
        paper=paper,
        lang=lang,
        people=people,
        duty_phone=duty,
        show_head_home=show_head_home,
        overwrite=overwrite,
        progress=progress,
    )
    if inside and update_manifest(plan_dir, written) is not None:
        logger.info("%s lists the boards written into the plan folder", plan_dir / MANIFEST)
    return written


def use_font(fig: Figure, font: FontProperties | None) -> None:
    """Draw every text of ``fig`` in ``font`` (its size, weight and style kept): the Chinese
    font is given to each text, matplotlib's global font settings stay untouched."""
    if font is None:
        return
    from matplotlib.text import Text

    path = font.get_file()
    if not isinstance(path, str):
        return
    for text in fig.findobj(Text):
        props = text.get_fontproperties().copy()
        props.set_file(path)
        text.set_fontproperties(props)


def _save(fig: Figure, stem: Path, atlas: Any, canvas: Any) -> None:
    canvas(fig)
    fig.savefig(stem.parent / f"{stem.name}.png", dpi=PNG_DPI, metadata={"Software": None})
    fig.savefig(stem.parent / f"{stem.name}.pdf", metadata=_PDF_META)
    atlas.savefig(fig)
