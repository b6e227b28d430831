"""Judge assignment under hard constraints, solved as a min-cost flow.

Model (network):  source -> entry -> judge -> sink.

* ``source -> entry`` carries the number of judges the entry still needs
  (``k`` minus its locked judges);
* ``entry -> judge`` exists only for eligible pairs (no conflict, site and language
  matching when required, not already locked) and has capacity 1, so judges are distinct;
  its cost is the optional affinity cost plus, when a previous assignment is given, a
  penalty for every pair that was not in it;
* ``judge -> sink`` is split into unit arcs whose costs grow with the load
  (the ``t``-th unit costs ``2t - 1``), a convex cost that minimises the sum of squared
  loads, so loads are as even as the constraints allow.

The flow is solved with OR-Tools' ``SimpleMinCostFlow`` (maximum flow of minimum cost).
Large problems are solved first on a few candidate judges per entry and the result is proved
optimal for the whole network by pricing the omitted pairs (see ``_solve``): 5,000 entries ×
300 judges take ~45,000 arcs instead of 1.5 million (~80 MB peak instead of ~235 MB).
Priorities, strictly in this order: (1) every entry gets exactly ``k`` judges, (2) as few
changes to ``previous`` as possible, (3) affinity costs plus load balance.

Guarantee: the result is either an ``Assignment`` in which every entry has exactly ``k``
distinct judges, no judge exceeds its capacity, no conflicted pair is used, site and
language are respected when required and every locked pair is present; or an
``Infeasible`` with human-readable reasons. A constraint is never silently broken.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from ortools.graph.python import min_cost_flow

Pair = tuple[str, str]  # (judge_id, entry_id)

COST_SCALE = 1000  # float costs are rounded to 1/COST_SCALE
_SOURCE, _SINK, _FIRST_ENTRY_NODE = 0, 1, 2
_MAX_LISTED = 10
_COST_LIMIT = 2**40  # the solver scales costs by the node count; stay far from int64


@dataclass(frozen=True, slots=True)
class Entry:
    """A contest entry; ``site`` / ``language`` of ``None`` put no constraint on judges."""

    id: str
    site: str | None = None
    language: str | None = None


@dataclass(frozen=True, slots=True)
class Judge:
    """A judge who scores at most ``capacity`` entries."""

    id: str
    capacity: int
    sites: frozenset[str] = frozenset()
    languages: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Assignment:
    """Feasible result: ``judges_by_entry`` maps each entry id to its sorted judge ids."""

    judges_by_entry: dict[str, tuple[str, ...]]
    changes: int = 0  # pairs that were neither locked nor in ``previous``

    def pairs(self) -> set[Pair]:
        """All (judge_id, entry_id) pairs."""
        return {(j, e) for e, judges in self.judges_by_entry.items() for j in judges}

    def load(self) -> dict[str, int]:
        """Number of entries per judge (judges with no entry are absent)."""
        counts: dict[str, int] = defaultdict(int)
        for judges in self.judges_by_entry.values():
            for judge_id in judges:
                counts[judge_id] += 1
        return dict(counts)


@dataclass(frozen=True)
class Infeasible:
    """No assignment satisfies the hard constraints; ``reasons`` explain why."""

    reasons: tuple[str, ...]
    short_entries: dict[str, int] = field(default_factory=dict)  # entry -> judges missing


@dataclass(frozen=True)
class _Problem:
    entries: Sequence[Entry]
    judges: Sequence[Judge]
    k: int
    locked_by_entry: dict[str, set[str]]
    free_capacity: dict[str, int]
    # eligible[e, j]: judge j (index in `judges`) may still be added to entry e (index in
    # `entries`): open capacity, not locked there, no conflict, site and language match.
    eligible: np.ndarray
    eligible_count: dict[str, int] = field(default_factory=dict)  # entry id -> eligible judges


def assign_judges(
    entries: Sequence[Entry],
    judges: Sequence[Judge],
    judges_per_entry: int,
    *,
    conflicts: Collection[Pair] = (),
    require_site: bool = False,
    require_language: bool = False,
    affinity: Mapping[Pair, float] | None = None,
    locked: Collection[Pair] = (),
    previous: Collection[Pair] = (),
    balance_weight: float = 1.0,
) -> Assignment | Infeasible:
    """Give every entry exactly ``judges_per_entry`` distinct eligible judges.

    ``affinity`` maps (judge_id, entry_id) to a soft cost (lower is preferred; one unit
    weighs as much as one step of load imbalance times ``balance_weight``). ``locked`` pairs
    are kept as they are (they count towards ``k`` and the judge's capacity). ``previous``
    pairs are kept whenever possible: the number of pairs outside ``locked`` and
    ``previous`` is minimised before any soft cost.
    """
    _check_inputs(entries, judges, judges_per_entry, locked)
    conflict_set = set(conflicts)
    locked_set = set(locked)
    violations = _locked_violations(
        entries, judges, judges_per_entry, locked_set, conflict_set, require_site, require_language
    )
    if violations:
        return Infeasible(tuple(violations))
    problem = _build_problem(
        entries, judges, judges_per_entry, locked_set, conflict_set, require_site, require_language
    )
    reasons = _precheck(problem)
    if reasons:
        return Infeasible(tuple(reasons), _naive_shortfall(problem))
    return _solve(problem, affinity or {}, set(previous), balance_weight)


def repair_assignment(
    entries: Sequence[Entry],
    judges: Sequence[Judge],
    judges_per_entry: int,
    current: Mapping[str, Iterable[str]],
    dropped_judges: Collection[str],
    finished: Collection[Pair],
    *,
    conflicts: Collection[Pair] = (),
    require_site: bool = False,
    require_language: bool = False,
    affinity: Mapping[Pair, float] | None = None,
    balance_weight: float = 1.0,
) -> Assignment | Infeasible:
    """Re-solve after judges drop out, changing as little as possible.

    Every ``finished`` pair is kept, including those already done by a dropped judge (the
    work is done; filter them out of ``finished`` to discard it). Dropped judges get no new
    pair; the remaining pairs of ``current`` (entry id -> judge ids) are kept when possible
    and only what is missing is re-solved. The other options mean what they mean in
    ``assign_judges``.
    """
    dropped = set(dropped_judges)
    done_by_dropped: dict[str, int] = defaultdict(int)
    for judge_id, _entry_id in finished:
        if judge_id in dropped:
            done_by_dropped[judge_id] += 1
    remaining_judges = [
        judge
        if judge.id not in dropped
        else Judge(judge.id, done_by_dropped[judge.id], judge.sites, judge.languages)
        for judge in judges
    ]
    previous = {
        (judge_id, entry_id)
        for entry_id, judge_ids in current.items()
        for judge_id in judge_ids
        if judge_id not in dropped
    }
    return assign_judges(
        entries,
        remaining_judges,
        judges_per_entry,
        conflicts=conflicts,
        require_site=require_site,
        require_language=require_language,
        affinity=affinity,
        locked=set(finished),
        previous=previous,
        balance_weight=balance_weight,
    )


def is_eligible(
    judge: Judge,
    entry: Entry,
    conflicts: Collection[Pair],
    require_site: bool,
    require_language: bool,
) -> bool:
    """Whether the hard constraints allow ``judge`` to score ``entry`` (capacity aside)."""
    if (judge.id, entry.id) in conflicts:
        return False
    if require_site and entry.site is not None and entry.site not in judge.sites:
        return False
    return not (
        require_language and entry.language is not None and entry.language not in judge.languages
    )


def _check_inputs(
    entries: Sequence[Entry], judges: Sequence[Judge], k: int, locked: Collection[Pair]
) -> None:
    if k < 1:
        raise ValueError("judges_per_entry must be at least 1")
    entry_ids = {entry.id for entry in entries}
    judge_ids = {judge.id for judge in judges}
    if len(entry_ids) != len(entries):
        raise ValueError("entry ids must be unique")
    if len(judge_ids) != len(judges):
        raise ValueError("judge ids must be unique")
    if any(judge.capacity < 0 for judge in judges):
        raise ValueError("judge capacity must be >= 0")
    unknown = [p for p in locked if p[0] not in judge_ids or p[1] not in entry_ids]
    if unknown:
        raise ValueError(f"locked pairs refer to unknown judges or entries: {sorted(unknown)}")


def _locked_violations(
    entries: Sequence[Entry],
    judges: Sequence[Judge],
    k: int,
    locked: set[Pair],
    conflicts: set[Pair],
    require_site: bool,
    require_language: bool,
) -> list[str]:
    entry_by_id = {entry.id: entry for entry in entries}
    judge_by_id = {judge.id: judge for judge in judges}
    reasons = [
        f"locked pair ({judge_id}, {entry_id}) breaks a hard constraint "
        "(conflict, site or language)"
        for judge_id, entry_id in sorted(locked)
        if not is_eligible(
            judge_by_id[judge_id], entry_by_id[entry_id], conflicts, require_site, require_language
        )
    ]
    per_entry = _count(entry_id for _judge_id, entry_id in locked)
    per_judge = _count(judge_id for judge_id, _entry_id in locked)
    reasons += [
        f"entry {entry_id} has {count} locked judges but k={k}"
        for entry_id, count in sorted(per_entry.items())
        if count > k
    ]
    reasons += [
        f"judge {judge_id} has {count} locked entries but capacity {judge_by_id[judge_id].capacity}"
        for judge_id, count in sorted(per_judge.items())
        if count > judge_by_id[judge_id].capacity
    ]
    return reasons


def _build_problem(
    entries: Sequence[Entry],
    judges: Sequence[Judge],
    k: int,
    locked: set[Pair],
    conflicts: set[Pair],
    require_site: bool,
    require_language: bool,
) -> _Problem:
    """The problem with its eligibility as an entries × judges boolean matrix, built with
    numpy: no Python object per pair (5,000 × 300 pairs cost ~1.5 MB, not ~500 MB)."""
    locked_by_entry: dict[str, set[str]] = {entry.id: set() for entry in entries}
    for judge_id, entry_id in locked:
        locked_by_entry[entry_id].add(judge_id)
    per_judge = _count(judge_id for judge_id, _entry_id in locked)
    free_capacity = {judge.id: judge.capacity - per_judge.get(judge.id, 0) for judge in judges}
    entry_index = {entry.id: i for i, entry in enumerate(entries)}
    judge_index = {judge.id: i for i, judge in enumerate(judges)}
    is_open = np.array([free_capacity[judge.id] > 0 for judge in judges], dtype=bool)
    eligible = np.repeat(is_open[np.newaxis, :], len(entries), axis=0)
    if require_site:
        eligible &= _membership(entries, judges, "site", "sites")
    if require_language:
        eligible &= _membership(entries, judges, "language", "languages")
    for judge_id, entry_id in (*locked, *conflicts):
        e, j = entry_index.get(entry_id), judge_index.get(judge_id)
        if e is not None and j is not None:
            eligible[e, j] = False
    counts = eligible.sum(axis=1)
    eligible_count = {entry.id: int(counts[i]) for i, entry in enumerate(entries)}
    return _Problem(entries, judges, k, locked_by_entry, free_capacity, eligible, eligible_count)


def _membership(
    entries: Sequence[Entry], judges: Sequence[Judge], attribute: str, judge_attribute: str
) -> np.ndarray:
    """[e, j]: entry e puts no `attribute` constraint, or judge j offers the entry's value."""
    values = sorted(
        {getattr(entry, attribute) for entry in entries} - {None}, key=lambda value: str(value)
    )
    code = {value: n for n, value in enumerate(values)}
    offers = np.zeros((len(judges), len(values) + 1), dtype=bool)
    offers[:, len(values)] = True  # the column of entries without a constraint
    for j, judge in enumerate(judges):
        for value in getattr(judge, judge_attribute):
            if value in code:
                offers[j, code[value]] = True
    entry_codes = np.array(
        [
            len(values) if getattr(entry, attribute) is None else code[getattr(entry, attribute)]
            for entry in entries
        ],
        dtype=np.int64,
    )
    return offers[:, entry_codes].T if len(entries) else np.zeros((0, len(judges)), dtype=bool)


def _need(problem: _Problem, entry_id: str) -> int:
    return problem.k - len(problem.locked_by_entry[entry_id])


def _precheck(problem: _Problem) -> list[str]:
    reasons = []
    for entry in problem.entries:
        available = problem.eligible_count[entry.id] + len(problem.locked_by_entry[entry.id])
        if available < problem.k:
            reasons.append(
                f"entry {entry.id} has only {_eligible_judges(available)} but k={problem.k}"
            )
    total_need = sum(_need(problem, entry.id) for entry in problem.entries)
    total_free = sum(problem.free_capacity.values())
    if total_free < total_need:
        n_locked = len(problem.entries) * problem.k - total_need
        locked_note = f" minus {n_locked} locked" if n_locked else ""
        reasons.append(
            f"total capacity {total_free} < {len(problem.entries)} entries "
            f"× k={problem.k}{locked_note} = {total_need}"
        )
    return reasons


def _naive_shortfall(problem: _Problem) -> dict[str, int]:
    shortfall = {}
    for entry in problem.entries:
        missing = _need(problem, entry.id) - problem.eligible_count[entry.id]
        if missing > 0:
            shortfall[entry.id] = missing
    return shortfall


@dataclass
class _Network:
    """The arcs as arrays: source → entry, then entry → judge (one per eligible pair, in
    row-major order of the eligibility matrix), then judge → sink (balance units)."""

    tails: np.ndarray
    heads: np.ndarray
    capacities: np.ndarray
    costs: np.ndarray
    first_pair: int  # arcs [first_pair, first_pair + len(pair_entry)) are entry → judge
    pair_entry: np.ndarray  # entry index of each pair arc
    pair_judge: np.ndarray  # judge index of each pair arc

    def pair_arcs(self) -> range:
        return range(self.first_pair, self.first_pair + len(self.pair_entry))


def _solve(
    problem: _Problem,
    affinity: Mapping[Pair, float],
    previous: set[Pair],
    balance_weight: float,
) -> Assignment | Infeasible:
    """Solve on a few candidate judges per entry, prove the result optimal for the full
    network, else widen the candidates; the full network is the fallback.

    Trade-off: the full network has one arc per eligible pair (1.5 million for 5,000 entries
    × 300 judges, ~190 MB inside the solver), although each entry keeps only ``k`` of them.
    Large problems are first solved with ``need + _EXTRA_CANDIDATES`` candidate judges per
    entry (its ``previous`` judges first, then the cheapest by affinity, then a rotation
    over the judges' capacities so candidate arcs spread evenly). A min-cost flow is optimal
    if and only if its residual network has no negative cycle; the shortest-path potentials
    of the small network's residual (Bellman-Ford) are checked against every omitted
    eligible pair: when no omitted pair has a negative reduced cost, the small solution is
    an optimal solution of the full problem (same cost, possibly another of the tied
    optima). Otherwise the offending pairs join the candidates and the small problem is
    solved again, at most ``_PRICING_ROUNDS`` times; a small problem that falls short of a
    full flow, or that needs more rounds, is solved on the full network, which also
    explains infeasibility. Small problems (fewer than ``_REDUCE_ABOVE_PAIRS`` eligible
    pairs) go straight to the full network.
    """
    cost_matrix = _cost_matrix(problem, affinity, previous, balance_weight)
    total_need = sum(_need(problem, entry.id) for entry in problem.entries)
    n_nodes = len(problem.entries) + len(problem.judges)
    candidates = _candidates(problem, cost_matrix, previous)
    for _round in range(_PRICING_ROUNDS if candidates is not None else 0):
        network, _judge_node = _build_network(problem, candidates, cost_matrix, balance_weight)
        flows, flow_value = _run_solver(network, total_need)
        if flow_value < total_need:
            break
        potentials = _potentials(
            network, flows, _FIRST_ENTRY_NODE + n_nodes, 2 * len(problem.judges) + 8
        )
        if potentials is None:
            break
        violating = _negative_reduced_costs(problem, candidates, cost_matrix, potentials)
        del potentials
        if not violating.any():
            return _to_assignment(problem, network, flows, previous)
        candidates |= violating
        del network, flows, violating
    candidates = None
    network, judge_node = _build_network(problem, problem.eligible, cost_matrix, balance_weight)
    flows, flow_value = _run_solver(network, total_need)
    if flow_value < total_need:
        return _explain_shortfall(problem, network, flows, judge_node)
    return _to_assignment(problem, network, flows, previous)


_REDUCE_ABOVE_PAIRS = 20_000  # eligible pairs from which candidate judges are tried first
_EXTRA_CANDIDATES = 3  # candidate judges per entry beyond the ones it needs
_PRICING_ROUNDS = 4


def _run_solver(network: _Network, total_need: int) -> tuple[np.ndarray, int]:
    solver = min_cost_flow.SimpleMinCostFlow()
    solver.add_arcs_with_capacity_and_unit_cost(
        network.tails, network.heads, network.capacities, network.costs
    )
    solver.set_node_supply(_SOURCE, total_need)
    solver.set_node_supply(_SINK, -total_need)
    status = solver.solve_max_flow_with_min_cost()
    if status != solver.OPTIMAL:
        raise RuntimeError(f"min-cost flow solver failed: {status}")
    flows = solver.flows(np.arange(len(network.tails), dtype=np.int32))
    return flows, solver.maximum_flow()


def _candidates(
    problem: _Problem, cost_matrix: np.ndarray | None, previous: set[Pair]
) -> np.ndarray | None:
    """The first candidate judges of each entry (a boolean entries × judges matrix), or
    ``None`` when the problem is small enough for the full network."""
    eligible = problem.eligible
    n_entries, n_judges = eligible.shape
    width = problem.k + _EXTRA_CANDIDATES
    if n_entries == 0 or n_judges <= width or int(eligible.sum()) < _REDUCE_ABOVE_PAIRS:
        return None
    # A rotation over the judges' open capacity laid end to end on a circle: entry e starts
    # at its share of the circle and takes the judges whose stretch ends next.
    free = np.array([max(problem.free_capacity[j.id], 0) for j in problem.judges], np.int64)
    circle = max(int(free.sum()), 1)
    ends = np.cumsum(free)
    starts = (np.arange(n_entries, dtype=np.int64) * circle) // n_entries
    key = (ends[np.newaxis, :] - starts[:, np.newaxis]) % circle
    if cost_matrix is not None and int(cost_matrix.max()) < np.iinfo(np.int64).max // (
        2 * circle
    ):  # cheaper judges (and previous ones: no penalty) first
        key += cost_matrix * circle
    key[~eligible] = np.iinfo(np.int64).max
    chosen = np.argpartition(key, width - 1, axis=1)[:, :width]
    del key
    candidates = np.zeros_like(eligible)
    np.put_along_axis(candidates, chosen, True, axis=1)
    candidates &= eligible
    return candidates


