"""Pairwise judging for a crowd of judges (issue 16, item 4): no pair twice for a judge, no
pair another judge holds, Gavel's exploration share seeded per request, a reliability that
tells random answers from careful ones, and the organiser's view of a pairwise round."""

from __future__ import annotations

import math
import random

from hackathon.models import PairLease
from hackathon.pairwise import (
    EXPLORATION,
    Comparison,
    apply_comparison,
    choose_next,
    judge_agreement,
    new_state,
)
from hackathon.services import expo
from tests.conftest import person
from tests.hackathon.conftest import JUDGING_NOW, bearer, make_contest, make_judge, make_team


async def _pairwise_contest(n: int = 4):
    contest = await make_contest(judging_mode="pairwise", **JUDGING_NOW)
    entries = []
    for i in range(n):
        team = await make_team(
            contest,
            f"Team {i}",
            track="tourism" if i % 2 else "traffic",
            members=(f"member{i}@example.org",),
            title=f"Entry {i}",
        )
        entries.append(await team.submission)
    return contest, entries


def _pair(response) -> frozenset[int]:
    return frozenset(p["submission_id"] for p in response.json()["pair"])


async def test_judges_asking_together_get_different_pairs_and_a_reload_keeps_its_pair(client):
    contest, _entries = await _pairwise_contest(4)
    first = await bearer(await make_judge(contest, "first@example.org"))
    second = await bearer(await make_judge(contest, "second@example.org"))
    url = f"/api/v1/contests/{contest.id}/pairs/next"
    a = _pair(await client.get(url, headers=first))
    b = _pair(await client.get(url, headers=second))
    assert a != b and not a & b  # four entries: the second judge gets the two others
    assert _pair(await client.get(url, headers=first)) == a  # a reload: the same pair
    assert await PairLease.all().count() == 2


async def test_a_judge_never_sees_a_pair_twice(client):
    contest, entries = await _pairwise_contest(4)
    judge = await make_judge(contest, "judge@example.org")
    headers = await bearer(judge)
    url = f"/api/v1/contests/{contest.id}/pairs/next"
    seen: list[frozenset[int]] = []
    for _ in range(6):  # four entries: six pairs
        response = await client.get(url, headers=headers)
        pair = _pair(response)
        assert pair not in seen
        seen.append(pair)
        winner, loser = sorted(pair)
        posted = await client.post(
            f"/api/v1/contests/{contest.id}/comparisons",
            json={"winner_id": winner, "loser_id": loser},
            headers=headers,
        )
        assert posted.status_code == 201
    assert (await client.get(url, headers=headers)).json()["pair"] is None
    assert await PairLease.filter(judge_id=judge.id).count() == 0


async def test_the_exploration_is_reproducible_with_a_seed(app):
    contest, _entries = await _pairwise_contest(6)
    judge = await make_judge(contest, "judge@example.org")
    chosen = set()
    for seed in range(12):
        await PairLease.all().delete()
        pair = await expo.next_pair(judge, contest, seed=seed)
        await PairLease.all().delete()
        again = await expo.next_pair(judge, contest, seed=seed)
        assert (pair.first.id, pair.second.id) == (again.first.id, again.second.id)
        chosen.add(frozenset((pair.first.id, pair.second.id)))
    assert len(chosen) > 1  # some requests explore


def test_gavels_exploration_share_is_kept() -> None:
    state = new_state([f"e{i}" for i in range(30)])
    rng = random.Random(5)
    for n in range(200):
        a, b = rng.sample(state.entry_ids, 2)
        apply_comparison(state, Comparison(f"j{n % 5}", a, b))
    greedy = choose_next(state, "j0")
    differs = sum(
        choose_next(state, "j0", rng=random.Random(seed)) != greedy for seed in range(2000)
    )
    # A random pair of 435 is almost never the greedy one: the share is EXPLORATION.
    assert abs(differs / 2000 - EXPLORATION) < 0.04
    assert choose_next(state, "j0", rng=random.Random(1), exploration=0) == greedy


def test_held_and_compared_pairs_are_never_proposed() -> None:
    ids = [f"e{i}" for i in range(6)]
    state = new_state(ids)
    all_pairs = [(a, b) for i, a in enumerate(ids) for b in ids[i + 1 :]]
    for seed in range(50):
        rng = random.Random(seed)
        seen = rng.sample(all_pairs, 7)
        busy = rng.sample([p for p in all_pairs if p not in seen], 4)
        for current in (None, "e0"):
            pair = choose_next(
                state,
                "j",
                current=current,
                seen_pairs=seen,
                busy_pairs=busy,
                rng=random.Random(seed),
                exploration=0.5,
            )
            if pair is not None:
                assert frozenset(pair) not in {frozenset(p) for p in (*seen, *busy)}
    # Only forbidden pairs left: none.
    assert choose_next(state, "j", seen_pairs=all_pairs[:10], busy_pairs=all_pairs[10:]) is None


