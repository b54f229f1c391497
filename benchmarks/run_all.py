"""Join the per-benchmark sections in ``benchmarks/results/`` into ``benchmarks/RESULTS.md``.

Run a single benchmark with ``python benchmarks/bench_<name>.py``; run them all with
``make bench``.
"""

from __future__ import annotations

from _common import HERE, RESULTS_DIR

ORDER = [
    "sample",
    "partition",
    "communities",
    "units",
    "coverage",
    "coverage_cli",
    "isochrones",
    "siting",
    "siting_set_cover",
    "assign",
    "maps",
    "realdata",
    "use",
    "scale",
    "postgis",
    "speed",
]


def main() -> None:
    sections = {p.stem: p.read_text(encoding="utf-8") for p in RESULTS_DIR.glob("*.md")}
    names = [n for n in ORDER if n in sections] + sorted(set(sections) - set(ORDER))
    head = (
        "# gridplan benchmarks\n\n"
        "Every figure below was measured by the script named in its section, gridplan and its\n"
        "peers side by side in one run. The machine is shared and noisy: read ratios and\n"
        "medians.\n\n"
    )
    (HERE / "RESULTS.md").write_text(head + "\n".join(sections[n] for n in names), encoding="utf-8")


if __name__ == "__main__":
    main()