def _potentials(
    network: _Network, flows: np.ndarray, n_nodes: int, max_passes: int
) -> np.ndarray | None:
    """Shortest-path distances in the residual network from a virtual node joined to every
    node at cost 0 (Bellman-Ford, one vectorised pass per round), or ``None`` when they do
    not settle (a negative cycle: never after an optimal solve, but checked).

    A simple path alternates entries and judges (source and sink aside), so it has at most
    ``2 × judges + 4`` arcs: ``max_passes`` of that order bound the passes whatever the
    number of entries."""
    spare = flows < network.capacities
    used = flows > 0
    tails = np.concatenate([network.tails[spare], network.heads[used]])
    heads = np.concatenate([network.heads[spare], network.tails[used]])
    costs = np.concatenate([network.costs[spare], -network.costs[used]])
    order = np.argsort(heads, kind="stable")
    tails, heads, costs = tails[order], heads[order], costs[order]
    del order
    targets, first = np.unique(heads, return_index=True)
    distance = np.zeros(n_nodes, dtype=np.int64)
    for _pass in range(min(n_nodes, max_passes) + 1):
        best = np.minimum.reduceat(distance[tails] + costs, first) if len(first) else first
        improved = best < distance[targets]
        if not improved.any():
            return distance
        distance[targets[improved]] = best[improved]
    return None


