"""Contests: hackathons and idea contests across sites, teams, submissions, judging, results.

Scores. Two tables hold the scores, with different jobs:

* `ScoreEvent` is the append-only log (never updated, never deleted): every change a judge
  makes is a new row carrying the new value and the value it replaced (`None` = no score).
  An undo is one more event restoring the previous value, tied to the batch it reverts.
  Results, rankings and the published hash are computed from this log only.
* `CurrentScore` is a projection of the log, one row per (round, judge, submission,
  criterion), written in the same transaction as each event. Its unique constraint is the
  database's guarantee of "one score per (judge, submission, criterion)"; it serves the
  scoring sheet and the coverage counts quickly. The results service checks that replaying
  the log gives exactly the projection before it publishes anything.

Comparisons of the pairwise mode are a log too (`Comparison`, with undo as a new row that
names the comparison it withdraws). Public votes: one per user per contest (unique).
"""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from ecosystem.content import content_fields


class ContestKind(StrEnum):
    HACKATHON = "hackathon"
    IDEA = "idea"


class Phase(StrEnum):
    REGISTRATION = "registration"
    SUBMISSION = "submission"
    JUDGING = "judging"
    RESULTS = "results"


class JudgingMode(StrEnum):
    RUBRIC = "rubric"
    PAIRWISE = "pairwise"


class ContestRoleKind(StrEnum):
    ORGANISER = "organiser"
    JUDGE = "judge"


class MemberStatus(StrEnum):
    INVITED = "invited"
    ACTIVE = "active"


class BidLevel(StrEnum):
    """A judge's preference for an entry, declared before assignment (HotCRP's bids)."""

    WANT = "want"
    COULD = "could"
    RATHER_NOT = "rather_not"


class CertificateKind(StrEnum):
    PARTICIPANT = "participant"
    JUDGE = "judge"
    WINNER = "winner"


class Contest(Model):
    id = fields.IntField(primary_key=True)
    slug = fields.CharField(max_length=80, unique=True)
    title = fields.CharField(max_length=200)
    kind = fields.CharEnumField(ContestKind, max_length=16, default=ContestKind.HACKATHON)
    description = fields.TextField(default="")
    eligibility = fields.TextField(default="")
    organisation: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "ecosystem.Organisation", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    timezone = fields.CharField(max_length=64, default="Asia/Ho_Chi_Minh")  # of the deadlines
    team_min = fields.SmallIntField(default=1)
    team_max = fields.SmallIntField(default=5)
    registration_closes_at = fields.DatetimeField()
    submission_closes_at = fields.DatetimeField()
    judging_closes_at = fields.DatetimeField()
    blind = fields.BooleanField(default=False)
    judging_mode = fields.CharEnumField(JudgingMode, max_length=16, default=JudgingMode.RUBRIC)
    require_site = fields.BooleanField(default=False)
    require_language = fields.BooleanField(default=False)
    public_vote = fields.BooleanField(default=True)
    results_published_at = fields.DatetimeField(null=True)
    results_hash = fields.CharField(max_length=64, default="")
    results = fields.JSONField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    # title, description, eligibility in several languages (ecosystem.content)
    content_locale, translations = content_fields()

    class Meta:
        table = "hackathon_contest"


class Site(Model):
    """A place the contest runs at, with its own time zone and language."""

    id = fields.IntField(primary_key=True)
    contest: fields.ForeignKeyRelation[Contest] = fields.ForeignKeyField(
        "hackathon.Contest", related_name="sites", on_delete=fields.CASCADE
    )
    code = fields.CharField(max_length=16)
    name = fields.CharField(max_length=200)
    timezone = fields.CharField(max_length=64, default="Asia/Ho_Chi_Minh")
    language = fields.CharField(max_length=8, default="vi")
    country = fields.CharField(max_length=2, default="VN")

    class Meta:
        table = "hackathon_site"
        unique_together = (("contest", "code"),)


