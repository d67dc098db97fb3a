"""Alert hygiene as pure logic: idempotency keys and what to do with a new finding.

An alert belongs to a *rule* (``"negative_spike"``, ``"spreading_thread"``, …) and a *subject*
(a brand, or a thread key). Its states::

    open ──(dashboard/CLI)──> acknowledged ──(dashboard/CLI)──> resolved
      └───────────────────(dashboard/CLI)─────────────────────────┘

Given the latest alert of the same rule and subject (or none) and a new finding,
:func:`decide` returns:

============  ==================================================================================
NEW           no alert yet, or the previous episode is over: store a new alert and notify
UPDATE        the crisis goes on (open or acknowledged, finding seen within ``quiet_gap``):
              refresh the evidence silently
ESCALATE      as UPDATE, but the severity went above what was notified: notify again (critical
              goes to the managers too); never held back by the cooldown
REOPEN        the alert was resolved and its last finding is less than ``reopen_within`` old:
              it flares again, so reopen it and notify (older than that: NEW)
SUPPRESS      a new notification would come within the cooldown of the last one for this rule
              and subject at no higher severity: record nothing new, send nothing
============  ==================================================================================

An open or acknowledged alert whose last finding is older than ``quiet_gap`` belongs to an
episode that ended without anyone resolving it; a new finding then starts a NEW alert, so a
forgotten open alert never swallows next week's crisis.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Literal

from timeutil import utc

Severity = Literal["warning", "critical"]
# How severities compare; the alert log and the channels rank them the same way.
SEVERITY_RANK: Mapping[str, int] = {"warning": 1, "critical": 2}


class AlertState(StrEnum):
    """Lifecycle of a stored alert."""

    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class Decision(StrEnum):
    """What the pipeline does with a finding (see the module docstring)."""

    NEW = "new"
    UPDATE = "update"
    ESCALATE = "escalate"
    REOPEN = "reopen"
    SUPPRESS = "suppress"

    @property
    def notifies(self) -> bool:
        """Whether this decision sends a notification."""
        return self in (Decision.NEW, Decision.ESCALATE, Decision.REOPEN)


@dataclass(frozen=True, slots=True)
class PreviousAlert:
    """The latest stored alert for a rule and subject, as :func:`decide` needs it.

    ``severity`` is the highest severity notified so far; ``last_seen`` the time of the last
    finding merged into it; ``last_notified`` of the last notification (None if never sent).
    """

    state: AlertState
    severity: Severity
    last_seen: datetime
    last_notified: datetime | None


@dataclass(frozen=True, slots=True)
class AlertPolicy:
    """Timings of :func:`decide` (``alerts.cooldown``, ``quiet_gap``, ``reopen_within``)."""

    cooldown: timedelta = timedelta(hours=2)
    quiet_gap: timedelta = timedelta(hours=6)
    reopen_within: timedelta = timedelta(hours=24)


def alert_key(rule: str, subject: str, window_start: datetime) -> str:
    """Idempotency key of an alert: same rule, subject and window hour give the same key.

    The window start is taken to the UTC hour so that a retried poll a few minutes later does
    not make a second alert; the subject is hashed because brand names and thread ids may hold
    any character.
    """
    hour = utc(window_start).replace(minute=0, second=0, microsecond=0)
    digest = hashlib.sha256(f"{rule}\x1f{subject}\x1f{hour.isoformat()}".encode()).hexdigest()
    return f"{rule}:{digest[:32]}"


def decide(
    previous: PreviousAlert | None,
    severity: Severity,
    now: datetime,
    *,
    policy: AlertPolicy,
) -> Decision:
    """What to do with a new finding of ``severity`` at ``now``, given the same rule and
    subject's latest alert."""
    if previous is None:
        return Decision.NEW
    higher = SEVERITY_RANK[severity] > SEVERITY_RANK[previous.severity]
    cooling = (
        previous.last_notified is not None
        and now - previous.last_notified < policy.cooldown
        and not higher
    )
    if previous.state is not AlertState.RESOLVED:
        if now - previous.last_seen <= policy.quiet_gap:
            return Decision.ESCALATE if higher else Decision.UPDATE
        return Decision.SUPPRESS if cooling else Decision.NEW
    if cooling:
        return Decision.SUPPRESS
    if now - previous.last_seen <= policy.reopen_within:
        return Decision.REOPEN
    return Decision.NEW


def notify_managers(decision: Decision, severity: Severity) -> bool:
    """Whether the escalation list (managers) gets this notification: critical ones only."""
    return decision.notifies and severity == "critical"