def _negative_reduced_costs(
    problem: _Problem,
    candidates: np.ndarray,
    cost_matrix: np.ndarray | None,
    distance: np.ndarray,
) -> np.ndarray:
    """Eligible pairs outside the candidates whose arc would have a negative reduced cost
    (``cost + d(entry) - d(judge) < 0``): the pairs that could still lower the cost."""
    n_entries = len(problem.entries)
    entry_d = distance[_FIRST_ENTRY_NODE : _FIRST_ENTRY_NODE + n_entries]
    judge_d = distance[_FIRST_ENTRY_NODE + n_entries :]
    judge_d = judge_d[: len(problem.judges)]
    reduced = entry_d[:, np.newaxis] - judge_d[np.newaxis, :]
    if cost_matrix is not None:
        reduced += cost_matrix
    violating = reduced < 0
    del reduced
    violating &= problem.eligible
    violating &= ~candidates
    return violating


def _build_network(
    problem: _Problem,
    arcs: np.ndarray,
    cost_matrix: np.ndarray | None,
    balance_weight: float,
) -> tuple[_Network, dict[str, int]]:
    """The network over the pairs set in ``arcs`` (a boolean entries × judges matrix)."""
    n_entries, n_judges = len(problem.entries), len(problem.judges)
    judge_node = {
        judge.id: _FIRST_ENTRY_NODE + n_entries + i for i, judge in enumerate(problem.judges)
    }
    pair_entry, pair_judge = (index.astype(np.int32) for index in np.nonzero(arcs))
    if cost_matrix is None:
        pair_cost = np.zeros(len(pair_entry), dtype=np.int64)
    else:
        pair_cost = cost_matrix[pair_entry, pair_judge]
    needs = np.array([_need(problem, entry.id) for entry in problem.entries], dtype=np.int64)
    # judge → sink: the t-th unit of a judge's load costs unit × (2t − 1), t after its locks
    unit = _balance_unit(balance_weight)
    free = np.array([problem.free_capacity[j.id] for j in problem.judges], dtype=np.int64)
    locked_load = np.array([j.capacity for j in problem.judges], dtype=np.int64) - free
    usable = np.clip(np.minimum(free, n_entries), 0, None)
    balance_judge = np.repeat(np.arange(n_judges, dtype=np.int32), usable)
    starts = np.cumsum(usable) - usable
    step = np.arange(len(balance_judge), dtype=np.int64) - np.repeat(starts, usable)
    balance_load = np.repeat(locked_load, usable) + step + 1
    del step
    first_judge_node = _FIRST_ENTRY_NODE + n_entries
    tails = np.concatenate(
        [
            np.full(n_entries, _SOURCE, dtype=np.int32),
            _FIRST_ENTRY_NODE + pair_entry,
            first_judge_node + balance_judge,
        ]
    )
    heads = np.concatenate(
        [
            _FIRST_ENTRY_NODE + np.arange(n_entries, dtype=np.int32),
            first_judge_node + pair_judge,
            np.full(len(balance_judge), _SINK, dtype=np.int32),
        ]
    )
    capacities = np.concatenate(
        [
            needs,
            np.ones(len(pair_entry), dtype=np.int64),
            np.ones(len(balance_judge), dtype=np.int64),
        ]
    )
    costs = np.concatenate(
        [np.zeros(n_entries, dtype=np.int64), pair_cost, unit * (2 * balance_load - 1)]
    )
    network = _Network(tails, heads, capacities, costs, n_entries, pair_entry, pair_judge)
    return network, judge_node