class Track(Model):
    id = fields.IntField(primary_key=True)
    contest: fields.ForeignKeyRelation[Contest] = fields.ForeignKeyField(
        "hackathon.Contest", related_name="tracks", on_delete=fields.CASCADE
    )
    code = fields.CharField(max_length=32)
    name = fields.CharField(max_length=200)
    description = fields.TextField(default="")
    position = fields.SmallIntField(default=0)
    content_locale, translations = content_fields()  # name, description

    class Meta:
        table = "hackathon_track"
        unique_together = (("contest", "code"),)


class Prize(Model):
    """A prize of a track (`track` set) or of the public vote (`public_vote`)."""

    id = fields.IntField(primary_key=True)
    contest: fields.ForeignKeyRelation[Contest] = fields.ForeignKeyField(
        "hackathon.Contest", related_name="prizes", on_delete=fields.CASCADE
    )
    track: fields.ForeignKeyNullableRelation[Track] = fields.ForeignKeyField(
        "hackathon.Track", related_name="prizes", null=True, on_delete=fields.CASCADE
    )
    name = fields.CharField(max_length=200)
    rank = fields.SmallIntField(default=1)
    amount = fields.BigIntField(default=0)  # minor units of `currency` (VND has none)
    currency = fields.CharField(max_length=3, default="VND")
    public_vote = fields.BooleanField(default=False)
    content_locale, translations = content_fields()  # name

    class Meta:
        table = "hackathon_prize"


class ContestRole(Model):
    """An organiser or a judge of one contest, with a judge's site, languages and state."""

    id = fields.IntField(primary_key=True)
    contest: fields.ForeignKeyRelation[Contest] = fields.ForeignKeyField(
        "hackathon.Contest", related_name="roles", on_delete=fields.CASCADE
    )
    user: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "ecosystem.User", related_name=False, on_delete=fields.CASCADE
    )
    role = fields.CharEnumField(ContestRoleKind, max_length=16)
    site: fields.ForeignKeyNullableRelation[Site] = fields.ForeignKeyField(
        "hackathon.Site", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    languages = fields.CharField(max_length=64, default="vi,en")
    active = fields.BooleanField(default=True)  # False: a judge who dropped out
    reminded_at = fields.DatetimeField(null=True)  # the judging-deadline reminder
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "hackathon_role"
        unique_together = (("contest", "user", "role"),)


class Round(Model):
    """A judging round with its own rubric, judges per entry and load cap."""

    id = fields.IntField(primary_key=True)
    contest: fields.ForeignKeyRelation[Contest] = fields.ForeignKeyField(
        "hackathon.Contest", related_name="rounds", on_delete=fields.CASCADE
    )
    number = fields.SmallIntField(default=1)
    name = fields.CharField(max_length=200)
    judges_per_entry = fields.SmallIntField(default=3)
    load_cap = fields.SmallIntField(default=20)
    shortlist_size = fields.SmallIntField(null=True)  # round 2+: how many came through
    judge_ids = fields.JSONField(null=True)  # the round's own judges (None: every judge)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "hackathon_round"
        unique_together = (("contest", "number"),)


class Criterion(Model):
    id = fields.IntField(primary_key=True)
    round: fields.ForeignKeyRelation[Round] = fields.ForeignKeyField(
        "hackathon.Round", related_name="criteria", on_delete=fields.CASCADE
    )
    code = fields.CharField(max_length=32)
    name = fields.CharField(max_length=200)
    description = fields.TextField(default="")
    weight = fields.FloatField(default=1.0)
    scale_min = fields.SmallIntField(default=0)
    scale_max = fields.SmallIntField(default=10)
    step = fields.FloatField(default=0.5)  # a score is scale_min + a multiple of step
    position = fields.SmallIntField(default=0)
    content_locale, translations = content_fields()  # name, description

    class Meta:
        table = "hackathon_criterion"
        unique_together = (("round", "code"),)


class Team(Model):
    id = fields.IntField(primary_key=True)
    contest: fields.ForeignKeyRelation[Contest] = fields.ForeignKeyField(
        "hackathon.Contest", related_name="teams", on_delete=fields.CASCADE
    )
    name = fields.CharField(max_length=200)
    site: fields.ForeignKeyRelation[Site] = fields.ForeignKeyField(
        "hackathon.Site", related_name="teams", on_delete=fields.RESTRICT
    )
    track: fields.ForeignKeyRelation[Track] = fields.ForeignKeyField(
        "hackathon.Track", related_name="teams", on_delete=fields.RESTRICT
    )
    organisation: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "ecosystem.Organisation", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    late_until = fields.DatetimeField(null=True)  # a late window granted by an organiser
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "hackathon_team"
        unique_together = (("contest", "name"),)


class TeamMember(Model):
    id = fields.IntField(primary_key=True)
    team: fields.ForeignKeyRelation[Team] = fields.ForeignKeyField(
        "hackathon.Team", related_name="members", on_delete=fields.CASCADE
    )
    user: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "ecosystem.User", related_name=False, null=True, on_delete=fields.CASCADE
    )
    email = fields.CharField(max_length=254)
    status = fields.CharEnumField(MemberStatus, max_length=16)
    is_lead = fields.BooleanField(default=False)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "hackathon_team_member"
        unique_together = (("team", "email"),)


