"""Relationship stages, score updates and milestones for one (user, persona).

The stage ladder is per persona: ``persona.extensions["companion"]["relationship_stages"]``
may hold a list of stage names (thresholds are spread evenly up to the top
stage) or of objects ``{"name", "min_exchanges", "affinity", "trust"}``.
Without it the default ladder below applies.

Stage changes have hysteresis: promotion needs the next stage's thresholds to
hold for ``CONFIRM_EXCHANGES`` consecutive exchanges, demotion needs affinity
to sink ``DEMOTE_MARGIN`` below the current stage's threshold for as long. One
step at a time, each recorded as a ``stage_change`` milestone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction

from companion.memory.extraction import Sentiment
from companion.memory.models import Milestone, RelationshipState


@dataclass(frozen=True)
class Stage:
    name: str
    min_exchanges: int
    affinity: float
    trust: float

    @property
    def label(self) -> str:
        return self.name.replace("_", " ")


DEFAULT_STAGES = [
    Stage("stranger", 0, -1.0, 0.0),
    Stage("acquaintance", 3, 0.05, 0.02),
    Stage("friend", 15, 0.3, 0.2),
    Stage("close_friend", 40, 0.55, 0.45),
    Stage("partner", 80, 0.8, 0.7),
]
CONFIRM_EXCHANGES = 3
DEMOTE_MARGIN = 0.15
CONFLICT_AFFINITY = -0.12  # a single exchange this bad opens a conflict


def stages_for(persona: Any) -> list[Stage]:
    """The persona's ladder (lowest first), falling back to the default on bad config."""
    raw = ((getattr(persona, "extensions", None) or {}).get("companion") or {}).get("relationship_stages")
    if not isinstance(raw, list) or len(raw) < 2:
        return DEFAULT_STAGES
    top = DEFAULT_STAGES[-1]
    ladder: list[Stage] = []
    n = len(raw) - 1
    for i, item in enumerate(raw):
        frac = i / n
        base = Stage("", round(top.min_exchanges * frac), -1.0 if i == 0 else top.affinity * frac, top.trust * frac)
        if isinstance(item, str) and item.strip():
            ladder.append(Stage(item.strip(), base.min_exchanges, base.affinity, base.trust))
        elif isinstance(item, dict) and str(item.get("name", "")).strip():
            try:
                ladder.append(
                    Stage(
                        str(item["name"]).strip(),
                        int(item.get("min_exchanges", base.min_exchanges)),
                        float(item.get("affinity", base.affinity)),
                        float(item.get("trust", base.trust)),
                    )
                )
            except (TypeError, ValueError):
                return DEFAULT_STAGES
        else:
            return DEFAULT_STAGES
    return ladder


def _clamp(x: float, lo: float, hi: float) -> float:
    return max(lo, min(hi, x))


def deltas(s: Sentiment, *, shared_personal: bool) -> tuple[float, float]:
    """(affinity, trust) change from the sentiment cues of one user message."""
    affinity = 0.01 + 0.02 * min(s.positive, 3) - 0.12 * min(s.negative, 2) + (0.03 if s.apology else 0.0)
    trust = 0.005 + (0.03 if shared_personal else 0.0) + (0.04 if s.disclosure else 0.0) - 0.05 * min(s.negative, 1)
    return _clamp(affinity, -0.25, 0.15), _clamp(trust, -0.1, 0.1)


def _meets(stage: Stage, state: RelationshipState) -> bool:
    return state.exchanges >= stage.min_exchanges and state.affinity >= stage.affinity and state.trust >= stage.trust


def next_stage_target(ladder: list[Stage], state: RelationshipState) -> str | None:
    """The stage one step away that the scores call for, or None to stay."""
    names = [s.name for s in ladder]
    idx = names.index(state.stage) if state.stage in names else 0
    if idx + 1 < len(ladder) and _meets(ladder[idx + 1], state):
        return ladder[idx + 1].name
    if idx > 0 and state.affinity < ladder[idx].affinity - DEMOTE_MARGIN:
        return ladder[idx - 1].name
    return None


def relationship_get_or_create(*, user: Any, persona: Any) -> tuple[RelationshipState, bool]:
    ladder = stages_for(persona)
    return RelationshipState.objects.get_or_create(user=user, persona=persona, defaults={"stage": ladder[0].name})


class PairMilestones:
    """The pair's milestones as the rules read and add them: the database, one statement at a time
    (the live chat). An import's replay keeps them in memory and writes them in bulk
    (``replay.ReplayMilestones``), so both run the same rules."""

    def __init__(self, *, user_id: int, persona_id: int) -> None:
        self.user_id, self.persona_id = user_id, persona_id

    def _pair(self):
        return Milestone.objects.filter(user_id=self.user_id, persona_id=self.persona_id)

    def open_conflict(self) -> bool:
        """Is the newest conflict / reconciliation a conflict?"""
        last = (
            self._pair().filter(kind__in=[Milestone.Kind.CONFLICT, Milestone.Kind.RECONCILIATION])
            .order_by("-happened_at", "-pk")
            .first()
        )
        return last is not None and last.kind == Milestone.Kind.CONFLICT

    def has(self, kind: str, key: str | None = None) -> bool:
        """One of ``kind`` recorded yet (with ``data["key"] == key`` when given)?"""
        qs = self._pair().filter(kind=kind)
        return (qs.filter(data__key=key) if key is not None else qs).exists()

    def add(self, milestone: Milestone) -> None:
        milestone.save(force_insert=True)


