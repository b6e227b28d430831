"""Judges' conflicts and preferences (bids), declared before the assignment.

A judge sees every entry of the current round and, for each, declares a conflict of interest
(with the entry's team: one entry per team, so "entry or team" is one thing) or a bid: want,
could, rather not. The solver (`hackathon.assignment`) never assigns a conflicted pair and
turns bids into soft costs (`judging.BID_COST`): among assignments that give every entry its
k judges, it prefers the one that honours the most bids, weighed against an even load.

Declaring a conflict withdraws the judge's unscored assignment to that entry at once; a
judge may withdraw a conflict they declared themselves (not one found from an organisation
or a team membership).
"""

from __future__ import annotations

from dataclasses import dataclass

from ecosystem.db import atomic
from ecosystem.errors import Conflict, Invalid
from ecosystem.i18n import _
from ecosystem.labels import N_
from ecosystem.models import User
from ecosystem.services import audit
from hackathon import permissions
from hackathon.models import Bid, BidLevel, Contest, JudgeAssignment, Submission
from hackathon.models import Conflict as DeclaredConflict
from hackathon.services.contests import current_round
from hackathon.services.judging import conflict_pairs, round_entries

CONFLICT = "conflict"
CHOICES = ("", *(level.value for level in BidLevel), CONFLICT)
CHOICE_LABELS = {  # what the judge reads, translated when shown
    "": N_("No preference"),
    "want": N_("I want to judge it"),
    "could": N_("I could judge it"),
    "rather_not": N_("Rather not"),
    "conflict": N_("Conflict of interest"),
}
AUTOMATIC_LABELS = {
    "organisation": N_("In conflict: you belong to the team's organisation."),
    "member": N_("In conflict: you are a member of this team."),
}


@dataclass
class Preference:
    submission: Submission
    choice: str  # "" (no preference), a BidLevel value, or "conflict"
    automatic: str  # why the judge is in conflict without declaring it ("organisation", …)
    reason: str


async def preferences(judge: User, contest: Contest) -> list[Preference]:
    """Every entry of the current round with the judge's bid or conflict (five queries)."""
    await permissions.ensure(judge, "contest.judge", contest)
    entries = await round_entries(await current_round(contest))
    bids = {
        row["submission_id"]: row["level"]
        for row in await Bid.filter(contest_id=contest.id, judge_id=judge.id).values(
            "submission_id", "level"
        )
    }
    conflicts = await conflict_pairs(contest, [judge.id])
    rows = []
    for entry in entries:
        why = conflicts.get((judge.id, entry.team_id))  # type: ignore[attr-defined]
        if why is None:
            rows.append(Preference(entry, str(bids.get(entry.id) or ""), "", ""))
        elif why in ("organisation", "member"):
            rows.append(Preference(entry, CONFLICT, why, ""))
        else:
            rows.append(Preference(entry, CONFLICT, "", "" if why == "declared" else why))
    return rows


async def save_preferences(
    judge: User, contest: Contest, choices: dict[int, str], reasons: dict[int, str]
) -> int:
    """Record the judge's choices (submission id -> "", want, could, rather_not, conflict), all
    or nothing; returns how many changed. 403 for anyone but an active judge (a verified
    account); 409 once the results are published; 422 for an unknown entry or choice."""
    current = {p.submission.id: p for p in await preferences(judge, contest)}
    if contest.results_published_at is not None:
        raise Conflict(_("The results are published: preferences can no longer change."))
    for submission_id, choice in choices.items():
        if submission_id not in current:
            raise Invalid(_("This entry does not exist."), fields={"entry": str(submission_id)})
        if choice not in CHOICES:
            raise Invalid(_("Choose one of the offered answers."), fields={"entry": choice})
    changed = 0
    async with atomic():
        for submission_id, choice in choices.items():
            before = current[submission_id]
            reason = reasons.get(submission_id, "").strip()[:300]
            if before.automatic:
                continue  # an automatic conflict is not the judge's to withdraw
            if choice == before.choice and (choice != CONFLICT or reason in ("", before.reason)):
                continue
            changed += 1
            team_id = before.submission.team_id  # type: ignore[attr-defined]
            if choice == CONFLICT:
                await Bid.filter(judge_id=judge.id, submission_id=submission_id).delete()
                row, created = await DeclaredConflict.get_or_create(
                    contest_id=contest.id,
                    judge_id=judge.id,
                    team_id=team_id,
                    defaults={"reason": reason or "declared"},
                )
                if not created and reason:
                    row.reason = reason
                    await row.save(update_fields=["reason"])
                await JudgeAssignment.filter(
                    judge_id=judge.id, submission_id=submission_id, completed_at=None
                ).delete()
                continue
            if before.choice == CONFLICT:
                await DeclaredConflict.filter(
                    contest_id=contest.id, judge_id=judge.id, team_id=team_id
                ).delete()
            if choice:
                await Bid.update_or_create(
                    judge_id=judge.id,
                    submission_id=submission_id,
                    defaults={"contest_id": contest.id, "level": BidLevel(choice)},
                )
            else:
                await Bid.filter(judge_id=judge.id, submission_id=submission_id).delete()
        if changed:
            await audit.record("contest.preferences", actor=judge, target=contest, changed=changed)
    return changed
