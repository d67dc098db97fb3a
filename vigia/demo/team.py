"""The demo's care team at work: two agents, `lucia` and `pablo`, who worked the inbox before the
demo started, through the real, audited actions.

Items opened before the crisis were taken and answered after minutes to a few hours (night
posts the next morning, so some late), a few dismissed, a few forgotten and now overdue. The
crisis of the last hours is left to whoever tries the demo, with some items already taken by an
agent. Escalations are not played: the rules make them at intake.
"""

from __future__ import annotations

import math
import random
import secrets
from collections import Counter
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from vigia.access.accounts import add_user
from vigia.access.roles import Actor, Role
from vigia.inbox import actions
from vigia.storage.inbox import ItemRow, QueueFilter, queue_page
from vigia.storage.users import get_user

AGENTS = ("lucia", "pablo")
CRISIS = timedelta(hours=2)  # the story's incident: its items wait for the person trying the demo
# Response times are log-normal around these medians (minutes), the urgent ones quicker.
MEDIAN_RESPONSE = {True: 14.0, False: 50.0}
SPREAD = 0.9  # of the log-normal: p90 about three times the median
SLOWEST = 240.0  # minutes: nobody waited longer than this once the shift had started
SHIFT_STARTS = 8  # local hour: posts of the night are answered from then on
FORGOTTEN = 0.08  # share of older items nobody took: overdue now
DISMISSED = 0.06  # share dismissed as irrelevant or spam
TAKEN_IN_CRISIS = 0.3  # share of the crisis items an agent has taken already
MAX_ITEMS = 5000  # the demo's inbox holds a few hundred


def demo_agents(engine: Engine, setup: Actor, now: datetime) -> None:
    """The agents' accounts, with passwords nobody needs (the demo signs in as `demo`)."""
    for name in AGENTS:
        with engine.connect() as conn:
            known = get_user(conn, name) is not None
        if not known:
            add_user(engine, setup, name, Role.AGENT, secrets.token_urlsafe(18), now)


def work_inbox(engine: Engine, zone: ZoneInfo, t0: datetime, seed: int = 7) -> Counter[str]:
    """Play the team's work on the new items opened before `t0`; how many items got each action."""
    rng = random.Random(seed)
    with engine.connect() as conn:
        items = queue_page(conn, QueueFilter(states=("new",)), t0, t0, limit=MAX_ITEMS)
    done: Counter[str] = Counter()
    for item in sorted(items, key=lambda i: (i.opened_at, i.id)):
        agent = Actor(rng.choice(AGENTS), Role.AGENT, "dashboard")
        if item.opened_at > t0 - CRISIS:
            if rng.random() < TAKEN_IN_CRISIS:
                taken = min(item.opened_at + timedelta(minutes=rng.uniform(2, 10)), t0)
                actions.assign(engine, agent, [item.id], agent.name, taken)
                done["assigned"] += 1
            continue
        roll = rng.random()
        if roll < FORGOTTEN:
            continue
        answered = _response(item, rng, zone)
        if answered >= t0:  # not yet: still being worked on
            continue
        if roll < FORGOTTEN + DISMISSED:
            reason = "spam" if rng.random() < 0.3 else "irrelevant"
            actions.dismiss(engine, agent, [item.id], reason, answered)
            done["dismissed"] += 1
            continue
        taken = item.opened_at + (answered - item.opened_at) * rng.uniform(0.2, 0.6)
        actions.assign(engine, agent, [item.id], agent.name, taken)
        actions.answer(engine, agent, [item.id], answered)
        done["answered"] += 1
    return done


def _response(item: ItemRow, rng: random.Random, zone: ZoneInfo) -> datetime:
    """When the team answered `item`: a log-normal wait from when someone was there to see it."""
    seen = item.opened_at
    local = seen.astimezone(zone)
    if local.hour < SHIFT_STARTS:
        seen = local.replace(hour=SHIFT_STARTS, minute=0, second=0)
    minutes = rng.lognormvariate(math.log(MEDIAN_RESPONSE[item.urgent]), SPREAD)
    return seen + timedelta(minutes=min(max(3.0, minutes), SLOWEST))
