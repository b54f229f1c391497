"""How many posts of a role could be filled at most, and why each vacant one is vacant (private).

The staffing stages of :mod:`gridplan.staffing.assign` fill the hierarchy one role after the
other, so a post can stay empty for three different reasons, and the report must say the true one:

* **out of reach**: no one eligible for it (role, party, distance, home) at all;
* **same role**: people are eligible, but every arrangement of this role's people fills at
  most as many posts as were filled: the role is short there, another person must be found;
* **higher post**: the post could be filled if people who hold a more important post (taken
  in an earlier stage) were free.

The bound is the maximum matching of the role's eligibility graph *ignoring every other role*,
computed by SciPy's Hopcroft–Karp (:func:`scipy.sparse.csgraph.maximum_bipartite_matching`),
independently of the OR-Tools flows that make the plan. Which vacant posts are blamed on a
higher post is read from a second, OR-Tools max-cardinality matching on the same graph that
keeps every post already filled (cost 0 on filled posts, 1 on vacant ones): it extends the plan
by exactly ``possible - filled`` posts, each reached through an alternating chain that ends at
a person holding a more important post (or, for a matching cut by a party share, at a person
left out for it). The two matchings must agree on the size; when they do not, a warning names
the role and the reasons fall back to the same-role wording.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import maximum_bipartite_matching, maximum_flow

from gridplan.staffing.flows import solve_matching

__all__ = ["PostCheck", "check_matching_posts", "matching_bound", "worker_bound"]

log = logging.getLogger(__name__)

OUT_OF_REACH = "out_of_reach"
SAME_ROLE = "same_role"
HIGHER_POST = "higher_post"
OTHER = "other"  # left out by a side constraint (party share)


@dataclass
class PostCheck:
    """Filled against possible for one role, and the kind of each vacant post."""

    posts: int
    filled: int
    possible: int
    bound: str  # "exact" (maximum matching) or "upper" (relaxation)
    kind: dict[int, str] = field(default_factory=dict)  # vacant target -> kind
    blamed: dict[int, int] = field(default_factory=dict)  # vacant target -> person

    def counts(self) -> dict[str, Any]:
        """The figures for the staffing metrics (JSON-serialisable)."""
        kinds = list(self.kind.values())
        return {
            "posts": self.posts,
            "filled": self.filled,
            "possible": self.possible,
            "bound": self.bound,
            "vacant": self.posts - self.filled,
            "vacant_higher_post": kinds.count(HIGHER_POST),
            "vacant_same_role": kinds.count(SAME_ROLE),
            "vacant_out_of_reach": kinds.count(OUT_OF_REACH),
            "vacant_other": kinds.count(OTHER),
        }


def matching_bound(n_targets: int, n_people: int, pt: np.ndarray, pp: np.ndarray) -> int:
    """Maximum matching size of the bipartite graph targets x people (SciPy Hopcroft–Karp)."""
    if n_targets == 0 or n_people == 0 or len(pt) == 0:
        return 0
    graph = csr_matrix(
        (np.ones(len(pt), dtype=np.int8), (np.asarray(pt), np.asarray(pp))),
        shape=(n_targets, n_people),
    )
    graph.sum_duplicates()
    row = maximum_bipartite_matching(graph, perm_type="column")
    return int((row >= 0).sum())


def check_matching_posts(
    problem: str,
    n_targets: int,
    n_people: int,
    pt: np.ndarray,
    pp: np.ndarray,
    match: np.ndarray,
    free: np.ndarray,
) -> PostCheck:
    """Filled against possible for a one-person-per-post role, and why each vacancy is empty.

    Parameters
    ----------
    problem
        Name for warnings (``unit_heads`` ...).
    n_targets, n_people
        Sizes.
    pt, pp
        The role's eligibility pairs ignoring every other role (posts held do not matter).
    match
        Person per target chosen by the stage, ``-1`` when vacant.
    free
        Bool per person: could take this role in the stage (holds no more important post).
    """
    pt = np.asarray(pt, dtype=np.int64)
    pp = np.asarray(pp, dtype=np.int64)
    match = np.asarray(match, dtype=np.int64)
    filled = int((match >= 0).sum())
    possible = matching_bound(n_targets, n_people, pt, pp)
    check = PostCheck(n_targets, filled, possible, "exact")
    reachable = np.zeros(n_targets, dtype=bool)
    reachable[pt] = True
    vacant = np.flatnonzero(match < 0)
    for t in vacant.tolist():
        check.kind[t] = SAME_ROLE if reachable[t] else OUT_OF_REACH
    if filled > possible:
        log.warning(
            "%s: %d posts filled but the maximum matching is %d; the bound is wrong, "
            "vacancy reasons keep the same-role wording",
            problem,
            filled,
            possible,
        )
        return check
    if filled == possible or not len(vacant):
        return check
    # a maximum matching on the whole graph that keeps every post already filled
    cost = np.where(match[pt] >= 0, 0, 1).astype(np.int64)
    star, _ = solve_matching(f"{problem} (bound)", n_targets, n_people, pt, pp, cost)
    kept = bool(np.all(star[match >= 0] >= 0))
    if int((star >= 0).sum()) != possible or not kept:
        log.warning(
            "%s: the bound's matchings disagree (SciPy %d, OR-Tools %d, filled posts kept: %s); "
            "vacancy reasons keep the same-role wording",
            problem,
            possible,
            int((star >= 0).sum()),
            kept,
        )
        return check
    post_of = {int(i): t for t, i in enumerate(match.tolist()) if i >= 0}
    for t in vacant.tolist():
        j = int(star[t])
        if j < 0:
            continue
        steps = 0
        while j in post_of and steps <= n_targets:  # follow the chain to its free end
            j = int(star[post_of[j]])
            steps += 1
        if j < 0 or steps > n_targets:
            log.warning("%s: broken alternating chain from target %d", problem, t)
            continue
        check.kind[t] = OTHER if free[j] else HIGHER_POST
        check.blamed[t] = j
    return check


def worker_bound(
    n_grids: int,
    pairs: tuple[np.ndarray, np.ndarray],
    grids_each: np.ndarray,
) -> int:
    """Most grids that can get a worker: max flow with ``grids_each[w]`` grids per worker.

    An upper bound: a full-time worker's grids must also be adjacent, which this ignores.
    """
    pw, pg = (np.asarray(a, dtype=np.int64) for a in pairs)
    if n_grids == 0 or len(pw) == 0:
        return 0
    workers, local = np.unique(pw, return_inverse=True)
    n_w = len(workers)
    source, sink = 0, 1 + n_w + n_grids
    tails = np.concatenate([np.zeros(n_w, np.int64), 1 + local, 1 + n_w + np.arange(n_grids)])
    heads = np.concatenate(
        [1 + np.arange(n_w), 1 + n_w + pg, np.full(n_grids, sink, dtype=np.int64)]
    )
    caps = np.concatenate(
        [
            np.maximum(np.asarray(grids_each, dtype=np.int64)[workers], 0),
            np.ones(len(pw), np.int64),
            np.ones(n_grids, np.int64),
        ]
    ).astype(np.int32)
    graph = csr_matrix((caps, (tails, heads)), shape=(sink + 1, sink + 1))
    graph.sum_duplicates()
    return int(maximum_flow(graph, source, sink).flow_value)