def _cost_matrix(
    problem: _Problem,
    affinity: Mapping[Pair, float],
    previous: set[Pair],
    balance_weight: float,
) -> np.ndarray | None:
    """The cost of each eligible pair's arc as an entries × judges matrix (``None``: all 0).

    Soft costs are shifted so the cheapest eligible pair costs 0 (the flow is fixed); a
    pair outside ``previous`` adds a penalty larger than any sum of soft costs."""
    entry_index = {entry.id: i for i, entry in enumerate(problem.entries)}
    judge_index = {judge.id: i for i, judge in enumerate(problem.judges)}
    eligible = problem.eligible
    shape = eligible.shape
    matrix: np.ndarray | None = None
    worst = 0
    if affinity:
        matrix = np.zeros(shape, dtype=np.int64)
        for (judge_id, entry_id), value in affinity.items():
            e, j = entry_index.get(entry_id), judge_index.get(judge_id)
            if e is not None and j is not None and eligible[e, j]:
                matrix[e, j] = _scaled_cost(value)
        if eligible.any():
            lowest = int(matrix[eligible].min())
            matrix -= lowest
            worst = int(matrix[eligible].max())
    if not previous:
        return matrix
    # One change must outweigh any possible sum of soft costs over the whole flow.
    worst_path = worst + _max_balance_cost(problem, balance_weight)
    penalty = 1 + worst_path * max(1, sum(_need(problem, e.id) for e in problem.entries))
    if penalty > _COST_LIMIT:
        raise ValueError("affinity costs are too large to keep changes strictly minimal")
    kept = np.zeros(shape, dtype=bool)
    for judge_id, entry_id in previous:
        e, j = entry_index.get(entry_id), judge_index.get(judge_id)
        if e is not None and j is not None:
            kept[e, j] = True
    if matrix is None:
        matrix = np.zeros(shape, dtype=np.int64)
    matrix += np.where(kept, 0, penalty)
    return matrix


