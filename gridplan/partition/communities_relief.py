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
- A community whose nodes lie behind several barriers is first cut along them (never a
  community across a barrier): the largest piece keeps the community; each other piece becomes
  one of its own where it holds enough residents, else joins a neighbour on its own side with
  room (then all are relieved as above).
- With a ``target``, boundary flips even the communities out at the end, never moving a
  resident out of an old community that kept them (:func:`_balance`).

Communities in ``pinned`` never give residents (nor pass them on in a chain) and are never
cut. :func:`relieve` returns the new label of each node: the old labels where kept, new labels
``n_old, n_old + 1, …`` for carved pieces.
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


def _cut_at_barriers(
    st: _State, part_of: np.ndarray, low: int, high: int, pin: set[int], out: Relief
) -> None:
    """Cut every community along the barriers (never one across a barrier).

    Each community's largest piece (most residents behind one set of barriers) keeps it; every
    other piece is cut off (all its residents move, and no fewer could). A piece holding
    ``low`` to ``high`` residents becomes a community of its own; a smaller one joins the
    community on its own side with room for it that it shares most boundary with (another
    cut-off piece included: smallest pieces first), else stands alone to be relieved as any
    other community. The pieces are found on the old labels, before any moves.
    """
    cut: list[tuple[int, list[int]]] = []
    for r in range(len(st.weight)):
        if r in pin:
            continue
        pieces: dict[int, list[int]] = {}
        for v in sorted(st.members[r]):
            if part_of[v] >= 0:
                pieces.setdefault(int(part_of[v]), []).append(v)
        comps = sorted(pieces.values(), key=lambda c: (-sum(st.w[v] for v in c), c[0]))
        cut += [(r, comp) for comp in comps[1:]]
    made: dict[int, int] = {}  # new label -> the old label it was cut from
    for r, comp in cut:
        new = st.new_label()
        for v in comp:
            st.move(v, new)
        made[new] = r
    joined: set[int] = set()
    while True:
        small = [x for x in made if x not in joined and 0 < st.weight[x] < low]
        moved = False
        for x in sorted(small, key=lambda x: (st.weight[x], x)):
            sides: dict[int, float] = {}
            for v in st.members[x]:
                for b, ln in st.sides(v).items():
                    if b != x and st.weight[b] + st.weight[x] <= high:
                        sides[b] = sides.get(b, 0.0) + ln
            if not sides:
                continue
            b = max(sorted(sides), key=lambda y: sides[y])
            got = st.weight[x]
            for v in sorted(st.members[x]):
                st.move(v, b)
            joined.add(x)
            out.notes.append(
                (
                    made[x],
                    f"{{L{made[x]}}}: {got} residents behind a barrier from the rest join {{L{b}}}",
                )
            )
            moved = True
            break
        if not moved:
            break
    for x, r in made.items():
        if x in joined:
            continue
        out.parent[x] = r
        out.notes.append(
            (
                r,
                f"{{L{r}}}: {st.weight[x]} residents behind a barrier from the rest become "
                f"{{L{x}}}",
            )
        )


def _balance(
    st: _State,
    target: float,
    low: int,
    high: int,
    home: np.ndarray | None,
    pinned: set[int],
    max_moves: int,
) -> int:
    """Boundary flips that even out the communities: a node moves from ``a`` to an adjacent
    ``b`` when ``a`` holds more than ``b`` plus the node (the sum of squared deviations from
    ``target`` falls, so the loop ends), ``a`` stays connected and both stay within the
    bounds. Edges never cross a barrier, so neither do the flips. With ``home`` (old labels)
    a node moves only when it is already away from its old community or goes back to it:
    no more residents move than before. A node moves only when it shares at least as much
    boundary with ``b`` as with ``a`` (the boundary between them does not grow: compact
    shapes, no tentacles), most-shared first.
    Returns the number of flips."""
    flips = 0
    done: set[int] = set(pinned)
    while flips < max_moves:
        live = [r for r in range(len(st.weight)) if st.members[r] and r not in done]
        if not live:
            break
        a0 = max(live, key=lambda r: (abs(st.weight[r] - target), -r))
        best: tuple[float, int, int, int] | None = None
        cands = []
        for v in st.members[a0]:
            for u in st.adj[v]:
                b = st.lab[u]
                if b == a0 or b in pinned:
                    continue
                # a0 gives v to b, or takes u from b: the heavier side gives
                x, a, c = (v, a0, b) if st.weight[a0] > st.weight[b] else (u, b, a0)
                if st.weight[a] - st.weight[c] <= st.w[x] or st.w[x] == 0:
                    continue
                if st.weight[a] - st.w[x] < low or st.weight[c] + st.w[x] > high:
                    continue
                if home is not None and st.lab[x] == home[x] and c != home[x]:
                    continue
                side = st.sides(x)
                cut = side.get(a, 0.0) - side.get(c, 0.0)
                if cut > 0:  # only nodes as much in ``c`` as in ``a``: no tentacles
                    continue
                cands.append((cut, x, a, c))
        for key in sorted(set(cands)):
            _cut, x, a, c = key
            if st.lab[x] == a and st.stays_connected(x):
                best = key
                break
        if best is None:
            done.add(a0)
            continue
        _cut, x, a, c = best
        st.move(x, c)
        flips += 1
        done.discard(a)
        done.discard(c)
    return flips