def test_reliability_separates_random_answers_from_careful_ones() -> None:
    rng = random.Random(11)
    ids = [f"e{i:02d}" for i in range(30)]
    strength = {e: rng.gauss(0, 1.5) for e in ids}
    careless = {"r1", "r2"}
    judges = [*careless, *(f"c{k}" for k in range(8))]
    state = new_state(ids)
    seen: dict[str, list] = {j: [] for j in judges}
    for n in range(800):
        judge = judges[n % len(judges)]
        a, b = choose_next(state, judge, seen_pairs=seen[judge], rng=random.Random(n))
        p = 0.5 if judge in careless else 1 / (1 + math.exp(strength[b] - strength[a]))
        winner, loser = (a, b) if rng.random() < p else (b, a)
        apply_comparison(state, Comparison(judge, winner, loser))
        seen[judge].append((a, b))
    agreement = judge_agreement(state)
    random_top = max(agreement[j].reliability for j in careless)
    careful_low = min(agreement[j].reliability for j in judges if j not in careless)
    assert random_top < 0.65 < careful_low
    assert all(agreement[j].comparisons == 80 for j in judges)


async def test_the_organiser_sees_coverage_progress_and_the_ranking(client, browser):
    contest, entries = await _pairwise_contest(4)
    judge = await make_judge(contest, "judge@example.org")
    await make_judge(contest, "idle@example.org")
    headers = await bearer(judge)
    for winner, loser in ((0, 1), (0, 2), (1, 3)):
        await client.post(
            f"/api/v1/contests/{contest.id}/comparisons",
            json={"winner_id": entries[winner].id, "loser_id": entries[loser].id},
            headers=headers,
        )
    await browser.login(contest.organiser.email)
    page = await browser.get(f"/contests/{contest.slug}/manage")
    assert page.status_code == 200
    text = page.text
    assert 'id="pairwise-overview"' in text
    assert "3 comparisons of 4 entries; 3 of 6 possible pairs compared." in text
    assert "Entries never compared: 0" in text
    judges = text[
        text.index('id="pairwise-judges"') : text.index("</table>", text.index("pairwise-judges"))
    ]
    assert "judge@example.org" not in judges  # names, not e-mail addresses
    assert judges.count("<tr>") == 3  # a header row and the two judges
    ranking = text[text.index("table ranking") :]
    assert "Entry 0" in ranking and " – " in ranking  # the interval of each entry
    for who in (judge, await person("member.outside@example.org")):
        await browser.login(who.email)
        assert (await browser.get(f"/contests/{contest.slug}/manage")).status_code == 403


async def test_the_pairwise_pages_cost_the_same_queries_for_few_and_many(
    client, browser, count_queries
):
    contest, entries = await _pairwise_contest(3)
    judges = [await make_judge(contest, f"judge{i}@example.org") for i in range(2)]
    await browser.login(contest.organiser.email)

    async def measure() -> tuple[int, int]:
        headers = await bearer(judges[0])
        await client.post(
            f"/api/v1/contests/{contest.id}/comparisons",
            json={"winner_id": entries[0].id, "loser_id": entries[-1].id},
            headers=headers,
        )
        with count_queries() as page:
            response = await browser.get(f"/contests/{contest.slug}/manage")
        assert response.status_code == 200
        await PairLease.all().delete()
        with count_queries() as pair:
            response = await client.get(
                f"/api/v1/contests/{contest.id}/pairs/next", headers=headers
            )
        assert response.status_code == 200
        return len(page.statements), len(pair.statements)

    small = await measure()
    assert small[0] > 5 and small[1] > 3, small  # the counter sees the statements
    for i in range(3, 12):
        team = await make_team(
            contest, f"Team {i}", members=(f"member{i}@example.org",), title=f"Entry {i}"
        )
        entries.append(await team.submission)
    judges += [await make_judge(contest, f"judge{i}@example.org") for i in range(2, 6)]
    for judge in judges[1:]:
        await expo.next_pair(judge, contest, seed=1)  # other judges hold pairs
    assert await measure() == small
