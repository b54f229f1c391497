"""The full-time worker model: proven min-max load, reported bound and gap, fallback."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gridplan.staffing.clusters as clusters_mod
from gridplan.staffing.clusters import enumerate_clusters
from gridplan.staffing.full_time import solve_full_time

LOAD_GOAL = "heaviest full-time load (permille of capacity)"


def line_neighbours(n: int) -> list[list[int]]:
    return [[j for j in (i - 1, i + 1) if 0 <= j < n] for i in range(n)]


def instance(
    hh: list[int], caps: list[int], reach: list[list[int]], *, party: list[bool] | None = None
) -> dict[str, Any]:
    """Grids on a line; worker ``w`` reaches the grids ``reach[w]`` it has room for."""
    fw, fg, fd = [], [], []
    for w, grids in enumerate(reach):
        for g in grids:
            if hh[g] <= caps[w]:
                fw.append(w)
                fg.append(g)
                fd.append(100 * abs(g - w) + 7 * w + g)
    return {
        "grid_households": np.array(hh),
        "grid_neighbours": line_neighbours(len(hh)),
        "pairs": (np.array(fw), np.array(fg), np.array(fd)),
        "capacity": np.array(caps),
        "party": np.array(party if party is not None else [False] * len(caps)),
        "orphan": np.zeros(len(hh), dtype=bool),
    }


def brute_force(inst: dict[str, Any]) -> tuple[int, int]:
    """(households covered, heaviest load in permille) of the lexicographic optimum."""
    hh = [int(h) for h in inst["grid_households"]]
    nb = inst["grid_neighbours"]
    fw, fg, _ = inst["pairs"]
    caps = [int(c) for c in inst["capacity"]]
    options: list[list[tuple[frozenset[int], int]]] = []
    for w in range(len(caps)):
        near = sorted(int(g) for g in fg[fw == w])
        opts: list[tuple[frozenset[int], int]] = [(frozenset(), 0)]
        for r in range(1, len(near) + 1):
            for sub in itertools.combinations(near, r):
                total = sum(hh[g] for g in sub)
                based = any(all(g == b or g in nb[b] for g in sub) for b in sub)
                if total <= caps[w] and based:
                    opts.append((frozenset(sub), -(-1000 * total // caps[w])))
        options.append(opts)
    best = (-1, 0)
    for combo in itertools.product(*options):
        sets = [s for s, _ in combo]
        union = frozenset().union(*sets)
        if len(union) != sum(len(s) for s in sets):
            continue
        key = (sum(hh[g] for g in union), -max(load for _, load in combo))
        best = max(best, key)
    return best[0], -best[1]


def load_stage(stages: list[dict[str, Any]]) -> dict[str, Any]:
    return next(s for s in stages if s["goal"] == LOAD_GOAL)


def check_pairs(inst: dict[str, Any], pairs: list[tuple[int, int]]) -> tuple[int, int]:
    """Every constraint of a solution; returns (households covered, heaviest load)."""
    hh = inst["grid_households"]
    nb = inst["grid_neighbours"]
    allowed = set(zip(*(a.tolist() for a in inst["pairs"][:2]), strict=True))
    grids = [g for _, g in pairs]
    assert len(grids) == len(set(grids))  # a grid has at most one full-time worker
    by_worker: dict[int, list[int]] = {}
    for w, g in pairs:
        assert (w, g) in allowed
        by_worker.setdefault(w, []).append(g)
    heaviest = 0
    for w, gs in by_worker.items():
        total = int(hh[gs].sum())
        assert total <= inst["capacity"][w]
        assert any(all(g == b or g in nb[b] for g in gs) for b in gs)  # one base grid
        heaviest = max(heaviest, -(-1000 * total // int(inst["capacity"][w])))
    return int(hh[grids].sum()) if grids else 0, heaviest


def contended() -> dict[str, Any]:
    # Eight grids, five workers: the two big workers must share the small grids well.
    hh = [300, 280, 260, 310, 290, 270, 250, 240]
    caps = [900, 900, 600, 320, 300]
    reach = [[0, 1, 2, 3, 4], [3, 4, 5, 6, 7], [1, 2, 5, 6], [0, 3, 7], [4, 5, 7]]
    return instance(hh, caps, reach)


def test_contended_instance_reaches_proven_optimum_and_reports_bound() -> None:
    inst = contended()
    pairs, stages = solve_full_time(**inst, time_limit=10.0, seed=0)
    stage = load_stage(stages)
    assert stage["status"] == "OPTIMAL"
    assert {"objective", "bound", "gap", "time_s"} <= set(stage)
    assert stage["bound"] == stage["objective"]
    assert stage["gap"] == 0.0
    cover, heaviest = check_pairs(inst, pairs)
    assert (cover, heaviest) == brute_force(inst)
    assert stage["objective"] == heaviest
    assert len({w for w, _ in pairs}) < len(pairs)  # some worker does take adjacent grids


def test_pair_model_fallback_agrees_and_reports_bound() -> None:
    inst = contended()
    pairs, stages = solve_full_time(**inst, time_limit=10.0, seed=0, max_clusters=0)
    stage = load_stage(stages)
    assert stage["bound"] is not None
    assert stage["bound"] <= stage["objective"]
    assert stage["gap"] == round(
        (stage["objective"] - stage["bound"]) / max(stage["objective"], 1), 6
    )
    assert stage["status"] == "OPTIMAL"  # tiny: the pair model proves it too
    assert check_pairs(inst, pairs) == brute_force(inst)


def test_deterministic() -> None:
    inst = contended()
    a = solve_full_time(**inst, time_limit=5.0, seed=3)
    b = solve_full_time(**inst, time_limit=5.0, seed=3)
    assert a[0] == b[0]
    assert [s["objective"] for s in a[1]] == [s["objective"] for s in b[1]]


def test_party_share_is_kept() -> None:
    inst = contended()
    inst["party"] = np.array([False, False, True, True, False])
    pairs, stages = solve_full_time(
        **inst, heads_party=0, heads_total=0, min_party_share=0.5, time_limit=10.0
    )
    used = {w for w, _ in pairs}
    assert used
    assert 2 * sum(bool(inst["party"][w]) for w in used) >= len(used)
    check_pairs(inst, pairs)
    assert all(s["objective"] is not None for s in stages)


@pytest.mark.parametrize("max_clusters", [200_000, 0])  # cluster model, then pair model
def test_party_share_counts_a_head_who_also_works_once(max_clusters: int) -> None:
    # Two full-time workers on four grids, each with room for two: worker 1 (party) is
    # already a grid head, the other head (not a worker) is not a party member. Heads 1 of 2;
    # taking worker 0 (not party) too would make 1 party member of 3 people, not 2 of 4.
    inst = instance([100, 100, 100, 100], [250, 250], [[0, 1, 2, 3], [0, 1, 2, 3]])
    inst["party"] = np.array([False, True])
    counted = np.array([False, True])
    pairs, _ = solve_full_time(
        **inst,
        heads_party=1,
        heads_total=2,
        min_party_share=0.5,
        counted=counted,
        time_limit=10.0,
        max_clusters=max_clusters,
    )
    check_pairs(inst, pairs)
    assert {w for w, _ in pairs} == {1}  # worker 0 would break the share
    assert len(pairs) == 2  # worker 1 still covers what they can
    # without heads counted twice the same call may take both
    pairs, _ = solve_full_time(
        **inst, min_party_share=0.5, time_limit=10.0, max_clusters=max_clusters
    )
    assert {w for w, _ in pairs} == {0, 1}


def test_cluster_listing_stops_at_limit() -> None:
    inst = contended()
    fw, fg, fd = inst["pairs"]
    args = (
        [int(h) for h in inst["grid_households"]],
        inst["grid_neighbours"],
        fw,
        fg,
        fd,
        inst["capacity"],
        inst["grid_households"],
    )
    full = enumerate_clusters(*args)
    assert full is not None
    assert len(full.worker) > len(fw)  # more clusters than single grids
    assert set(zip(fw.tolist(), fg.tolist(), strict=True)) <= {
        (int(w), s[0]) for w, s in zip(full.worker, full.grids, strict=True) if len(s) == 1
    }
    assert enumerate_clusters(*args, limit=len(full.worker) - 1) is None


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
)
@given(
    hh=st.lists(st.integers(50, 200), min_size=2, max_size=6),
    workers=st.lists(
        st.tuples(st.integers(100, 450), st.lists(st.integers(0, 5), max_size=4)),
        min_size=1,
        max_size=4,
    ),
)
def test_random_instances_match_brute_force(
    hh: list[int], workers: list[tuple[int, list[int]]]
) -> None:
    reach = [sorted({g % len(hh) for g in gs}) for _, gs in workers]
    inst = instance(hh, [c for c, _ in workers], reach)
    pairs, stages = solve_full_time(**inst, time_limit=5.0, seed=0)
    got = check_pairs(inst, pairs)
    want = brute_force(inst)
    assert got[0] == want[0]
    if any(s["goal"] == LOAD_GOAL for s in stages):
        stage = load_stage(stages)
        assert stage["status"] == "OPTIMAL"
        assert stage["objective"] == got[1] == want[1]


def test_integer_probes_bisect_when_relaxation_is_weak(monkeypatch: pytest.MonkeyPatch) -> None:
    # Pretend the relaxation proves nothing: the integer probes alone must find the optimum,
    # refuting the lighter levels on the way.
    real = clusters_mod._packing
    answers: list[str] = []

    def weak(*args: Any, integer: bool, **kw: Any) -> tuple[str, list[int]]:
        if not integer:
            return "FEASIBLE", []
        out = real(*args, integer=integer, **kw)
        answers.append(out[0])
        return out

    monkeypatch.setattr(clusters_mod, "_packing", weak)
    inst = contended()
    pairs, stages = solve_full_time(**inst, time_limit=10.0, seed=0)
    assert "INFEASIBLE" in answers
    stage = load_stage(stages)
    assert stage["status"] == "OPTIMAL"
    assert check_pairs(inst, pairs) == brute_force(inst)


def test_tiny_time_limit_still_returns_a_valid_plan() -> None:
    inst = contended()
    pairs, stages = solve_full_time(**inst, time_limit=0.0, seed=0)
    check_pairs(inst, pairs)
    stage = load_stage(stages)
    assert stage["status"] in {"OPTIMAL", "FEASIBLE"}
    assert stage["bound"] <= stage["objective"]