def _scaled_cost(value: float) -> int:
    scaled = COST_SCALE * float(value)
    if not abs(scaled) < _COST_LIMIT:  # also rejects NaN
        raise ValueError(f"affinity cost {value!r} is not a usable number")
    return round(scaled)


def _balance_unit(balance_weight: float) -> int:
    return max(0, round(COST_SCALE * balance_weight))


def _max_balance_cost(problem: _Problem, balance_weight: float) -> int:
    biggest = max((judge.capacity for judge in problem.judges), default=0)
    return _balance_unit(balance_weight) * (2 * biggest - 1)


def _to_assignment(
    problem: _Problem, network: _Network, flows: np.ndarray, previous: set[Pair]
) -> Assignment:
    chosen = {entry_id: set(judges) for entry_id, judges in problem.locked_by_entry.items()}
    changes = 0
    used = np.flatnonzero(
        flows[network.first_pair : network.first_pair + len(network.pair_entry)] > 0
    )
    for e, j in zip(
        network.pair_entry[used].tolist(), network.pair_judge[used].tolist(), strict=True
    ):
        judge_id, entry_id = problem.judges[j].id, problem.entries[e].id
        chosen[entry_id].add(judge_id)
        changes += (judge_id, entry_id) not in previous
    return Assignment({e: tuple(sorted(judges)) for e, judges in chosen.items()}, changes)


