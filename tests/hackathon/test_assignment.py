"""Tests for judge assignment: hard constraints, infeasibility reports, balance, repair."""

from __future__ import annotations

import itertools
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field

import networkx as nx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hackathon.assignment import (
    Assignment,
    Entry,
    Infeasible,
    Judge,
    Pair,
    assign_judges,
    is_eligible,
    repair_assignment,
)


@dataclass
class Instance:
    entries: list[Entry]
    judges: list[Judge]
    k: int
    conflicts: set[Pair] = field(default_factory=set)
    require_site: bool = False
    require_language: bool = False

    @property
    def constraints(self) -> dict[str, object]:
        return {
            "conflicts": self.conflicts,
            "require_site": self.require_site,
            "require_language": self.require_language,
        }

    def eligible(self, judge: Judge, entry: Entry) -> bool:
        return is_eligible(judge, entry, self.conflicts, self.require_site, self.require_language)


def assert_valid(result: Assignment, instance: Instance, locked: Collection[Pair] = ()) -> None:
    """Independent check of every hard constraint."""
    entry_by_id = {e.id: e for e in instance.entries}
    judge_by_id = {j.id: j for j in instance.judges}
    assert set(result.judges_by_entry) == set(entry_by_id)
    for entry_id, judge_ids in result.judges_by_entry.items():
        assert len(judge_ids) == instance.k
        assert len(set(judge_ids)) == instance.k
        entry = entry_by_id[entry_id]
        for judge_id in judge_ids:
            judge = judge_by_id[judge_id]
            assert (judge_id, entry_id) not in instance.conflicts
            if instance.require_site and entry.site is not None:
                assert entry.site in judge.sites
            if instance.require_language and entry.language is not None:
                assert entry.language in judge.languages
    for judge_id, load in result.load().items():
        assert load <= judge_by_id[judge_id].capacity
    assert set(locked) <= result.pairs()


def feasible_assignments(
    instance: Instance, locked: Collection[Pair] = ()
) -> Iterator[dict[str, tuple[str, ...]]]:
    """Brute force: every assignment satisfying all hard constraints."""
    locked_by_entry = {e.id: {j for j, x in locked if x == e.id} for e in instance.entries}
    options = []
    for entry in instance.entries:
        must = locked_by_entry[entry.id]
        free = [j.id for j in instance.judges if j.id not in must and instance.eligible(j, entry)]
        extra = instance.k - len(must)
        if extra < 0:
            return
        options.append(
            [tuple(sorted(must | set(combo))) for combo in itertools.combinations(free, extra)]
        )
    capacity = {j.id: j.capacity for j in instance.judges}
    for choice in itertools.product(*options):
        load: dict[str, int] = {}
        for judge_ids in choice:
            for judge_id in judge_ids:
                load[judge_id] = load.get(judge_id, 0) + 1
        if all(load[j] <= capacity[j] for j in load):
            yield {e.id: judges for e, judges in zip(instance.entries, choice, strict=True)}


def squared_load(judges_by_entry: dict[str, tuple[str, ...]]) -> int:
    load: dict[str, int] = {}
    for judge_ids in judges_by_entry.values():
        for judge_id in judge_ids:
            load[judge_id] = load.get(judge_id, 0) + 1
    return sum(value * value for value in load.values())


def networkx_is_feasible(instance: Instance) -> bool:
    """Independent feasibility check with networkx's maximum flow."""
    graph = nx.DiGraph()
    for entry in instance.entries:
        graph.add_edge("source", ("e", entry.id), capacity=instance.k)
        for judge in instance.judges:
            if instance.eligible(judge, entry):
                graph.add_edge(("e", entry.id), ("j", judge.id), capacity=1)
    for judge in instance.judges:
        graph.add_edge(("j", judge.id), "sink", capacity=judge.capacity)
    if not instance.entries:
        return True
    graph.add_node("sink")
    value, _ = nx.maximum_flow(graph, "source", "sink")
    return value == instance.k * len(instance.entries)


