"""Minimal change for re-drawn communities: move only the residents the bounds force out.

A graph algorithm, no geometry: nodes (buildings, or whole grids) with residents, adjacency
that never crosses a barrier, and each node's old community. Old communities within the
bounds stay as they are unless they take in residents from an over-full neighbour.

- An **over-full** community (above ``high``) gives its excess to neighbours with room: its
  boundary nodes are peeled off one at a time, each to the neighbour it shares most boundary
  with, while the community stays connected and the neighbour stays within ``high``; so about
  ``residents - high`` residents move. When its neighbours lack the room (or the peel gets
  stuck) a new community is carved off instead: grown from one end of the community (the one
  giving the shorter cut) until it holds ``max(low, excess)`` residents, so the old community
  keeps the largest part the bounds allow.
- An **under-full** community (below ``low``) takes residents from neighbours that can spare
  them, or, when that moves more, joins a neighbour with room whole.
- A community out of bounds whose nodes lie behind several barriers is first cut along them:
  the largest piece keeps the community, the others become communities of their own (and are
  then relieved as any other).

Communities in ``pinned`` (old communities within the bounds that straddle a barrier) never
give residents (nor pass them on in a chain), so they are never cut; they may take in residents
from an over-full neighbour behind the same barriers. :func:`relieve` returns the new label of
each node: the old labels where kept, new labels ``n_old, n_old + 1, …`` for carved pieces.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from gridplan.adjacency import connected_components
from gridplan.partition.regions import choose_count
from gridplan.partition.search import partition_face

__all__ = ["Relief", "relieve"]


@dataclass
class Relief:
    """The outcome of :func:`relieve`.

    Attributes
    ----------
    labels
        New community label of each node (old labels kept, carved pieces numbered on).
    parent
        For each label at or above ``n_old``: the old label it was carved from.
    notes
        One sentence per change: ``(old label, text)`` with labels as ``{L<label>}``
        placeholders for the caller to replace with ids.
    """

    labels: np.ndarray
    parent: dict[int, int] = field(default_factory=dict)
    notes: list[tuple[int, str]] = field(default_factory=list)


_CHAIN = 2  # an over-full community may pass its excess through this many neighbours


class _State:
    def __init__(
        self,
        w: np.ndarray,
        adj: Sequence[Sequence[int]],
        length: Sequence[Sequence[float]],
        labels: np.ndarray,
    ) -> None:
        self.w = [int(x) for x in w]
        self.adj = adj
        self.length = length
        self.lab = [int(x) for x in labels]
        n_lab = max(self.lab, default=-1) + 1
        self.weight: list[int] = [0] * n_lab
        self.members: list[set[int]] = [set() for _ in range(n_lab)]
        for v, r in enumerate(self.lab):
            self.weight[r] += self.w[v]
            self.members[r].add(v)

    def new_label(self) -> int:
        self.weight.append(0)
        self.members.append(set())
        return len(self.weight) - 1

    def move(self, v: int, b: int) -> None:
        a = self.lab[v]
        self.weight[a] -= self.w[v]
        self.weight[b] += self.w[v]
        self.members[a].discard(v)
        self.members[b].add(v)
        self.lab[v] = b

    def stays_connected(self, v: int) -> bool:
        """Does ``v``'s community stay connected around ``v`` when ``v`` leaves it?"""
        a = self.lab[v]
        nbrs = [u for u in self.adj[v] if self.lab[u] == a]
        if len(nbrs) <= 1:
            return len(self.members[a]) > 1
        todo = set(nbrs[1:])
        seen = {v, nbrs[0]}
        queue = deque([nbrs[0]])
        while queue and todo:
            x = queue.popleft()
            for y in self.adj[x]:
                if y not in seen and self.lab[y] == a:
                    seen.add(y)
                    todo.discard(y)
                    queue.append(y)
        return not todo

    def sides(self, v: int) -> dict[int, float]:
        """Boundary length of ``v`` shared with each community (its own included)."""
        out: dict[int, float] = {}
        for u, ln in zip(self.adj[v], self.length[v], strict=True):
            r = self.lab[u]
            out[r] = out.get(r, 0.0) + ln
        return out

    def neighbours(self, r: int) -> set[int]:
        return {self.lab[u] for v in self.members[r] for u in self.adj[v]} - {r}


