"""One SQLAlchemy engine for SQLite or PostgreSQL, with read and write transactions.

Write transactions are what keep quotas exact under races:
  - SQLite: ``BEGIN IMMEDIATE`` takes the database's write lock when the transaction starts, so a
    quota check and the charge that follows it see no other writer in between (writers in this
    process also queue on a lock first, which is cheaper than SQLite's sleeping busy handler);
  - PostgreSQL: READ COMMITTED plus ``SELECT … FOR UPDATE`` on the user's row in every transaction
    that checks or spends that user's quota, so they run one after another per user, whichever API
    replica runs them.

Several `kadr serve` replicas may share one PostgreSQL store. SQLite serves one: :func:`hold_single_replica`
takes a lock on the file beside the database that a second `kadr serve` on it is refused by.
"""

from __future__ import annotations

import fcntl
import os
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from sqlalchemy import create_engine, event, select, text
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.orm import Session

from kadr.errors import KadrError
from kadr.service.store.migrate import add_missing_columns
from kadr.service.store.schema import SCHEMA_VERSION, Base, MetaRow


class StoreInUse(KadrError):
    """A second `kadr serve` on a SQLite store (SQLite serves one replica; PostgreSQL serves several)."""


def normalize_url(url: str) -> str:
    """``postgresql://`` and ``postgres://`` mean psycopg 3 (the driver kadr depends on)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


SCHEMA_LOCK_KEY = 0x6B616472  # "kadr": the advisory lock held while the schema is created or upgraded


class Database:
    """The engine plus the two kinds of transaction the stores use."""

    def __init__(self, url: str) -> None:
        self.url = normalize_url(url)
        parsed = make_url(self.url)
        self.dialect = parsed.get_backend_name()  # "sqlite" | "postgresql"
        if self.dialect == "sqlite":
            if parsed.database and parsed.database != ":memory:":
                _private_file(Path(parsed.database))
            self.engine = create_engine(self.url, pool_size=20, max_overflow=20,
                                        connect_args={"check_same_thread": False, "timeout": 30})
            _sqlite_transactions(self.engine)
            self._writer: Engine = self.engine.execution_options(kadr_begin="IMMEDIATE")
            self._write_lock: threading.Lock | None = threading.Lock()
        elif self.dialect == "postgresql":
            self.engine = create_engine(self.url, pool_size=10, max_overflow=30, pool_pre_ping=True)
            self._writer = self.engine
            self._write_lock = None
        else:
            raise ValueError(f"db: got {url!r}; allowed: a sqlite:/// or postgresql:// URL")
        # The one-statement reads of connect() need no transaction around them: on PostgreSQL, autocommit
        # spares the BEGIN and ROLLBACK round trips (each one a wake-up of the server's backend process).
        self._reader: Engine = (self.engine.execution_options(isolation_level="AUTOCOMMIT")
                                if self.dialect == "postgresql" else self.engine)

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    def create_schema(self) -> None:
        with self._schema_lock():
            Base.metadata.create_all(self.engine)
            add_missing_columns(self.engine, Base.metadata)  # a store made by an older kadr: its new, nullable columns
            with self.write() as session:
                row = session.get(MetaRow, "schema_version")
                if row is None:
                    session.add(MetaRow(key="schema_version", value=str(SCHEMA_VERSION)))
                elif int(row.value) > SCHEMA_VERSION:
                    raise RuntimeError(f"the store has schema {row.value}, newer than this kadr ({SCHEMA_VERSION}); upgrade kadr")
                elif int(row.value) < SCHEMA_VERSION:
                    row.value = str(SCHEMA_VERSION)  # add_missing_columns brought it up to date

    @contextmanager
    def _schema_lock(self) -> Iterator[None]:
        """On PostgreSQL, one replica at a time creates or upgrades the schema.

        Two `kadr serve` processes starting together on a new database would both CREATE TABLE and one fails
        (a unique violation in pg_type); a session advisory lock serialises them, the second then finds the
        tables made. SQLite has one replica only (hold_single_replica).
        """
        if self.dialect != "postgresql":
            yield
            return
        with self.engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": SCHEMA_LOCK_KEY})
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": SCHEMA_LOCK_KEY})

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A short read-only transaction (never blocks on writers: WAL on SQLite, MVCC on PostgreSQL)."""
        with Session(self.engine, expire_on_commit=False) as session:
            with session.begin():
                yield session

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        """One read statement on a bare connection (no ORM session): for the per-request paths, auth and polling."""
        with self._reader.connect() as conn:
            yield conn

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A write transaction, committed on exit (rolled back on an exception)."""
        if self._write_lock is not None:
            with self._write_lock:
                with Session(self._writer, expire_on_commit=False) as session:
                    with session.begin():
                        yield session
        else:
            with Session(self._writer, expire_on_commit=False) as session:
                with session.begin():
                    yield session

    def libpq_dsn(self) -> str:
        """The PostgreSQL URL as psycopg itself takes it (for LISTEN/NOTIFY on a connection of its own)."""
        return make_url(self.url).set(drivername="postgresql").render_as_string(hide_password=False)

    def ping(self) -> bool:
        with self.engine.connect() as conn:
            return conn.execute(text("SELECT 1")).scalar() == 1

    def schema_version(self) -> int:
        with self.read() as session:
            value = session.execute(select(MetaRow.value).where(MetaRow.key == "schema_version")).scalar()
            return int(value) if value is not None else 0

    def close(self) -> None:
        self.engine.dispose()


def hold_single_replica(url: str) -> int | None:
    """On SQLite, lock the store for this process (released when it exits, however): returns the lock's file descriptor.

    A second `kadr serve` on the same SQLite file raises :class:`StoreInUse`. PostgreSQL (and an in-memory
    SQLite) need no lock: None.
    """
    parsed = make_url(normalize_url(url))
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    path = Path(parsed.database).with_name(Path(parsed.database).name + ".serve-lock")
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 64, 0).decode("ascii", "replace").strip() or "?"
        os.close(fd)
        raise StoreInUse(f"db: the SQLite store {parsed.database} is in use by another kadr serve (pid {holder}); "
                         "SQLite serves one replica: for several, put them on one PostgreSQL (--db postgresql://…)") from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, str(os.getpid()).encode("ascii"), 0)
    return fd


def _private_file(path: Path) -> None:
    """Create the SQLite file (and any missing folder above it) readable by its owner only: it holds key hashes
    and webhook secrets. SQLite gives its -wal and -shm files the database file's mode."""
    missing = [folder for folder in (path.parent, *path.parent.parents) if not folder.exists()]
    for folder in reversed(missing):
        folder.mkdir(mode=0o700, exist_ok=True)
    os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if file.exists() and file.stat().st_mode & 0o077:
            file.chmod(0o600)  # a file made before this rule, or under a loose umask


def _sqlite_transactions(engine: Engine) -> None:
    """Let SQLAlchemy, not pysqlite, emit BEGIN, so writes can say BEGIN IMMEDIATE (SQLAlchemy's recipe)."""

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # pysqlite: stop issuing its own BEGIN
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")  # readers never wait for the writer
        cursor.execute("PRAGMA synchronous=NORMAL")  # durable at each checkpoint; safe with WAL
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        mode = conn.get_execution_options().get("kadr_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")