class Submission(Model):
    """A team's entry (one per team), every saved version kept in SubmissionVersion."""

    id = fields.IntField(primary_key=True)
    contest: fields.ForeignKeyRelation[Contest] = fields.ForeignKeyField(
        "hackathon.Contest", related_name="submissions", on_delete=fields.CASCADE
    )
    team: fields.OneToOneRelation[Team] = fields.OneToOneField(
        "hackathon.Team", related_name="submission", on_delete=fields.CASCADE
    )
    title = fields.CharField(max_length=200)
    summary = fields.TextField(default="")
    problem = fields.TextField(default="")
    solution = fields.TextField(default="")
    repository_url = fields.CharField(max_length=500, default="")
    demo_url = fields.CharField(max_length=500, default="")
    video_url = fields.CharField(max_length=500, default="")
    images = fields.JSONField(default=list)  # media ids
    attachments = fields.JSONField(default=list)  # [{"name", "url"}]
    version = fields.IntField(default=1)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "hackathon_submission"


class SubmissionVersion(Model):
    id = fields.IntField(primary_key=True)
    submission: fields.ForeignKeyRelation[Submission] = fields.ForeignKeyField(
        "hackathon.Submission", related_name="versions", on_delete=fields.CASCADE
    )
    version = fields.IntField()
    data = fields.JSONField()
    author: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "ecosystem.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "hackathon_submission_version"
        unique_together = (("submission", "version"),)


class Shortlist(Model):
    """An entry that goes through to a later round."""

    id = fields.IntField(primary_key=True)
    round: fields.ForeignKeyRelation[Round] = fields.ForeignKeyField(
        "hackathon.Round", related_name="shortlist", on_delete=fields.CASCADE
    )
    submission: fields.ForeignKeyRelation[Submission] = fields.ForeignKeyField(
        "hackathon.Submission", related_name=False, on_delete=fields.CASCADE
    )

    class Meta:
        table = "hackathon_shortlist"
        unique_together = (("round", "submission"),)


class Conflict(Model):
    """A conflict of interest declared by a judge (organisation ones are found automatically)."""

    id = fields.IntField(primary_key=True)
    contest: fields.ForeignKeyRelation[Contest] = fields.ForeignKeyField(
        "hackathon.Contest", related_name="conflicts", on_delete=fields.CASCADE
    )
    judge: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "ecosystem.User", related_name=False, on_delete=fields.CASCADE
    )
    team: fields.ForeignKeyRelation[Team] = fields.ForeignKeyField(
        "hackathon.Team", related_name=False, on_delete=fields.CASCADE
    )
    reason = fields.CharField(max_length=300, default="")
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "hackathon_conflict"
        unique_together = (("judge", "team"),)