def _relieve_over(
    st: _State, r: int, xy: np.ndarray, low: int, high: int, pin: set[int], out: Relief
) -> None:
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
        return
    made = _carve(st, r, xy, low, high)
    for new in made:
        out.parent[new] = out.parent.get(r, r)
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


def _relieve_one(
    st: _State,
    r: int,
    xy: np.ndarray,
    low: int,
    high: int,
    pin: set[int],
    out: Relief,
    *,
    last: bool = False,
) -> None:
    """Bring ``r`` within the bounds: an over-full one gives or is carved, an under-full one
    takes in residents or joins a neighbour whole. On the ``last`` round an under-full
    community that can do neither joins the neighbour it shares most boundary with, which
    then gives or is carved (rather than stay out of bounds)."""
    if st.weight[r] > high:
        _relieve_over(st, r, xy, low, high, pin, out)
        return
    if not st.members[r] or st.weight[r] >= low:
        return
    before = st.weight[r]
    done: list[tuple[int, int]] = []
    if low - before <= before or last:
        done = _fill(st, r, low, high, pin)
        if st.weight[r] < low:
            _undo(st, done)
            done = []
    if done:
        out.notes.append(
            (r, f"{{L{r}}}: {before} residents, below {low}: took in {st.weight[r] - before}")
        )
        return
    sides: dict[int, float] = {}
    room: dict[int, float] = {}
    for v in st.members[r]:
        for b, ln in st.sides(v).items():
            if b != r and b not in pin:
                sides[b] = sides.get(b, 0.0) + ln
                if st.weight[b] + before <= high:
                    room[b] = room.get(b, 0.0) + ln
    pool = room or (sides if last else {})
    if not pool:
        return
    b = max(sorted(pool), key=lambda x: pool[x])
    for v in sorted(st.members[r]):
        st.move(v, b)
    out.notes.append((r, f"{{L{r}}}: {before} residents, below {low}: joins {{L{b}}}"))
    if st.weight[b] > high:
        _relieve_over(st, b, xy, low, high, pin, out)


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
    target: float | None = None,
    keep_home: bool = True,
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
        with its community); every community is cut along these first.
    target
        Even the communities out towards ``target`` by boundary flips at the end
        (:func:`_balance`); ``None``: no flips.
    keep_home
        Flips never take a node out of its old community (no more residents move).

    Returns
    -------
    Relief
        New labels, the parents of carved pieces, and notes.

    Examples
    --------
    >>> import numpy as np
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
    pin = set(pinned)
    out = Relief(labels=np.asarray(labels))
    # behind several barriers: cut along them first (never a community across a barrier)
    part_of = np.full(n, -1, dtype=np.int64) if part is None else np.asarray(part)
    _cut_at_barriers(st, part_of, low, high, pin, out)
    order = sorted(
        (r for r in range(len(st.weight)) if r not in pin),
        key=lambda r: (-abs(st.weight[r] - (low + high) / 2), r),
    )
    for r in order:
        _relieve_one(st, r, xy, low, high, pin, out)
    # a second round for what the first left out of bounds (pieces cut off by barriers)
    for r in range(len(st.weight)):
        if r not in pin and st.members[r] and not low <= st.weight[r] <= high:
            _relieve_one(st, r, xy, low, high, pin, out, last=True)
    if target is not None:
        home = np.asarray(labels) if keep_home else None
        _balance(st, float(target), low, high, home, pin, max_moves=4 * n)
    out.labels = np.asarray(st.lab, dtype=np.int64)
    return out
