"""Time the sample generator (``gridplan sample --scale city``) and reading it back.

Run with ``.venv/bin/python benchmarks/bench_sample.py`` (``--repeat N`` to change the number
of runs; the median is reported). Writes ``benchmarks/results/sample.md``.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import geopandas as gpd
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import WORK_DIR, table, timed, write_section

from gridplan.sample.generate import write_sample


def _counts(folder: Path) -> dict[str, int]:
    b = gpd.read_file(folder / "buildings.geojson")
    c = gpd.read_file(folder / "communities.geojson")
    people = pd.read_csv(folder / "people.csv", dtype=str)
    facilities = gpd.read_file(folder / "facilities.geojson")
    return {
        "communities": len(c),
        "buildings": len(b),
        "households (census)": int(c["households_total"].sum()),
        "residents (census)": int(c["population_total"].sum()),
        "households without a count": int(b["households"].isna().sum()),
        "people": len(people),
        "facilities": len(facilities),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--scale", default="city")
    args = parser.parse_args()

    WORK_DIR.mkdir(parents=True, exist_ok=True)
    out = WORK_DIR / f"sample-{args.scale}"
    gen_s, _ = timed(
        lambda: write_sample(out, args.scale, seed=0, overwrite=True), repeat=args.repeat
    )
    size_mb = sum(p.stat().st_size for p in out.iterdir()) / 1e6
    rows = [[f"`write_sample(scale={args.scale!r})`", gen_s, f"{size_mb:.1f} MB on disk"]]

    import gridplan.io.load

    load = getattr(gridplan.io, "load_dataset", None)  # the reader may not be there yet
    if load is not None:
        read_s, ds = timed(lambda: load(out), repeat=args.repeat)
        rows.append(
            [
                "`gridplan.io.load_dataset` (read + validate + prepare)",
                read_s,
                f"{len(ds.warnings)} warnings",
            ]
        )
        rows.append(["ratio read / generate", read_s / gen_s, ""])

    counts = _counts(out)
    body = (
        f"Median of {args.repeat} runs, seconds.\n\n"
        + table(["step", "median s", "note"], rows)
        + "\n\nWhat the sample holds:\n\n"
        + table(["layer / figure", "count"], [[k, v] for k, v in counts.items()])
    )
    path = write_section(
        "sample",
        f"Sample generator ({args.scale})",
        body,
        command="make bench (or .venv/bin/python benchmarks/bench_sample.py)",
    )
    print(path.read_text(encoding="utf-8"))
    shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