def _peel(st: _State, r: int, high: int, cap: dict[int, float]) -> list[tuple[int, int]]:
    """Give ``r``'s boundary nodes to the neighbours in ``cap`` (each up to its cap) until
    ``r`` is within ``high``.

    Returns the moves made (node, old label) so the caller can undo them; stops early (the
    community still above ``high``) when no node can go.
    """
    done: list[tuple[int, int]] = []
    while st.weight[r] > high:
        cands = []
        for v in sorted(st.members[r]):
            side = st.sides(v)
            for b, ln in side.items():
                if b not in cap or st.weight[b] + st.w[v] > cap[b]:
                    continue
                # a building beyond what the excess needs moves only when nothing smaller can
                over = max(0, st.w[v] - (st.weight[r] - high))
                cands.append((over, st.w[v] == 0, side.get(r, 0.0) - ln, v, b))
        cands.sort()
        for _over, _empty, _cut, v, b in cands:
            if st.stays_connected(v):
                done.append((v, r))
                st.move(v, b)
                break
        else:
            return done
    return done


def _moved(st: _State, done: list[tuple[int, int]]) -> int:
    return sum(st.w[v] for v, _a in done)


def _give(
    st: _State, r: int, high: int, pinned: set[int], blocked: set[int], depth: int
) -> list[tuple[int, int]] | None:
    """Move ``r``'s excess to neighbours with room, or along a chain of up to ``depth`` more
    communities (each passing as much on); ``None`` (nothing changed) when neither works."""
    excess = st.weight[r] - high
    takers = sorted(b for b in st.neighbours(r) if b not in blocked)
    room = sum(max(0, high - st.weight[b]) for b in takers)
    if room >= excess:
        done = _peel(st, r, high, {b: float(high) for b in takers})
        if st.weight[r] <= high:
            return done
        _undo(st, done)
    if depth <= 0:
        return None
    best: tuple[int, int] | None = None
    for b in (b for b in takers if b not in pinned):  # the chain moving fewest wins
        done = _peel(st, r, high, {b: float("inf")})
        if st.weight[r] <= high:
            more = _give(st, b, high, pinned, blocked | {r}, depth - 1)
            if more is not None:
                total = _moved(st, done) + _moved(st, more)
                if best is None or total < best[0]:
                    best = (total, b)
                _undo(st, more)
        _undo(st, done)
    if best is None:
        return None
    b = best[1]
    done = _peel(st, r, high, {b: float("inf")})
    more = _give(st, b, high, pinned, blocked | {r}, depth - 1)
    return done + (more or [])


def _principal_ends(xy: np.ndarray, nodes: list[int]) -> tuple[int, int]:
    pts = xy[nodes]
    c = pts - pts.mean(axis=0)
    if len(nodes) < 2:
        return nodes[0], nodes[0]
    _vals, vecs = np.linalg.eigh(c.T @ c)
    axis = vecs[:, -1]
    proj = c @ axis
    order = np.lexsort((np.asarray(nodes), proj))
    return nodes[int(order[0])], nodes[int(order[-1])]


def _grow(st: _State, r: int, seed: int, need: int) -> tuple[list[int], float]:
    """A connected piece of ``r`` grown from ``seed`` up to ``need`` residents, ``r`` staying
    connected; returns its nodes and the boundary it cuts (without changing ``st``)."""
    lab = list(st.lab)
    piece: set[int] = set()
    acc = 0
    front = {seed}
    trial = _State.__new__(_State)
    trial.w, trial.adj, trial.length, trial.lab = st.w, st.adj, st.length, lab
    trial.members = [set(m) for m in st.members]
    trial.weight = list(st.weight)
    tmp = trial.new_label()
    while acc < need and front:
        best = None
        for v in sorted(front):
            side = trial.sides(v)
            key = (side.get(r, 0.0) - side.get(tmp, 0.0), v)
            if (best is None or key < best[0]) and (not piece or trial.stays_connected(v)):
                best = (key, v)
        if best is None:
            break
        v = best[1]
        front.discard(v)
        trial.move(v, tmp)
        piece.add(v)
        acc += st.w[v]
        for u in st.adj[v]:
            if lab[u] == r:
                front.add(u)
        front &= trial.members[r]
    cut = sum(
        ln for v in piece for u, ln in zip(st.adj[v], st.length[v], strict=True) if lab[u] != tmp
    )
    return sorted(piece), cut