class Bid(Model):
    """The preference of a judge for one entry, favoured by the assignment solver (a soft cost)."""

    id = fields.IntField(primary_key=True)
    contest: fields.ForeignKeyRelation[Contest] = fields.ForeignKeyField(
        "hackathon.Contest", related_name=False, on_delete=fields.CASCADE
    )
    judge: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "ecosystem.User", related_name=False, on_delete=fields.CASCADE
    )
    submission: fields.ForeignKeyRelation[Submission] = fields.ForeignKeyField(
        "hackathon.Submission", related_name=False, on_delete=fields.CASCADE
    )
    level = fields.CharEnumField(BidLevel, max_length=16)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "hackathon_bid"
        unique_together = (("judge", "submission"),)


class Announcement(Model):
    """A message from the organisers to the participants of a site or a track (or all),
    e-mailed to them and shown on the contest page."""

    id = fields.IntField(primary_key=True)
    contest: fields.ForeignKeyRelation[Contest] = fields.ForeignKeyField(
        "hackathon.Contest", related_name=False, on_delete=fields.CASCADE
    )
    site: fields.ForeignKeyNullableRelation[Site] = fields.ForeignKeyField(
        "hackathon.Site", related_name=False, null=True, on_delete=fields.CASCADE
    )
    track: fields.ForeignKeyNullableRelation[Track] = fields.ForeignKeyField(
        "hackathon.Track", related_name=False, null=True, on_delete=fields.CASCADE
    )
    title = fields.CharField(max_length=200)
    body = fields.TextField()
    author: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "ecosystem.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    recipients = fields.IntField(default=0)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "hackathon_announcement"


class JudgeAssignment(Model):
    id = fields.IntField(primary_key=True)
    round: fields.ForeignKeyRelation[Round] = fields.ForeignKeyField(
        "hackathon.Round", related_name="assignments", on_delete=fields.CASCADE
    )
    judge: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "ecosystem.User", related_name=False, on_delete=fields.CASCADE
    )
    submission: fields.ForeignKeyRelation[Submission] = fields.ForeignKeyField(
        "hackathon.Submission", related_name="assignments", on_delete=fields.CASCADE
    )
    completed_at = fields.DatetimeField(null=True)  # every criterion scored
    comment_team = fields.TextField(default="")
    comment_private = fields.TextField(default="")
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "hackathon_assignment"
        unique_together = (("round", "judge", "submission"),)
        indexes = (("judge_id", "round_id"),)


class ScoreEvent(Model):
    """Append-only: one change of one score (`value` None = withdrawn). See the module doc."""

    id = fields.BigIntField(primary_key=True)
    round: fields.ForeignKeyRelation[Round] = fields.ForeignKeyField(
        "hackathon.Round", related_name=False, on_delete=fields.CASCADE
    )
    judge: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "ecosystem.User", related_name=False, on_delete=fields.CASCADE
    )
    submission: fields.ForeignKeyRelation[Submission] = fields.ForeignKeyField(
        "hackathon.Submission", related_name=False, on_delete=fields.CASCADE
    )
    criterion: fields.ForeignKeyRelation[Criterion] = fields.ForeignKeyField(
        "hackathon.Criterion", related_name=False, on_delete=fields.CASCADE
    )
    value = fields.FloatField(null=True)
    previous = fields.FloatField(null=True)
    batch = fields.CharField(max_length=32)
    undoes = fields.CharField(max_length=32, default="")  # the batch an undo reverts
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "hackathon_score_event"
        indexes = (("round_id", "judge_id"),)


class CurrentScore(Model):
    """The projection of the log: one score per (round, judge, submission, criterion)."""

    id = fields.IntField(primary_key=True)
    round: fields.ForeignKeyRelation[Round] = fields.ForeignKeyField(
        "hackathon.Round", related_name=False, on_delete=fields.CASCADE
    )
    judge: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "ecosystem.User", related_name=False, on_delete=fields.CASCADE
    )
    submission: fields.ForeignKeyRelation[Submission] = fields.ForeignKeyField(
        "hackathon.Submission", related_name=False, on_delete=fields.CASCADE
    )
    criterion: fields.ForeignKeyRelation[Criterion] = fields.ForeignKeyField(
        "hackathon.Criterion", related_name=False, on_delete=fields.CASCADE
    )
    value = fields.FloatField()
    event_id = fields.BigIntField()

    class Meta:
        table = "hackathon_current_score"
        unique_together = (("round", "judge", "submission", "criterion"),)


