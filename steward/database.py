"""The database every package keeps its tables in: one engine, one schema, one migration history.

SQLite in `STEWARD_HOME` (embedded) or PostgreSQL (distributed). Each package defines its own
tables on the shared `metadata` (`steward.catalog`, `steward.audit`, `hygiene.tables`,
`evaluation.tables`) and its repository classes take a `Database`; `steward/migrations` creates
and evolves all of them, in one linear history, when a database is opened (tests/test_catalog.py
checks that the migrations build exactly the tables the packages define, `app.schema`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, MetaData, create_engine, event, inspect
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from steward.errors import CatalogError

# The schema as the code sees it: every package's tables register here (tests compare it with
# what the migrations build).
metadata = MetaData()

MIGRATIONS = Path(__file__).parent / "migrations"

# How long an SQLite statement waits for another writer's lock before it fails.
_BUSY_TIMEOUT_MS = 5000


class Database:
    """One catalog database, migrated to the newest schema when opened; one per process."""

    def __init__(self, url: str) -> None:
        if url.startswith("sqlite:///"):
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        try:
            self._engine: Engine = create_engine(url, future=True)
            if url.startswith("sqlite"):
                event.listen(self._engine, "connect", _sqlite_pragmas)
            migrate(self._engine)
        except SQLAlchemyError as error:
            raise CatalogError(f"cannot open the catalog at {_safe(url)}: {error}") from error

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        """A connection for reading."""
        with self._engine.connect() as connection:
            yield connection

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """A connection in a transaction, committed on the way out (rolled back on an error)."""
        with self._engine.begin() as connection:
            yield connection

    def writable(self, timeout_s: float = 1.0) -> str | None:
        """None when a write could start now; otherwise why not (locked, read-only, gone).

        A write that matches no row, rolled back: SQLite takes its write lock for it (and waits
        at most `timeout_s` for another writer), PostgreSQL refuses it on a read-only server.
        """
        sqlite = self._engine.dialect.name == "sqlite"
        try:
            with self._engine.connect() as connection:
                if sqlite:
                    connection.exec_driver_sql(f"PRAGMA busy_timeout={int(timeout_s * 1000)}")
                try:
                    connection.exec_driver_sql(
                        "UPDATE alembic_version SET version_num = version_num WHERE 1 = 0"
                    )
                    connection.rollback()
                finally:
                    if sqlite:  # the pooled connection goes back with the usual patience
                        connection.exec_driver_sql(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
        except SQLAlchemyError as error:
            # The driver's own error ("database is locked"), without SQLAlchemy's wrapping.
            cause = getattr(error, "orig", None) or error
            return f"{type(cause).__name__}: {str(cause).strip()[:200]}"
        return None

    def close(self) -> None:
        self._engine.dispose()


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision (steward/migrations), idempotently."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        tables = set(inspect(connection).get_table_names())
        versioned = (
            "alembic_version" in tables
            and connection.exec_driver_sql("SELECT count(*) FROM alembic_version").scalar_one()
        )
        if "documents" in tables and not versioned:
            # Made by create_all before migrations existed: the same schema as 0001.
            command.stamp(config, "0001")
        command.upgrade(config, "head")


def _safe(url: str) -> str:
    """The URL without its password, for messages."""
    return re.sub(r"://([^:/@]+):[^@]*@", r"://\1:***@", url)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
    cursor.close()