def _split(st: _State, r: int, xy: np.ndarray, low: int, high: int, seed: int) -> list[int]:
    """Partition ``r`` afresh into balanced communities (the grid engine); the part holding
    most residents keeps ``r``. Returns the new labels, or none when ``r`` is not connected."""
    nodes = sorted(st.members[r])
    total = st.weight[r]
    k, _ok = choose_count(total, (low + high) // 2, low, high)
    pos = {v: i for i, v in enumerate(nodes)}
    edges = [
        (pos[v], pos[u], ln)
        for v in nodes
        for u, ln in zip(st.adj[v], st.length[v], strict=True)
        if u in pos and v < u
    ]
    e = np.asarray([(a, b) for a, b, _ in edges], dtype=np.int64).reshape(-1, 2)
    ln = np.asarray([x for _, _, x in edges], dtype=float)
    w = np.asarray([st.w[v] for v in nodes], dtype=float)
    adj: list[list[int]] = [[] for _ in nodes]
    for a, b in e.tolist():
        adj[a].append(b)
        adj[b].append(a)
    if k < 2 or len(connected_components(range(len(nodes)), adj)) > 1:
        return []
    lab = partition_face(
        xy[nodes],
        w,
        e,
        ln,
        k,
        target=float(total) / k,
        low=float(low),
        high=float(high),
        seed=seed,
    )
    sums = np.bincount(lab, weights=w)
    keep = int(np.argmax(sums))
    made: dict[int, int] = {}
    for i, v in enumerate(nodes):
        part = int(lab[i])
        if part == keep:
            continue
        if part not in made:
            made[part] = st.new_label()
        st.move(v, made[part])
    return [made[p] for p in sorted(made)]


def _carve(st: _State, r: int, xy: np.ndarray, low: int, high: int) -> list[int]:
    """Carve new communities off ``r`` until it holds at most ``high``; returns their labels.

    A community needing more than one new community is partitioned afresh (:func:`_split`).
    """
    if st.weight[r] > 2 * high:
        made = _split(st, r, xy, low, high, seed=r)
        if made:
            return made
    made = []
    while st.weight[r] > high and len(st.members[r]) > 1:
        total = st.weight[r]
        need = min(max(low, total - high), high)
        if total - need < low:  # cannot keep a community within bounds on both sides
            need = total // 2
        ends = _principal_ends(xy, sorted(st.members[r]))
        options = []
        for s in dict.fromkeys(ends):
            nodes, cut = _grow(st, r, s, need)
            got = sum(st.w[v] for v in nodes)
            if nodes and len(nodes) < len(st.members[r]):
                options.append((got < need, abs(got - need), cut, s, nodes))
        if not options:
            break
        options.sort(key=lambda o: (o[0], o[1], o[2], o[3]))
        nodes = options[0][4]
        new = st.new_label()
        for v in nodes:
            st.move(v, new)
        made.append(new)
        if options[0][0]:  # grew short of what was needed: stop rather than loop
            break
    return made


def _fill(st: _State, r: int, low: int, high: int, pinned: set[int]) -> list[tuple[int, int]]:
    """Take boundary nodes from neighbours that can spare them until ``r`` reaches ``low``."""
    done: list[tuple[int, int]] = []
    while st.weight[r] < low:
        cands = []
        for v in sorted(st.members[r]):
            for u in st.adj[v]:
                a = st.lab[u]
                if a == r or a in pinned or st.weight[a] - st.w[u] < low:
                    continue
                if st.weight[r] + st.w[u] > high:
                    continue
                side = st.sides(u)
                over = max(0, st.w[u] - (low - st.weight[r]))
                cands.append((over, side.get(a, 0.0) - side.get(r, 0.0), u))
        for _over, _cut, u in sorted(set(cands)):
            if st.stays_connected(u):
                done.append((u, st.lab[u]))
                st.move(u, r)
                break
        else:
            return done
    return done


def _undo(st: _State, done: list[tuple[int, int]]) -> None:
    for v, a in reversed(done):
        st.move(v, a)


def relieve(
    w: np.ndarray,
    edges: np.ndarray,
    lengths: np.ndarray,
    labels: np.ndarray,
    xy: np.ndarray,
    *,
    low: int,
    high: int,
    pinned: set[int] | frozenset[int] = frozenset(),
    part: np.ndarray | None = None,
) -> Relief:
    """Bring every community within ``[low, high]`` moving as few residents as possible.

        Parameters
        ----------
        w
            Residents per node.
        edges, lengths
            Adjacent node pairs (never across a barrier) and the boundary they share.
        labels
            Old community label per node, ``0 … n_old - 1`` (every label holds a node).
        xy
            Node coordinates (where to start a carved piece).
        low, high
            Bounds in residents.
        pinned
            Labels that never give residents (they may take some in).
        part
            The land behind one set of barriers each node lies in (``-1``: none, the node stays
            with its community); a community out of bounds is cut along these first.

        Returns
        -------
        Relief
            New labels, the parents of carved pieces, and notes.

        Examples
        --------
        >>> import numpy as np

    from gridplan.adjacency import connected_components
    from gridplan.partition.regions import choose_count
    from gridplan.partition.search import partition_face
        >>> w = np.array([4, 4, 4, 4, 2, 2])
        >>> edges = np.array([[0, 1], [1, 2], [2, 3], [3, 4], [4, 5]])
        >>> r = relieve(w, edges, np.ones(5), np.array([0, 0, 0, 0, 1, 1]),
        ...             np.c_[np.arange(6), np.zeros(6)], low=4, high=12)
        >>> r.labels.tolist()
        [0, 0, 0, 1, 1, 1]
    """
    n = len(w)
    adj: list[list[int]] = [[] for _ in range(n)]
    length: list[list[float]] = [[] for _ in range(n)]
    for (a, b), ln in zip(np.asarray(edges).reshape(-1, 2).tolist(), lengths.tolist(), strict=True):
        adj[a].append(b)
        adj[b].append(a)
        length[a].append(float(ln))
        length[b].append(float(ln))
    st = _State(w, adj, length, labels)
    n_old = len(st.weight)
    pin = set(pinned)
    out = Relief(labels=np.asarray(labels))
    # out of bounds and behind several barriers: cut along them first
    part_of = np.full(n, -1, dtype=np.int64) if part is None else np.asarray(part)
    for r in range(n_old):
        if r in pin or low <= st.weight[r] <= high:
            continue
        pieces: dict[int, list[int]] = {}
        for v in sorted(st.members[r]):
            if part_of[v] >= 0:
                pieces.setdefault(int(part_of[v]), []).append(v)
        if len(pieces) < 2 or any(sum(st.w[v] for v in c) < low for c in pieces.values()):
            continue  # (a piece too small to stand alone: the community keeps straddling)
        comps = sorted(pieces.values(), key=lambda c: (-sum(st.w[v] for v in c), c[0]))
        for comp in comps[1:]:
            new = st.new_label()
            for v in comp:
                st.move(v, new)
            out.parent[new] = r
            out.notes.append(
                (
                    r,
                    f"{{L{r}}}: {st.weight[new]} residents behind a barrier from the rest "
                    f"become {{L{new}}}",
                )
            )
    order = sorted(
        (r for r in range(len(st.weight)) if r not in pin),
        key=lambda r: (-abs(st.weight[r] - (low + high) / 2), r),
    )
    for r in order:
        if st.weight[r] > high:
            excess = st.weight[r] - high
            before = st.weight[r]
            done = _give(st, r, high, pin, set(), _CHAIN) or []
            if done and _moved(st, done) > max(low, excess):  # a new community moves fewer
                _undo(st, done)
                done = []
            if done:
                gets: dict[int, int] = {}
                for v, _a in done:
                    gets[st.lab[v]] = gets.get(st.lab[v], 0) + st.w[v]
                out.notes.append(
                    (
                        r,
                        f"{{L{r}}}: {before} residents, above {high}: "
                        + ", ".join(f"{x} to {{L{b}}}" for b, x in sorted(gets.items()) if x),
                    )
                )
                continue
            made = _carve(st, r, xy, low, high)
            for new in made:
                out.parent[new] = r
            if made:
                out.notes.append(
                    (
                        r,
                        f"{{L{r}}}: {before} residents, above {high}, and its neighbours "
                        f"have no room for {excess}: carved off "
                        + ", ".join(f"{{L{x}}} ({st.weight[x]} residents)" for x in made)
                        + f", {st.weight[r]} stay",
                    )
                )
        elif st.weight[r] < low and st.members[r]:
            before = st.weight[r]
            done = []
            if low - before <= before:
                done = _fill(st, r, low, high, pin)
                if st.weight[r] < low:
                    _undo(st, done)
                    done = []
            if done:
                out.notes.append(
                    (
                        r,
                        f"{{L{r}}}: {before} residents, below {low}: took in "
                        f"{st.weight[r] - before}",
                    )
                )
                continue
            sides: dict[int, float] = {}
            for v in st.members[r]:
                for b, ln in st.sides(v).items():
                    if b != r and st.weight[b] + before <= high:
                        sides[b] = sides.get(b, 0.0) + ln
            if sides:
                b = max(sorted(sides), key=lambda x: sides[x])
                for v in sorted(st.members[r]):
                    st.move(v, b)
                out.notes.append((r, f"{{L{r}}}: {before} residents, below {low}: joins {{L{b}}}"))
    out.labels = np.asarray(st.lab, dtype=np.int64)
    return out