class Comparison(Model):
    """Pairwise mode, append-only: `withdraws` set means an undo of that comparison."""

    id = fields.BigIntField(primary_key=True)
    round: fields.ForeignKeyRelation[Round] = fields.ForeignKeyField(
        "hackathon.Round", related_name=False, on_delete=fields.CASCADE
    )
    judge: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "ecosystem.User", related_name=False, on_delete=fields.CASCADE
    )
    winner: fields.ForeignKeyRelation[Submission] = fields.ForeignKeyField(
        "hackathon.Submission", related_name=False, on_delete=fields.CASCADE
    )
    loser: fields.ForeignKeyRelation[Submission] = fields.ForeignKeyField(
        "hackathon.Submission", related_name=False, on_delete=fields.CASCADE
    )
    withdraws = fields.BigIntField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "hackathon_comparison"


class Vote(Model):
    """The public vote: one per user per contest (the database refuses a second)."""

    id = fields.IntField(primary_key=True)
    contest: fields.ForeignKeyRelation[Contest] = fields.ForeignKeyField(
        "hackathon.Contest", related_name="votes", on_delete=fields.CASCADE
    )
    user: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "ecosystem.User", related_name=False, on_delete=fields.CASCADE
    )
    submission: fields.ForeignKeyRelation[Submission] = fields.ForeignKeyField(
        "hackathon.Submission", related_name=False, on_delete=fields.CASCADE
    )
    ip = fields.CharField(max_length=45, default="")
    suspicious = fields.BooleanField(default=False)
    reason = fields.CharField(max_length=200, default="")
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "hackathon_vote"
        unique_together = (("contest", "user"),)


class Award(Model):
    """A published winner: a prize given to an entry."""

    id = fields.IntField(primary_key=True)
    prize: fields.ForeignKeyRelation[Prize] = fields.ForeignKeyField(
        "hackathon.Prize", related_name="awards", on_delete=fields.CASCADE
    )
    submission: fields.ForeignKeyRelation[Submission] = fields.ForeignKeyField(
        "hackathon.Submission", related_name=False, on_delete=fields.CASCADE
    )

    class Meta:
        table = "hackathon_award"
        unique_together = (("prize", "submission"),)


class Certificate(Model):
    id = fields.IntField(primary_key=True)
    code = fields.CharField(max_length=16, unique=True)
    contest: fields.ForeignKeyRelation[Contest] = fields.ForeignKeyField(
        "hackathon.Contest", related_name="certificates", on_delete=fields.CASCADE
    )
    user: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "ecosystem.User", related_name=False, on_delete=fields.CASCADE
    )
    kind = fields.CharEnumField(CertificateKind, max_length=16)
    holder_name = fields.CharField(max_length=200)
    detail = fields.CharField(max_length=300, default="")  # team and prize
    issued_at = fields.DatetimeField(auto_now_add=True)
    notified_at = fields.DatetimeField(null=True)

    class Meta:
        table = "hackathon_certificate"
        unique_together = (("contest", "user", "kind"),)


class PairLease(Model):
    """Pairwise mode: the pair a judge was handed and has not answered yet (one per judge and
    round). Other judges are not handed the same pair until it is answered or expires."""

    id = fields.IntField(primary_key=True)
    round: fields.ForeignKeyRelation[Round] = fields.ForeignKeyField(
        "hackathon.Round", related_name=False, on_delete=fields.CASCADE
    )
    judge: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "ecosystem.User", related_name=False, on_delete=fields.CASCADE
    )
    entry_a: fields.ForeignKeyRelation[Submission] = fields.ForeignKeyField(
        "hackathon.Submission", related_name=False, on_delete=fields.CASCADE
    )
    entry_b: fields.ForeignKeyRelation[Submission] = fields.ForeignKeyField(
        "hackathon.Submission", related_name=False, on_delete=fields.CASCADE
    )
    expires_at = fields.DatetimeField()

    class Meta:
        table = "hackathon_pair_lease"
        unique_together = (("round", "judge"),)
