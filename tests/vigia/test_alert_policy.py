"""Alert policy: idempotency keys and the NEW/UPDATE/ESCALATE/REOPEN/SUPPRESS decision."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from vigia.alerts.policy import (
    AlertPolicy,
    AlertState,
    Decision,
    PreviousAlert,
    alert_key,
    decide,
    notify_managers,
)

NOW = datetime(2024, 3, 4, 12, 0, tzinfo=UTC)
H = timedelta(hours=1)
POLICY = AlertPolicy(cooldown=2 * H, quiet_gap=6 * H, reopen_within=24 * H)


def prev(state=AlertState.OPEN, severity="warning", seen=H, notified=H) -> PreviousAlert:
    """The previous alert, last seen and last notified ``seen``/``notified`` before NOW."""
    return PreviousAlert(
        state=state,
        severity=severity,
        last_seen=NOW - seen,
        last_notified=None if notified is None else NOW - notified,
    )


def run(previous, severity="warning", policy=POLICY):
    return decide(previous, severity, NOW, policy=policy)


def test_alert_key_is_stable_within_the_hour_and_distinct_across_rule_subject_and_hour():
    start = datetime(2024, 3, 4, 10, 15, tzinfo=UTC)
    key = alert_key("negative_spike", "Brisa", start)
    # A retried poll ten minutes later, or the same instant in another time zone: same key.
    assert alert_key("negative_spike", "Brisa", start + timedelta(minutes=10)) == key
    madrid = start.astimezone(timezone(timedelta(hours=1)))
    assert alert_key("negative_spike", "Brisa", madrid) == key
    assert alert_key("negative_spike", "Brisa", start.replace(tzinfo=None)) == key
    assert key.startswith("negative_spike:")
    others = {
        alert_key("spreading_thread", "Brisa", start),
        alert_key("negative_spike", "Nimbo", start),
        alert_key("negative_spike", "Brisa", start + H),
    }
    assert key not in others and len(others) == 3


def test_first_finding_is_new():
    assert run(None) is Decision.NEW
    assert Decision.NEW.notifies


def test_continuing_crisis_updates_silently_even_after_the_cooldown():
    # Last finding an hour ago, notified five hours ago: the same crisis, no second email.
    assert run(prev(seen=H, notified=5 * H)) is Decision.UPDATE
    assert run(prev(AlertState.ACKNOWLEDGED, seen=H, notified=5 * H)) is Decision.UPDATE
    # A lower severity than notified is still the same crisis.
    assert run(prev(severity="critical"), "warning") is Decision.UPDATE
    assert not Decision.UPDATE.notifies


def test_rising_severity_escalates_even_inside_the_cooldown():
    # Warning notified ten minutes ago; now critical: the managers must hear it now.
    previous = prev(seen=timedelta(minutes=10), notified=timedelta(minutes=10))
    assert run(previous, "critical") is Decision.ESCALATE
    assert run(prev(AlertState.ACKNOWLEDGED), "critical") is Decision.ESCALATE
    assert notify_managers(Decision.ESCALATE, "critical")


def test_resolved_alert_that_flares_again_reopens_unless_in_cooldown():
    # Resolved; its last finding three hours ago, last email three hours ago: reopen, notify.
    assert run(prev(AlertState.RESOLVED, seen=3 * H, notified=3 * H)) is Decision.REOPEN
    # Resolved half an hour after an email and flaring again at once: the cooldown (2 h) holds
    # the second email back, unless the flare is worse than what was sent.
    flapping = prev(AlertState.RESOLVED, seen=timedelta(minutes=30), notified=H)
    assert run(flapping) is Decision.SUPPRESS
    assert run(flapping, "critical") is Decision.REOPEN
    # Resolved long ago: a new crisis, a new alert.
    assert run(prev(AlertState.RESOLVED, seen=48 * H, notified=48 * H)) is Decision.NEW


def test_open_alert_quiet_for_longer_than_the_gap_starts_a_new_episode():
    # Nobody resolved Monday's alert; a finding on Tuesday (quiet for 20 h) is a new crisis.
    assert run(prev(seen=20 * H, notified=20 * H)) is Decision.NEW
    # Quiet for seven hours but notified within the cooldown (it was only just re-sent):
    # nothing new is sent.
    assert run(prev(seen=7 * H, notified=H)) is Decision.SUPPRESS


def test_managers_get_only_critical_notifications():
    assert notify_managers(Decision.NEW, "critical")
    assert not notify_managers(Decision.NEW, "warning")
    assert not notify_managers(Decision.UPDATE, "critical")
    assert not notify_managers(Decision.SUPPRESS, "critical")
