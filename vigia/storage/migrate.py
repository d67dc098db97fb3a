"""Schema migrations (Alembic): bring any Vigía database to the current schema, in place.

A database made before migrations existed (release 0.1.0) has the tables but no
``alembic_version``: it is stamped with the baseline revision, whose schema it has, and upgraded
from there. Concurrent upgrades (several workers starting at once) are serialised: PostgreSQL by
an advisory lock held for the migration's transaction, SQLite by ``BEGIN IMMEDIATE``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect
from sqlalchemy.engine import Connection

from vigia.storage.engine import lock_transaction
from vigia.storage.schema import metadata

MIGRATIONS = Path(__file__).parent / "migrations"
BASELINE = "0001"  # the schema of release 0.1.0, made by create_all before migrations existed
_LOCK_KEY = 0x76696761  # "viga": the advisory lock every upgrading process takes on PostgreSQL


@dataclass(frozen=True, slots=True)
class Upgrade:
    """What an upgrade did: the revision before (None for an empty database) and after."""

    before: str | None
    after: str

    def describe(self) -> str:
        if self.before == self.after:
            return f"schema up to date ({self.after})"
        if self.before is None:
            return f"schema created ({self.after})"
        return f"schema upgraded from {self.before} to {self.after}"


def _config(conn: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = conn
    return config


def head() -> str:
    """The newest revision this version of Vigía knows."""
    revision = ScriptDirectory.from_config(_config()).get_current_head()
    assert revision is not None
    return revision


def current(conn: Connection) -> str | None:
    """The database's revision: None when empty, BASELINE for an unversioned 0.1.0 database."""
    revision = MigrationContext.configure(conn).get_current_revision()
    if revision is None and inspect(conn).has_table("mentions"):
        return BASELINE
    return revision


def upgrade(engine: Engine, target: str = "head") -> Upgrade:
    """Migrate the database to `target` in one transaction (one per step on SQLite)."""
    with engine.begin() as conn:
        lock_transaction(conn, _LOCK_KEY)
        config = _config(conn)
        stamped = MigrationContext.configure(conn).get_current_revision()
        before = current(conn)
        if stamped is None and before is not None:  # a 0.1.0 database: it has the baseline
            command.stamp(config, BASELINE)
        command.upgrade(config, target)
        after = MigrationContext.configure(conn).get_current_revision()
    assert after is not None
    return Upgrade(before, after)


def repair(engine: Engine) -> str:
    """Bring back tables that vanished under a running worker; what was done, for the log.

    A database dropped and made anew is migrated from scratch; a table dropped by hand leaves
    ``alembic_version`` at head, so the migrations have nothing to run and it is recreated.
    """
    done = upgrade(engine)
    restored = restore_tables(engine)
    if restored:
        return f"{', '.join(restored)} recreated at schema {done.after}"
    return f"{done.describe()} through the migrations"


def restore_tables(engine: Engine) -> list[str]:
    """Create the tables missing from a database at head (dropped by hand); their names.

    A dropped table leaves ``alembic_version`` at head, so the migrations have nothing to run.
    At head the schema is `schema.metadata` (tests/vigia/test_migrations.py checks the two
    agree), so it makes what is missing. Serialised with upgrades by the same lock.
    """
    with engine.begin() as conn:
        lock_transaction(conn, _LOCK_KEY)
        if MigrationContext.configure(conn).get_current_revision() != head():
            return []
        present = set(inspect(conn).get_table_names())
        missing = [t for t in metadata.sorted_tables if t.name not in present]
        metadata.create_all(conn, tables=missing, checkfirst=False)
    return [t.name for t in missing]
