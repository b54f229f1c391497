"""The roster of the sample generator: cadres, grid workers, unit heads, volunteers.

Private to :mod:`gridplan.sample`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from gridplan.sample.names import GIVEN, PHONE_PREFIXES, PHONE_WEIGHTS, SKILLS, SURNAMES
from gridplan.sample.spec import Counters

_SURNAME_P = 1.0 / (np.arange(len(SURNAMES)) + 6.0)
_SURNAME_P = _SURNAME_P / _SURNAME_P.sum()  # common surnames first (a Zipf-like spread)
_PHONE_P = PHONE_WEIGHTS / PHONE_WEIGHTS.sum()


def _person_name(rng: np.random.Generator) -> str:
    s = SURNAMES[int(rng.choice(len(SURNAMES), p=_SURNAME_P))]
    n = 1 if rng.random() < 0.35 else 2
    return s + "".join(GIVEN[int(i)] for i in rng.integers(len(GIVEN), size=n))


def _people(
    rows: list[dict[str, Any]],
    rng: np.random.Generator,
    prefix: str,
    wide: bool,
    counters: Counters,
    comm: dict[str, Any],
) -> list[dict[str, Any]]:
    """The roster: cadres, grid workers, grid-head candidates, unit-head candidates, volunteers."""
    homes = [r for r in rows if r["_hh"] > 0 and r["use"] != "non_residential"]
    if not homes:
        return []
    hh = np.array([r["_hh"] for r in homes], dtype=float)
    total = int(hh.sum())
    weights = hh / hh.sum()
    phones: set[str] = set()
    people: list[dict[str, Any]] = []

    def phone() -> str:
        while True:
            p = str(PHONE_PREFIXES[int(rng.choice(len(PHONE_PREFIXES), p=_PHONE_P))])
            p += "".join(str(int(d)) for d in rng.integers(0, 10, size=8))
            if p not in phones:
                phones.add(p)
                return p

    def add(
        home: str,
        roles: str,
        party_p: float,
        full_time: bool = False,
        skills: str | None = None,
        capacity: int | None = None,
    ) -> None:
        counters.person += 1
        people.append(
            {
                "person_id": f"{prefix}P{counters.person:0{5 if wide else 4}d}",
                "building_id": home,
                "name": _person_name(rng),
                "party_member": bool(rng.random() < party_p),
                "roles": roles,
                "full_time": full_time,
                "skills": skills,
                "capacity_households": capacity,
                "phone": phone() if rng.random() < 0.93 else None,
            }
        )

    def home() -> str:
        return str(homes[int(rng.choice(len(homes), p=weights))]["building_id"])

    def skill_list(k_max: int) -> str | None:
        k = int(rng.integers(0, k_max + 1))
        if k == 0:
            return None
        return ";".join(sorted(rng.choice(SKILLS, size=k, replace=False).tolist()))

    grids = max(1, math.ceil(total / 400))
    n_cadres = 5 + total // 1500
    for _ in range(n_cadres):  # community cadres (社区两委): salaried, head or work a grid
        add(home(), "grid_head;grid_worker", 0.9, True, "mediation" if rng.random() < 0.4 else None)
    for _ in range(max(1, math.ceil(total / 450))):  # full-time grid workers (专职网格员)
        add(
            home(),
            "grid_worker",
            0.55,
            True,
            skill_list(1),
            int(rng.choice([400, 450, 500, 550, 600])),
        )
    for _ in range(max(2, math.ceil(1.4 * grids) - n_cadres)):  # party backbone, retired cadres
        add(
            home(),
            str(rng.choice(["grid_head", "grid_head;volunteer"])),
            0.85,
            False,
            skill_list(2),
        )
    for _ in range(math.ceil(total / 300)):  # part-time grid workers (兼职网格员)
        add(
            home(),
            str(rng.choice(["grid_worker", "grid_worker;volunteer"])),
            0.5,
            False,
            skill_list(2),
            int(rng.choice([100, 150, 200, 250, 300])),
        )
    # unit-head candidates (联户长): about one per 9 households, living where they serve; one
    # compound in every third community has none (a deliberate vacancy to be reported)
    comps = sorted({r["compound"] for r in homes if r["compound"]})
    vacant = None
    if comps and comm["index"] % 3 == 1:
        sizes = {c: sum(r["_hh"] for r in homes if r["compound"] == c) for c in comps}
        vacant = min(comps, key=lambda c: (sizes[c] < 60, sizes[c], c))
    # (spread systematically: one every 7-11 households along the buildings in id order,
    # which follows the blocks, so nearly every group of ten neighbours has one)
    pos = float(rng.uniform(0.0, 9.0))
    cum = 0.0
    for r in homes:
        end = cum + r["_hh"]
        while pos < end:
            if r["compound"] is None or r["compound"] != vacant:
                add(
                    str(r["building_id"]),
                    "unit_head" if rng.random() < 0.8 else "unit_head;volunteer",
                    0.33,
                    False,
                    skill_list(1) if rng.random() < 0.3 else None,
                )
            pos += float(rng.uniform(7.0, 11.0))
        cum = end
    for _ in range(math.ceil(total / 35)):  # volunteers, 在职党员双报到
        add(
            home(),
            "volunteer",
            0.45,
            False,
            skill_list(2) or str(rng.choice(SKILLS)),
            int(rng.choice([10, 20, 30])) if rng.random() < 0.3 else None,
        )
    return people
