"""What detecting and delivering alerts need from a running Vigía: settings, database, clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine

from timeutil import utc_now
from vigia.config import Settings


@dataclass(frozen=True, slots=True)
class AlertContext:
    """The settings, the engine of the shared database and the clock every "now" is read from
    (a simulated one in replays and tests, so they alert as production would)."""

    settings: Settings
    engine: Engine
    clock: Callable[[], datetime] = utc_now