def _explain_shortfall(
    problem: _Problem, network: _Network, flows: np.ndarray, judge_node: dict[str, int]
) -> Infeasible:
    """Use the minimum cut (nodes reachable in the residual graph) as a Hall-type witness."""
    reachable = _residual_reachable(network, flows)
    entry_ids = [entry.id for entry in problem.entries]
    pair_flows = flows[network.first_pair : network.first_pair + len(network.pair_entry)]
    received = _count(problem.entries[e].id for e in network.pair_entry[pair_flows > 0].tolist())
    short = {
        e: _need(problem, e) - received.get(e, 0)
        for e in entry_ids
        if received.get(e, 0) < _need(problem, e)
    }
    stuck = [e for i, e in enumerate(entry_ids) if _FIRST_ENTRY_NODE + i in reachable]
    full_judges = sorted(j for j, node in judge_node.items() if node in reachable)
    need = sum(_need(problem, e) for e in stuck)
    supply = sum(received.get(e, 0) for e in stuck)
    witness = (
        f"entries {_listing(stuck)} need {need} more judge slots but the judges eligible "
        f"for them can supply only {supply} (judges at capacity: {_listing(full_judges)})"
    )
    left_short = _listing([f"{e} (-{n})" for e, n in short.items()])
    reasons = (witness, f"maximum flow falls short; entries left short: {left_short}")
    return Infeasible(reasons, short)


def _residual_reachable(network: _Network, flows: np.ndarray) -> set[int]:
    adjacency: dict[int, list[int]] = defaultdict(list)
    tails, heads = network.tails.tolist(), network.heads.tolist()
    spare = (flows < network.capacities).tolist()
    used = (flows > 0).tolist()
    for tail, head, has_spare, has_flow in zip(tails, heads, spare, used, strict=True):
        if has_spare:
            adjacency[tail].append(head)
        if has_flow:
            adjacency[head].append(tail)
    seen = {_SOURCE}
    queue = deque([_SOURCE])
    while queue:
        for nxt in adjacency[queue.popleft()]:
            if nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)
    return seen


def _eligible_judges(count: int) -> str:
    return f"{count} eligible judge" if count == 1 else f"{count} eligible judges"


def _listing(items: Sequence[str]) -> str:
    if not items:
        return "none"
    shown = ", ".join(items[:_MAX_LISTED])
    more = len(items) - _MAX_LISTED
    return f"{shown} and {more} more" if more > 0 else shown


def _count(items: Iterable[str]) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for item in items:
        counts[item] += 1
    return dict(counts)
