"""The judge assignment as it was before the vectorised network builder (hackathon.assignment
at commit 501db7b): per-pair Python objects. Kept only as the reference the scale tests
compare the numpy builder with."""

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
    eligible: dict[str, list[str]]  # entry -> judges that may still be added


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
    locked_by_entry: dict[str, set[str]] = {entry.id: set() for entry in entries}
    for judge_id, entry_id in locked:
        locked_by_entry[entry_id].add(judge_id)
    per_judge = _count(judge_id for judge_id, _entry_id in locked)
    free_capacity = {judge.id: judge.capacity - per_judge.get(judge.id, 0) for judge in judges}
    open_judges = [judge for judge in judges if free_capacity[judge.id] > 0]
    eligible = {
        entry.id: [
            judge.id
            for judge in open_judges
            if judge.id not in locked_by_entry[entry.id]
            and is_eligible(judge, entry, conflicts, require_site, require_language)
        ]
        for entry in entries
    }
    return _Problem(entries, judges, k, locked_by_entry, free_capacity, eligible)


def _need(problem: _Problem, entry_id: str) -> int:
    return problem.k - len(problem.locked_by_entry[entry_id])


def _precheck(problem: _Problem) -> list[str]:
    reasons = []
    for entry in problem.entries:
        available = len(problem.eligible[entry.id]) + len(problem.locked_by_entry[entry.id])
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
        missing = _need(problem, entry.id) - len(problem.eligible[entry.id])
        if missing > 0:
            shortfall[entry.id] = missing
    return shortfall


@dataclass
class _Network:
    tails: list[int]
    heads: list[int]
    capacities: list[int]
    costs: list[int]
    pair_of_arc: dict[int, Pair]  # arc index -> (judge_id, entry_id) for entry->judge arcs

    def add(self, tail: int, head: int, capacity: int, cost: int) -> int:
        self.tails.append(tail)
        self.heads.append(head)
        self.capacities.append(capacity)
        self.costs.append(cost)
        return len(self.tails) - 1


def _solve(
    problem: _Problem,
    affinity: Mapping[Pair, float],
    previous: set[Pair],
    balance_weight: float,
) -> Assignment | Infeasible:
    network, judge_node = _build_network(problem, affinity, previous, balance_weight)
    solver = min_cost_flow.SimpleMinCostFlow()
    solver.add_arcs_with_capacity_and_unit_cost(
        np.asarray(network.tails, dtype=np.int32),
        np.asarray(network.heads, dtype=np.int32),
        np.asarray(network.capacities, dtype=np.int64),
        np.asarray(network.costs, dtype=np.int64),
    )
    total_need = sum(_need(problem, entry.id) for entry in problem.entries)
    solver.set_node_supply(_SOURCE, total_need)
    solver.set_node_supply(_SINK, -total_need)
    status = solver.solve_max_flow_with_min_cost()
    if status != solver.OPTIMAL:
        raise RuntimeError(f"min-cost flow solver failed: {status}")
    flows = solver.flows(np.arange(len(network.tails), dtype=np.int32))
    if solver.maximum_flow() < total_need:
        return _explain_shortfall(problem, network, flows, judge_node)
    return _to_assignment(problem, network, flows, previous)


def _build_network(
    problem: _Problem,
    affinity: Mapping[Pair, float],
    previous: set[Pair],
    balance_weight: float,
) -> tuple[_Network, dict[str, int]]:
    entry_node = {entry.id: _FIRST_ENTRY_NODE + i for i, entry in enumerate(problem.entries)}
    judge_node = {
        judge.id: _FIRST_ENTRY_NODE + len(problem.entries) + i
        for i, judge in enumerate(problem.judges)
    }
    network = _Network([], [], [], [], {})
    for entry in problem.entries:
        network.add(_SOURCE, entry_node[entry.id], _need(problem, entry.id), 0)
    pair_costs = _pair_costs(problem, affinity, previous, balance_weight)
    for (judge_id, entry_id), cost in pair_costs.items():
        arc = network.add(entry_node[entry_id], judge_node[judge_id], 1, cost)
        network.pair_of_arc[arc] = (judge_id, entry_id)
    _add_balance_arcs(problem, network, judge_node, balance_weight)
    return network, judge_node


def _pair_costs(
    problem: _Problem,
    affinity: Mapping[Pair, float],
    previous: set[Pair],
    balance_weight: float,
) -> dict[Pair, int]:
    pairs = [(j, e) for e, judge_ids in problem.eligible.items() for j in judge_ids]
    soft = {pair: _scaled_cost(affinity.get(pair, 0.0)) for pair in pairs}
    lowest = min(soft.values(), default=0)
    soft = {pair: cost - lowest for pair, cost in soft.items()}  # costs >= 0; flow is fixed
    if not previous:
        return soft
    # One change must outweigh any possible sum of soft costs over the whole flow.
    worst_path = max(soft.values(), default=0) + _max_balance_cost(problem, balance_weight)
    penalty = 1 + worst_path * max(1, sum(_need(problem, e.id) for e in problem.entries))
    if penalty > _COST_LIMIT:
        raise ValueError("affinity costs are too large to keep changes strictly minimal")
    return {pair: cost + (0 if pair in previous else penalty) for pair, cost in soft.items()}


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


def _add_balance_arcs(
    problem: _Problem, network: _Network, judge_node: dict[str, int], balance_weight: float
) -> None:
    unit = _balance_unit(balance_weight)
    n_entries = len(problem.entries)
    for judge in problem.judges:
        locked_load = judge.capacity - problem.free_capacity[judge.id]
        usable = min(problem.free_capacity[judge.id], n_entries)
        for load in range(locked_load + 1, locked_load + usable + 1):
            network.add(judge_node[judge.id], _SINK, 1, unit * (2 * load - 1))


def _to_assignment(
    problem: _Problem, network: _Network, flows: np.ndarray, previous: set[Pair]
) -> Assignment:
    chosen = {entry_id: set(judges) for entry_id, judges in problem.locked_by_entry.items()}
    changes = 0
    for arc, (judge_id, entry_id) in network.pair_of_arc.items():
        if flows[arc] > 0:
            chosen[entry_id].add(judge_id)
            changes += (judge_id, entry_id) not in previous
    return Assignment({e: tuple(sorted(judges)) for e, judges in chosen.items()}, changes)


def _explain_shortfall(
    problem: _Problem, network: _Network, flows: np.ndarray, judge_node: dict[str, int]
) -> Infeasible:
    """Use the minimum cut (nodes reachable in the residual graph) as a Hall-type witness."""
    reachable = _residual_reachable(network, flows)
    entry_ids = [entry.id for entry in problem.entries]
    received = _count(
        entry_id for arc, (_j, entry_id) in network.pair_of_arc.items() if flows[arc] > 0
    )
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
    for arc, (tail, head) in enumerate(zip(network.tails, network.heads, strict=True)):
        if flows[arc] < network.capacities[arc]:
            adjacency[tail].append(head)
        if flows[arc] > 0:
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
