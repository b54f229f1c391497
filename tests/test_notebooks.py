"""The notebooks run top to bottom, and are stored executed, with small outputs (refreshed by
``make notebooks``: notebooks/refresh.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks():
    names = {p.stem for p in NOTEBOOKS}
    assert {"01_quickstart", "02_coverage_and_siting", "03_replan"} <= names


#: The largest output a stored cell may hold, and the largest stored notebook.
MAX_OUTPUT_BYTES = 120_000
MAX_NOTEBOOK_BYTES = 250_000


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_stored_executed_with_small_outputs(path):
    """A reader on GitHub sees the results: every code cell ran, in order, without an error;
    tables and static figures, never a whole interactive map."""
    import json

    assert path.stat().st_size <= MAX_NOTEBOOK_BYTES, path.name
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code
    assert [c.execution_count for c in code] == list(range(1, len(code) + 1)), path.name
    assert any(c.outputs for c in code)
    for cell in code:
        for out in cell.outputs:
            assert out.get("output_type") != "error", (path.name, cell.source[:60])
            assert len(json.dumps(out)) <= MAX_OUTPUT_BYTES, (path.name, cell.source[:60])
            html = "".join(out.get("data", {}).get("text/html", ""))
            assert "leaflet" not in html.lower(), (path.name, "a folium map stored")
        assert "execution" not in cell.metadata  # no timings: a refresh changes only results
    text = path.read_text(encoding="utf-8")
    assert "gridplan.bundled_town()" in text and "gridplan.run import bundled_town" not in text
    assert str(Path.home()) not in text and "/work/" not in text  # no local paths stored


def test_make_target_refreshes_the_notebooks():
    root = Path(__file__).resolve().parent.parent
    makefile = (root / "Makefile").read_text(encoding="utf-8")
    assert "\nnotebooks:" in makefile and "notebooks/refresh.py" in makefile


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs(path, town_path, tmp_path):
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()
    errors = [
        o
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
        if o.get("output_type") == "error"
    ]
    assert not errors
