"""Scale specifications of the sample generator: the towns to lay out and the id counters.

Private to :mod:`gridplan.sample` (which re-exports :data:`SCALES`).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from gridplan._errors import ConfigError
from gridplan.sample.names import COMMUNITY_NAMES, PLACE_A, PLACE_B, RIVERS

#: Sample scales understood by :func:`gridplan.sample.generate_sample` and ``write_sample``.
SCALES: tuple[str, ...] = ("town", "city", "province")


# --------------------------------------------------------------------------------------------
# Scale specifications
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TownSpec:
    """One town (a frame of arterials holding ``n_communities`` communities)."""

    index: int  # town number (0 for town and city scales)
    lat: float
    lon: float
    width: float  # metres, west-east
    height: float  # metres, south-north
    n_communities: int
    first_community: int  # global index of its first community
    households: int  # total target households
    persons_per_household: float
    arterial_spacing: float
    old_radius: float  # old quarter extent from the old centre, metres
    slab_radius: float  # beyond this the newer districts of towers
    rail: bool
    river_half_width: float
    river_name: str
    bridges: int
    prefixed_ids: bool
    id_width: int  # digits of community ids ("C01" / "C001")
    community_names: tuple[str, ...]
    trunk_name: str = "国道G320"
    rail_name: str = "沪昆铁路"


def town_spec(scale: str, seed: int) -> TownSpec:
    if scale == "town":
        return TownSpec(
            index=0,
            lat=26.2456,
            lon=105.9322,
            width=1350.0,
            height=1050.0,
            n_communities=3,
            first_community=0,
            households=8800,
            persons_per_household=24000 / 8800,
            arterial_spacing=450.0,
            old_radius=280.0,
            slab_radius=540.0,
            rail=False,
            river_half_width=14.0,
            river_name="贯城河",
            bridges=2,
            prefixed_ids=False,
            id_width=2,
            community_names=COMMUNITY_NAMES[:3],
        )
    if scale == "city":
        return TownSpec(
            index=0,
            lat=22.9180,
            lon=110.9930,
            width=4600.0,
            height=3500.0,
            n_communities=19,
            first_community=0,
            households=70000,
            persons_per_household=190000 / 70000,
            arterial_spacing=720.0,
            old_radius=1000.0,
            slab_radius=2000.0,
            rail=True,
            river_half_width=38.0,
            river_name="义昌江",
            bridges=4,
            prefixed_ids=True,
            id_width=2,
            community_names=COMMUNITY_NAMES[:19],
            trunk_name="国道G324",
            rail_name="洛湛铁路",
        )
    msg = f"unknown sample scale {scale!r}; use one of {', '.join(SCALES)}"
    raise ConfigError(msg)


def province_specs(seed: int, n_communities: int) -> Iterator[TownSpec]:
    """Towns of 6–16 communities spread over Guizhou until ``n_communities`` are placed."""
    rng = np.random.default_rng([seed, 424242])
    width = max(3, len(str(n_communities)))
    names = [a + b + "社区" for b in PLACE_B for a in PLACE_A]
    order = rng.permutation(len(names))
    done = 0
    t = 0
    while done < n_communities:
        k = min(n_communities - done, int(rng.integers(6, 17)))
        area = k * rng.uniform(0.85, 1.15) * 1.0e6
        aspect = rng.uniform(1.1, 1.5)
        w = math.sqrt(area * aspect)
        row, col = divmod(t, 8)
        lat = 25.1 + 0.45 * (row % 8) + rng.uniform(-0.1, 0.1)
        lon = 104.7 + 0.5 * col + rng.uniform(-0.12, 0.12)
        hh = int(k * rng.integers(3300, 4300))
        cnames = tuple(names[order[(done + i) % len(names)]] for i in range(k))
        if done + k > len(names):  # more communities than distinct names: number the repeats
            cnames = tuple(
                f"{n}{(done + i) // len(names) + 1}" if done + i >= len(names) else n
                for i, n in enumerate(cnames)
            )
        yield TownSpec(
            index=t,
            lat=lat,
            lon=lon,
            width=w,
            height=area / w,
            n_communities=k,
            first_community=done,
            households=hh,
            persons_per_household=float(rng.uniform(2.6, 2.9)),
            arterial_spacing=float(rng.uniform(560.0, 720.0)),
            old_radius=float(rng.uniform(350.0, 650.0)),
            slab_radius=float(rng.uniform(900, 1500)),
            rail=bool(rng.random() < 0.3),
            river_half_width=float(rng.uniform(12.0, 35.0)),
            river_name=RIVERS[int(rng.integers(len(RIVERS)))],
            bridges=int(rng.integers(2, 4)),
            prefixed_ids=True,
            id_width=width,
            community_names=cnames,
            trunk_name=("国道G320", "国道G321", "国道G210", "国道G326")[t % 4],
            rail_name=("沪昆铁路", "贵广铁路", "川黔铁路")[t % 3],
        )
        done += k
        t += 1


# --------------------------------------------------------------------------------------------
# Id counters
# --------------------------------------------------------------------------------------------


@dataclass
class Counters:
    """Running id numbers (global for the town scale, per community otherwise)."""

    building: int = 0
    compound: int = 0
    person: int = 0
    facility: int = 0
    site: int = 0