@st.composite
def instances(draw: st.DrawFn, max_entries: int, max_judges: int, max_k: int) -> Instance:
    """Random instances, biased (full skill sets, few conflicts) so about half are feasible."""
    sites = ["north", "south"]
    languages = ["en", "fr"]
    k = draw(st.integers(1, max_k))
    entries = [
        Entry(
            f"e{i}",
            draw(st.sampled_from([None, *sites])),
            draw(st.sampled_from([None, *languages])),
        )
        for i in range(draw(st.integers(1, max_entries)))
    ]
    site_sets = [frozenset(sites)] * 3 + [frozenset({s}) for s in sites] + [frozenset()]
    language_sets = [frozenset(languages)] * 3 + [frozenset({x}) for x in languages]
    judges = [
        Judge(
            f"j{i}",
            draw(st.integers(0, len(entries))),
            draw(st.sampled_from(site_sets)),
            draw(st.sampled_from(language_sets)),
        )
        for i in range(draw(st.integers(k, max(k, max_judges))))
    ]
    all_pairs = [(j.id, e.id) for j in judges for e in entries]
    conflicts = draw(st.sets(st.sampled_from(all_pairs), max_size=len(all_pairs) // 4))
    return Instance(entries, judges, k, conflicts, draw(st.booleans()), draw(st.booleans()))


@settings(max_examples=300, deadline=None)
@given(instances(max_entries=4, max_judges=4, max_k=2))
def test_agrees_with_brute_force_and_balances_optimally(instance: Instance) -> None:
    result = assign_judges(instance.entries, instance.judges, instance.k, **instance.constraints)
    solutions = list(feasible_assignments(instance))
    if not solutions:
        assert isinstance(result, Infeasible)
        assert result.reasons
        return
    assert isinstance(result, Assignment)
    assert_valid(result, instance)
    best = min(squared_load(solution) for solution in solutions)
    assert squared_load(result.judges_by_entry) == best


@settings(max_examples=150, deadline=None)
@given(instances(max_entries=12, max_judges=7, max_k=3))
def test_agrees_with_networkx_max_flow(instance: Instance) -> None:
    result = assign_judges(instance.entries, instance.judges, instance.k, **instance.constraints)
    if networkx_is_feasible(instance):
        assert isinstance(result, Assignment)
        assert_valid(result, instance)
    else:
        assert isinstance(result, Infeasible)
        assert result.reasons


def test_unconstrained_loads_are_even() -> None:
    entries = [Entry(f"e{i}") for i in range(37)]
    judges = [Judge(f"j{i}", 30) for i in range(8)]
    result = assign_judges(entries, judges, 3)
    assert isinstance(result, Assignment)
    loads = result.load()
    assert sum(loads.values()) == 111
    assert max(loads.values()) - min(loads.values()) <= 1


def test_entry_with_too_few_eligible_judges_is_named() -> None:
    entries = [Entry("E", site="north"), Entry("F", site="south")]
    judges = [
        Judge("a", 5, frozenset({"north"})),
        Judge("b", 5, frozenset({"north", "south"})),
        Judge("c", 5, frozenset({"south"})),
        Judge("d", 5, frozenset({"south"})),
    ]
    result = assign_judges(entries, judges, 3, require_site=True)
    assert isinstance(result, Infeasible)
    assert "entry E has only 2 eligible judges but k=3" in result.reasons
    assert result.short_entries == {"E": 1}


def test_total_capacity_shortfall_is_reported() -> None:
    entries = [Entry(f"e{i}") for i in range(120)]
    judges = [Judge(f"j{i}", 9) for i in range(10)]
    result = assign_judges(entries, judges, 3)
    assert isinstance(result, Infeasible)
    assert "total capacity 90 < 120 entries × k=3 = 360" in result.reasons


def test_hall_violation_is_explained_with_entries_left_short() -> None:
    # Judges a and b are the only ones for e0..e2; together they have 5 slots for 6 needs.
    entries = [Entry(f"e{i}") for i in range(4)]
    judges = [Judge("a", 3), Judge("b", 2), Judge("c", 8), Judge("d", 8)]
    conflicts = {(j, e) for j in "cd" for e in ("e0", "e1", "e2")}
    result = assign_judges(entries, judges, 2, conflicts=conflicts)
    assert isinstance(result, Infeasible)
    assert sum(result.short_entries.values()) == 1
    assert set(result.short_entries) <= {"e0", "e1", "e2"}
    assert any("can supply only" in reason for reason in result.reasons)
    assert any("entries left short" in reason for reason in result.reasons)


def test_locked_pairs_are_kept_and_count_towards_capacity() -> None:
    entries = [Entry(f"e{i}") for i in range(4)]
    judges = [Judge("a", 2), Judge("b", 4), Judge("c", 4)]
    locked = {("a", "e0"), ("a", "e1")}
    result = assign_judges(entries, judges, 2, locked=locked)
    assert isinstance(result, Assignment)
    assert locked <= result.pairs()
    assert result.load()["a"] == 2


@pytest.mark.parametrize(
    ("locked", "fragment"),
    [
        ({("a", "e0")}, "breaks a hard constraint"),
        ({("b", "e1"), ("b", "e2"), ("b", "e3")}, "capacity 2"),
        ({("b", "e1"), ("c", "e1")}, "k=1"),
    ],
)
def test_locked_pairs_breaking_constraints_are_infeasible(locked: set[Pair], fragment: str) -> None:
    entries = [Entry(f"e{i}") for i in range(4)]
    judges = [Judge("a", 4), Judge("b", 2), Judge("c", 4)]
    result = assign_judges(entries, judges, 1, conflicts={("a", "e0")}, locked=locked)
    assert isinstance(result, Infeasible)
    assert any(fragment in reason for reason in result.reasons)


def test_unknown_locked_pair_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown"):
        assign_judges([Entry("e")], [Judge("a", 1)], 1, locked={("zz", "e")})


def test_affinity_prefers_cheaper_judges() -> None:
    entries = [Entry("e0"), Entry("e1")]
    judges = [Judge("a", 1), Judge("b", 1)]
    affinity = {("a", "e1"): -1.0, ("b", "e0"): -1.0}
    result = assign_judges(entries, judges, 1, affinity=affinity)
    assert isinstance(result, Assignment)
    assert result.judges_by_entry == {"e0": ("b",), "e1": ("a",)}


def test_previous_pairs_are_kept_over_balance() -> None:
    entries = [Entry(f"e{i}") for i in range(4)]
    judges = [Judge("a", 4), Judge("b", 4)]
    previous = {("a", f"e{i}") for i in range(4)}
    result = assign_judges(entries, judges, 1, previous=previous)
    assert isinstance(result, Assignment)
    assert result.pairs() == previous
    assert result.changes == 0


def test_repair_replaces_only_the_dropped_judge() -> None:
    entries = [Entry(f"e{i}") for i in range(30)]
    judges = [Judge(f"j{i}", 14) for i in range(8)]
    first = assign_judges(entries, judges, 3)
    assert isinstance(first, Assignment)
    dropped = "j0"
    finished = {p for p in first.pairs() if int(p[1][1:]) % 2 == 0}
    repaired = repair_assignment(entries, judges, 3, first.judges_by_entry, {dropped}, finished)
    assert isinstance(repaired, Assignment)
    assert finished <= repaired.pairs()
    unfinished_of_dropped = {p for p in first.pairs() if p[0] == dropped and p not in finished}
    assert repaired.pairs() >= first.pairs() - unfinished_of_dropped
    assert repaired.changes == len(unfinished_of_dropped)
    assert all(j != dropped for j, _ in repaired.pairs() - finished)


@st.composite
def repair_cases(draw: st.DrawFn) -> tuple[Instance, dict[str, tuple[str, ...]], str, set[Pair]]:
    instance = draw(instances(max_entries=4, max_judges=5, max_k=2))
    first = assign_judges(instance.entries, instance.judges, instance.k, **instance.constraints)
    if not isinstance(first, Assignment):
        instance.judges = [
            Judge(j.id, len(instance.entries), j.sites, j.languages) for j in instance.judges
        ]
        instance.conflicts = set()
        instance.require_site = instance.require_language = False
        first = assign_judges(instance.entries, instance.judges, instance.k)
    if not isinstance(first, Assignment):  # fewer judges than k: nothing to repair
        return instance, {}, "", set()
    dropped = draw(st.sampled_from([j.id for j in instance.judges]))
    finished = draw(st.sets(st.sampled_from(sorted(first.pairs()))))
    return instance, first.judges_by_entry, dropped, finished


@settings(max_examples=300, deadline=None)
@given(repair_cases())
def test_repair_keeps_finished_pairs_and_changes_as_little_as_possible(
    case: tuple[Instance, dict[str, tuple[str, ...]], str, set[Pair]],
) -> None:
    instance, current, dropped, finished = case
    if not current:
        return
    result = repair_assignment(
        instance.entries,
        instance.judges,
        instance.k,
        current,
        {dropped},
        finished,
        **instance.constraints,
    )
    done_by_dropped = sum(1 for j, _ in finished if j == dropped)
    reduced = Instance(
        instance.entries,
        [
            j if j.id != dropped else Judge(j.id, done_by_dropped, j.sites, j.languages)
            for j in instance.judges
        ],
        instance.k,
        instance.conflicts,
        instance.require_site,
        instance.require_language,
    )
    solutions = list(feasible_assignments(reduced, finished))
    if not solutions:
        assert isinstance(result, Infeasible)
        return
    assert isinstance(result, Assignment)
    assert_valid(result, reduced, finished)
    assert all(j != dropped for j, _ in result.pairs() - finished)
    kept = {(j, e) for e, js in current.items() for j in js if j != dropped} | finished
    fewest = min(sum(1 for e, js in s.items() for j in js if (j, e) not in kept) for s in solutions)
    assert result.changes == fewest
