"""Shared helpers for the benchmark scripts.

Each script measures gridplan side by side with its peers in one run and writes its own
section to ``benchmarks/results/<name>.md``; ``benchmarks/run_all.py`` joins the sections
into ``benchmarks/RESULTS.md``. This machine is noisy: report medians and ratios.
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS_DIR = HERE / "results"
WORK_DIR = HERE / "_work"  # scratch space for generated samples (git-ignored)

#: Debian's headless Chromium, and the flags that keep it off the (closed) network.
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS: list[str] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def machine() -> str:
    """One line describing the machine the figures were measured on."""
    cores = os.cpu_count()
    py = platform.python_version()
    return f"{platform.system()} {platform.machine()}, {cores} cores, Python {py}"


def timed(fn: Callable[[], Any], *, repeat: int = 3) -> tuple[float, Any]:
    """Run ``fn`` ``repeat`` times; return the median wall time in seconds and the last result."""
    times = []
    result = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def table(headers: list[str], rows: list[list[Any]]) -> str:
    """A Markdown table."""

    def fmt(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:.3g}" if abs(v) < 1000 else f"{v:,.0f}"
        return str(v)

    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def write_section(name: str, title: str, body: str, *, command: str) -> Path:
    """Write one benchmark's section (title, date, machine, reproducing command, body)."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    text = (
        f"## {title}\n\n"
        f"Measured {stamp} on {machine()}. Reproduce with `{command}`.\n\n{body.strip()}\n"
    )
    path = RESULTS_DIR / f"{name}.md"
    path.write_text(text, encoding="utf-8")
    return path