def _milestone(log: PairMilestones, kind: str, title: str, when: datetime, message: Any, **data: Any
               ) -> Milestone:
    milestone = Milestone(user_id=log.user_id, persona_id=log.persona_id, kind=kind, title=title[:200],
                          happened_at=when, message=message, data=data)
    log.add(milestone)
    return milestone


def _anniversary_due(state: RelationshipState, when: datetime, log: PairMilestones) -> tuple[str, str] | None:
    """('key', title) of the anniversary this exchange passes, if not yet recorded."""
    if state.first_met_at is None:
        return None
    age = when - state.first_met_at
    if age >= timedelta(days=365):
        years = age.days // 365
        key, title = f"year:{years}", f"{years} year{'s' if years > 1 else ''} since you met"
    elif age >= timedelta(days=30):
        key, title = "month:1", "One month since you met"
    else:
        return None
    return None if log.has(Milestone.Kind.ANNIVERSARY, key) else (key, title)


@transaction.atomic
def relationship_apply_exchange(
    *,
    user: Any,
    persona: Any,
    user_message: Any,
    when: datetime,
    sentiment: Sentiment,
    shared_personal: bool,
    new_event_text: str | None = None,
    llm_deltas: tuple[float, float] | None = None,
) -> tuple[RelationshipState, list[Milestone]]:
    """Fold one exchange into the relationship; returns the state and new milestones."""
    ladder = stages_for(persona)
    state, created = relationship_get_or_create(user=user, persona=persona)
    state = RelationshipState.objects.select_for_update().get(pk=state.pk)
    made = exchange_fold(state, ladder=ladder, log=PairMilestones(user_id=state.user_id, persona_id=state.persona_id),
                         created=created, user_message=user_message, when=when, sentiment=sentiment,
                         shared_personal=shared_personal, new_event_text=new_event_text, llm_deltas=llm_deltas)
    state.save()
    return state, made


def exchange_fold(
    state: RelationshipState,
    *,
    ladder: list[Stage],
    log: PairMilestones,
    created: bool,
    user_message: Any,
    when: datetime,
    sentiment: Sentiment,
    shared_personal: bool,
    new_event_text: str | None = None,
    llm_deltas: tuple[float, float] | None = None,
) -> list[Milestone]:
    """The rules of ``relationship_apply_exchange`` on ``state`` (unsaved), milestones added to ``log``."""
    made: list[Milestone] = []

    if created or state.first_met_at is None:
        state.first_met_at = when
        made.append(_milestone(log, Milestone.Kind.FIRST_MEETING, "First conversation", when, user_message))

    d_aff, d_trust = deltas(sentiment, shared_personal=shared_personal)
    if llm_deltas is not None:
        # The model's reading is averaged with the cues, never trusted alone.
        d_aff = (d_aff + _clamp(llm_deltas[0], -0.2, 0.2)) / 2
        d_trust = (d_trust + _clamp(llm_deltas[1], -0.2, 0.2)) / 2
    state.affinity = _clamp(state.affinity + d_aff, -1.0, 1.0)
    state.trust = _clamp(state.trust + d_trust, 0.0, 1.0)
    state.exchanges += 1
    state.last_exchange_at = when

    if sentiment.negative and d_aff <= CONFLICT_AFFINITY and not log.open_conflict():
        made.append(_milestone(log, Milestone.Kind.CONFLICT, "A falling-out", when, user_message))
    elif (sentiment.apology or sentiment.positive) and not sentiment.negative and log.open_conflict():
        made.append(_milestone(log, Milestone.Kind.RECONCILIATION, "Made up after a falling-out", when, user_message))

    if new_event_text and not log.has(Milestone.Kind.FIRST_SHARED_EVENT):
        made.append(
            _milestone(log, Milestone.Kind.FIRST_SHARED_EVENT, f"First shared moment: {new_event_text}", when,
                       user_message)
        )

    due = _anniversary_due(state, when, log)
    if due:
        made.append(_milestone(log, Milestone.Kind.ANNIVERSARY, due[1], when, user_message, key=due[0]))

    target = next_stage_target(ladder, state)
    if target is None:
        state.pending_stage, state.pending_count = "", 0
    else:
        state.pending_count = state.pending_count + 1 if state.pending_stage == target else 1
        state.pending_stage = target
        if state.pending_count >= CONFIRM_EXCHANGES:
            old = state.stage
            state.stage, state.pending_stage, state.pending_count = target, "", 0
            label = next(s.label for s in ladder if s.name == target)
            names = [s.name for s in ladder]
            promoted = names.index(target) > (names.index(old) if old in names else 0)
            title = f"Became {label}s" if promoted else f"Drifted apart: back to {label}"
            made.append(_milestone(log, Milestone.Kind.STAGE_CHANGE, title, when, user_message, old=old, new=target))
    return made
