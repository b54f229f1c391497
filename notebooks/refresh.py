"""Run every notebook here top to bottom and store it with its outputs (``make notebooks``).

Each notebook runs in a fresh temporary folder (the files it writes, such as ``map.html``,
are not kept) and is written back only when every cell ran without an error; the file is
replaced atomically. Outputs are kept small for a reader on GitHub: an output larger than
:data:`MAX_OUTPUT_BYTES` (a whole interactive map, say) stops the refresh with the cell named,
so the notebook is changed to show a table's first rows or a static figure instead.

Usage: ``python notebooks/refresh.py [NOTEBOOK ...]`` (default: every ``*.ipynb`` here).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

import nbclient
import nbformat

HERE = Path(__file__).resolve().parent

#: The largest output a stored cell may hold (a PNG figure of the town is about 40 kB).
MAX_OUTPUT_BYTES = 120_000
#: Seconds a cell may run.
CELL_TIMEOUT_S = 600


def _size(output: dict) -> int:
    return len(json.dumps(output, ensure_ascii=False))


def refresh(path: Path) -> None:
    """Execute ``path`` in a temporary folder and store it with its outputs."""
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    with tempfile.TemporaryDirectory() as work:
        client = nbclient.NotebookClient(
            nb,
            timeout=CELL_TIMEOUT_S,
            kernel_name="python3",
            resources={"metadata": {"path": work}},
        )
        client.execute()  # raises CellExecutionError naming the cell on an error
    for n, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{n:02d}"  # stable ids: a refresh changes only what changed
        cell.metadata.pop("execution", None)  # timings: every refresh would differ
        if cell.cell_type != "code":
            continue
        for output in cell.outputs:
            if _size(output) > MAX_OUTPUT_BYTES:
                msg = (
                    f"{path.name}, cell {n}: an output of {_size(output):,} bytes (more than "
                    f"{MAX_OUTPUT_BYTES:,}); show a table's first rows or a static figure"
                )
                raise SystemExit(msg)
    nb.metadata.pop("widgets", None)
    tmp = path.with_name(f".{path.name}.tmp")
    nbformat.write(nb, tmp)
    os.replace(tmp, path)
    print(f"refreshed {path.relative_to(HERE.parent)}")


def main(argv: list[str]) -> int:
    paths = [Path(a).resolve() for a in argv] or sorted(HERE.glob("*.ipynb"))
    for path in paths:
        refresh(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
