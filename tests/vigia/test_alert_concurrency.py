"""Several worker processes deciding the same finding at once on one database plan one round."""

from __future__ import annotations

import multiprocessing
import sys
import types
from collections import Counter
from pathlib import Path

import pytest

from tests.vigia.alert_scenario import (
    START,
    decision_settings,
    escalate_in_another_process,
    spike_finding,
)
from vigia.alerts.context import AlertContext
from vigia.alerts.detect import apply_finding
from vigia.alerts.policy import Decision
from vigia.storage import connect
from vigia.storage.alerts import deliveries_of, list_alerts


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """One SQLite file, or a throwaway PostgreSQL database, shared by every worker."""
    if request.param == "postgresql":
        return str(request.getfixturevalue("postgres_url"))
    return f"sqlite:///{tmp_path / 'shared.db'}"


def test_two_processes_escalating_the_same_alert_at_once_plan_one_round(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A spawned child re-runs the parent's __main__ script; after a dashboard AppTest that is
    # the Streamlit app, so give the children a bare one.
    monkeypatch.setitem(sys.modules, "__main__", types.ModuleType("__main__"))
    engine = connect(database_url)
    spawn = multiprocessing.get_context("spawn")  # a fresh interpreter: nothing shared but the db
    start, results = spawn.Barrier(2), spawn.Queue()
    workers = [
        spawn.Process(
            target=escalate_in_another_process,
            args=(database_url, str(tmp_path), start, results, 0.5),
        )
        for _ in range(2)
    ]
    try:
        # A warning, notified once (round 1, the team only).
        ctx = AlertContext(decision_settings(database_url, tmp_path), engine, lambda: START)
        assert apply_finding(ctx, spike_finding("warning"), START).decision is Decision.NEW

        # Two workers see it turn critical at the same moment.
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=120)
        assert [worker.exitcode for worker in workers] == [0, 0]
        decisions = sorted(results.get(timeout=10) for _ in workers)

        # One escalates (a second round: team and managers; the warning round, never sent,
        # goes: round 2 carries the alert to the team as it is now); the other sees it done.
        assert decisions == ["escalate", "update"]
        with engine.connect() as conn:
            (alert,) = list_alerts(conn)
            rounds = Counter(d.round for d in deliveries_of(conn, alert.id))
        assert alert.severity == "critical" and alert.notify_round == 2
        assert rounds == {2: 2}
    finally:
        for worker in workers:
            if worker.is_alive():
                worker.kill()
                worker.join(timeout=10)
        results.close()
        engine.dispose()
