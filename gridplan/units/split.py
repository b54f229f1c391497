"""Apartment buildings split into ten-household units: by entrance (单元), then floor band.

Step 1 of :func:`gridplan.units.form_units` (its module docstring describes the method).
Members are ``(building_id, entrance, floor_from, floor_to, households)`` tuples.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

# building_id, entrance, floor_from, floor_to, households
Member = tuple[str, int | None, int | None, int | None, int]


# --------------------------------------------------------------------------------------------
# small numeric helpers


def _even(total: int, k: int) -> list[int]:
    """``total`` split into ``k`` near-equal whole parts, larger parts first."""
    base, extra = divmod(total, k)
    return [base + 1 if i < extra else base for i in range(k)]


def _spread(total: int, n: int) -> list[int]:
    """``total`` spread over ``n`` slots as evenly as whole numbers allow (Bresenham order)."""
    return [(i + 1) * total // n - i * total // n for i in range(n)]


def _count_choice(total: int, lo: int, hi: int, target: int) -> int | None:
    """Number of near-equal parts of ``total`` that all fit ``[lo, hi]``, closest to target."""
    kmin = -(-total // hi)
    kmax = total // lo
    if total <= 0 or kmin > kmax:
        return None
    best: tuple[float, int] | None = None
    guess = total / target
    for k in {
        kmin,
        kmax,
        max(kmin, min(kmax, math.floor(guess))),
        max(kmin, min(kmax, math.ceil(guess))),
    }:
        cost = sum((p - target) ** 2 for p in _even(total, k))
        if best is None or (cost, k) < best:
            best = (cost, k)
    assert best is not None
    return best[1]


@lru_cache(maxsize=4096)
def _split_sequence(
    weights: tuple[int, ...], lo: int, hi: int, target: int
) -> tuple[tuple[int, int], ...] | None:
    """Cut a sequence into consecutive groups each within ``[lo, hi]``, closest to ``target``.

    Returns the groups as ``(start, stop)`` index pairs, or ``None`` when no cut keeps every
    group within bounds.
    """
    n = len(weights)
    inf = float("inf")
    best = [inf] * (n + 1)
    back = [-1] * (n + 1)
    best[0] = 0.0
    for i in range(n):
        if best[i] == inf:
            continue
        s = 0
        for j in range(i, n):
            s += weights[j]
            if s > hi:
                break
            if s >= lo:
                cost = best[i] + (s - target) ** 2
                if cost < best[j + 1]:
                    best[j + 1] = cost
                    back[j + 1] = i
    if best[n] == inf:
        return None
    groups = []
    j = n
    while j > 0:
        i = back[j]
        groups.append((i, j))
        j = i
    return tuple(reversed(groups))


# --------------------------------------------------------------------------------------------
# apartment buildings


@dataclass
class _Split:
    units: list[list[Member]]
    remainders: list[list[Member]]


def _slot_bands(
    counts: Sequence[int], sizes: Sequence[int], first_floor: int = 1
) -> list[tuple[int, int, int]]:
    """Assign consecutive household slots (ordered by floor) to parts of ``sizes``.

    Returns ``(floor_from, floor_to, households)`` per part; a floor is shared by two parts
    only when a part boundary falls inside it.
    """
    floor_of: list[int] = []
    for f, c in enumerate(counts):
        floor_of.extend([f + first_floor] * c)
    out = []
    pos = 0
    for size in sizes:
        if size <= 0:
            continue
        out.append((floor_of[pos], floor_of[pos + size - 1], size))
        pos += size
    return out


def _band_entrance(
    bid: str, entrance: int | None, h: int, floors: int | None, lo: int, hi: int, target: int
) -> _Split:
    """Split one entrance (or a whole building without entrances) into floor bands."""
    out = _Split([], [])
    if h <= 0:
        return out
    if floors is not None and floors > 0:
        counts = _spread(h, floors)
        groups = _split_sequence(tuple(counts), lo, hi, target)
        if groups is not None:
            for i, j in groups:
                out.units.append([(bid, entrance, i + 1, j, sum(counts[i:j]))])
            return out
        k = _count_choice(h, lo, hi, target)
        if k is not None:
            for f0, f1, s in _slot_bands(counts, _even(h, k)):
                out.units.append([(bid, entrance, f0, f1, s)])
            return out
        # bounds cannot be met (h below the minimum, or a gap in the bounds): full units from
        # the ground floor up, the top floors left over for the neighbourhood pool
        n_full = max(0, min(h // target, h // lo))
        sizes = [target] * n_full + [h - target * n_full]
        bands = _slot_bands(counts, sizes)
        for f0, f1, s in bands[:n_full]:
            out.units.append([(bid, entrance, f0, f1, s)])
        for f0, f1, s in bands[n_full:]:
            out.remainders.append([(bid, entrance, f0, f1, s)])
        return out
    k = _count_choice(h, lo, hi, target)
    if k is not None:
        out.units.extend([[(bid, entrance, None, None, s)] for s in _even(h, k)])
        return out
    n_full = max(0, min(h // target, h // lo))
    out.units.extend([[(bid, entrance, None, None, target)] for _ in range(n_full)])
    rest = h - target * n_full
    if rest > 0:
        out.remainders.append([(bid, entrance, None, None, rest)])
    return out


def split_building(
    bid: str, h: int, floors: int | None, entrances: int | None, lo: int, hi: int, target: int
) -> _Split:
    """Split a building too large for one unit by entrance, then floor band."""
    if entrances is None or entrances <= 1:
        return _band_entrance(bid, 1 if entrances == 1 else None, h, floors, lo, hi, target)
    per = _even(h, entrances)
    if min(per) >= lo:
        out = _Split([], [])
        for e, he in enumerate(per, start=1):
            part = _band_entrance(bid, e, he, floors, lo, hi, target)
            out.units.extend(part.units)
            out.remainders.extend(part.remainders)
        return out
    # entrances too small for a unit each: group consecutive whole entrances
    f_to = floors if floors is not None and floors > 0 else None
    f_from = 1 if f_to is not None else None
    rows: list[Member] = [(bid, e, f_from, f_to, he) for e, he in enumerate(per, start=1) if he]
    groups = _split_sequence(tuple(r[4] for r in rows), lo, hi, target)
    out = _Split([], [])
    if groups is not None:
        out.units.extend([rows[i:j] for i, j in groups])
        return out
    current: list[Member] = []
    s = 0
    for r in rows:
        if current and s + r[4] > hi:
            (out.units if s >= lo else out.remainders).append(current)
            current, s = [], 0
        current.append(r)
        s += r[4]
        if s >= target:
            out.units.append(current)
            current, s = [], 0
    if current:
        (out.units if s >= lo else out.remainders).append(current)
    return out


#: A part of a building held by one grid: entrance, floor_from, floor_to, households (entrance
#: or floors ``None`` when unknown).
Segment = tuple[int | None, int | None, int | None, int]


def split_segments(bid: str, segments: Sequence[Segment], lo: int, hi: int, target: int) -> _Split:
    """Split the part of a building one grid holds (entrance by entrance, its floors) into
    floor bands; a segment too small for a unit is left over for the grid's pool.

    Examples
    --------
    >>> s = split_segments("T1", [(2, 11, 20, 40), (3, 1, 1, 3)], 5, 15, 10)
    >>> s.units[0], s.remainders
    ([('T1', 2, 11, 12, 8)], [[('T1', 3, 1, 1, 3)]])
    """
    out = _Split([], [])
    for entrance, f0, f1, h in segments:
        if h <= 0:
            continue
        n_floors = f1 - f0 + 1 if f0 is not None and f1 is not None and f1 >= f0 else None
        part = _band_entrance(bid, entrance, h, n_floors, lo, hi, target)
        off = f0 - 1 if n_floors is not None and f0 is not None else 0
        for group, into in ((part.units, out.units), (part.remainders, out.remainders)):
            for u in group:
                into.append([_lift(m, off) for m in u])
    return out


def _lift(m: Member, floors: int) -> Member:
    """``m`` with its floors raised by ``floors``."""
    if not floors or m[2] is None or m[3] is None:
        return m
    return (m[0], m[1], m[2] + floors, m[3] + floors, m[4])
