"""MariaDB access: the aiomysql pool, named SQL queries from sql/*.sql, migrations, transactions.

Every query lives as SQL in sql/; aiosql loads them by name (`-- name: get_order^`). aiosql has
no aiomysql adapter, so `AioMySQLAdapter` below is the small one it needs: each statement runs
through its own DictCursor.
"""
import asyncio
import functools
import logging
import random
import re
from contextlib import asynccontextmanager
from pathlib import Path

import aiomysql
import aiosql
import pymysql
from aiosql.adapters.apyformat import AsyncPyFormatAdapter

log = logging.getLogger("dadashop.db")

SQL_DIR = Path(__file__).resolve().parent / "sql"
MIGRATIONS_DIR = SQL_DIR / "migrations"

# MySQL errors worth retrying a whole transaction for: deadlock, lock wait timeout.
RETRYABLE_ERRORS = {1213, 1205}
DUPLICATE_KEY = 1062


def expand_lists(sql, parameters):
    """`WHERE id IN :ids` with a list or tuple: one placeholder per element; an element that is a
    tuple itself is a row (`WHERE (a, b) IN :pairs`).

    PyMySQL no longer escapes sequences itself; this keeps `IN :ids` readable in the .sql files
    while every value still goes through the driver's escaping.
    """
    if not isinstance(parameters, dict) or not any(isinstance(v, (list, tuple)) for v in parameters.values()):
        return sql, parameters
    flat = {}
    for name, value in parameters.items():
        if isinstance(value, (list, tuple)):
            if not value:
                raise ValueError(f"empty list for IN parameter {name}")
            items = []
            for i, element in enumerate(value):
                if isinstance(element, tuple):
                    names = [f"{name}__{i}_{j}" for j in range(len(element))]
                    flat.update(zip(names, element))
                    items.append("(" + ", ".join(f"%({n})s" for n in names) + ")")
                else:
                    flat[f"{name}__{i}"] = element
                    items.append(f"%({name}__{i})s")
            sql = sql.replace(f"%({name})s", "(" + ", ".join(items) + ")")
        else:
            flat[name] = value
    return sql, flat


class AioMySQLAdapter(AsyncPyFormatAdapter):
    """aiosql driver adapter for aiomysql connections; rows come back as dicts."""

    async def select(self, conn, query_name, sql, parameters, record_class=None):
        async with conn.cursor(aiomysql.DictCursor) as cur:
            await cur.execute(*expand_lists(sql, parameters))
            for row in await cur.fetchall():
                yield row

    async def select_one(self, conn, query_name, sql, parameters, record_class=None):
        async with conn.cursor(aiomysql.DictCursor) as cur:
            await cur.execute(*expand_lists(sql, parameters))
            return await cur.fetchone()

    async def select_value(self, conn, query_name, sql, parameters):
        async with conn.cursor() as cur:
            await cur.execute(*expand_lists(sql, parameters))
            row = await cur.fetchone()
            return row[0] if row else None

    async def insert_update_delete(self, conn, query_name, sql, parameters):
        async with conn.cursor() as cur:
            return await cur.execute(*expand_lists(sql, parameters))

    async def insert_update_delete_many(self, conn, query_name, sql, parameters):
        async with conn.cursor() as cur:
            return await cur.executemany(sql, parameters)

    async def insert_returning(self, conn, query_name, sql, parameters):
        """`<!` queries: an INSERT whose AUTO_INCREMENT id we want."""
        async with conn.cursor() as cur:
            await cur.execute(*expand_lists(sql, parameters))
            return cur.lastrowid

    async def execute_script(self, conn, sql):
        async with conn.cursor() as cur:
            await cur.execute(sql)
        return "DONE"


aiosql.register_adapter("aiomysql", AioMySQLAdapter)


def fragment_source(name) -> str:
    """sql/fragments/<name>.sql without its comment lines, its own includes in place, parameters
    still written `:name`."""
    text = (SQL_DIR / "fragments" / f"{name}.sql").read_text(encoding="utf-8")
    return include_fragments("\n".join(line for line in text.splitlines() if not line.lstrip().startswith("--")))


def include_fragments(text) -> str:
    """`/*include NAME*/` in SQL stands for the fragment sql/fragments/NAME.sql, so that a piece of
    SQL two queries share is written once."""
    return re.sub(r"/\*include (\w+)\*/", lambda m: fragment_source(m[1]).strip(), text)


def load_queries():
    """Every named query of sql/*.sql, fragments included (include_fragments)."""
    # each file from its first query on (its heading comment would end the file before it)
    texts = [path.read_text(encoding="utf-8") for path in sorted(SQL_DIR.glob("*.sql"))]
    text = "\n\n".join("-- name:" + text.partition("-- name:")[2] for text in texts if "-- name:" in text)
    return aiosql.from_str(include_fragments(text), "aiomysql", mandatory_parameters=False)


# All named queries, e.g. `await Q.get_user_by_name(conn, username=...)`.
Q = load_queries()


async def rows(gen):
    """Collect an aiosql SELECT (an async generator) into a list."""
    return [row async for row in gen]


def connect_kwargs(target, *, connect_timeout=None, statement_timeout=None):
    # UTC everywhere in the database, whatever the server's zone; and a server-side time limit on
    # every statement, so that a slow one is stopped (and rolled back) by MariaDB itself.
    # JSON_ARRAYAGG (an order's lines, as JSON) is cut at group_concat_max_len, 1 MB by default:
    # an order of a few thousand lines would come out as broken JSON. 16 MB, one packet's worth.
    init = "SET time_zone='+00:00', group_concat_max_len=16777216"
    if statement_timeout:
        init += f", SESSION max_statement_time={float(statement_timeout)}"
    return dict(host=target.host, port=target.port, user=target.user, password=target.password,
                db=target.db, charset="utf8mb4", autocommit=True, connect_timeout=connect_timeout,
                init_command=init)


# How much longer than the server's own statement limit the client waits for an answer: past it
# the server is not answering at all (frozen, or the network is gone), not merely slow.
CLIENT_GRACE = 2.0


class TimedConnection(aiomysql.Connection):
    """An aiomysql connection whose every read from the server has a time limit.

    aiomysql has no read timeout: against a frozen server (or a lost network) a query, a commit
    or even the handshake of a new connection waits forever. Past `read_timeout` the connection
    is closed and the caller gets the same error as for a lost server (2013).
    """
    read_timeout = None

    async def _read_bytes(self, num_bytes):
        if self.read_timeout is None or len(self._reader._buffer) >= num_bytes:  # already here: no timer
            return await super()._read_bytes(num_bytes)
        try:
            async with asyncio.timeout(self.read_timeout):
                return await super()._read_bytes(num_bytes)
        except TimeoutError:
            self.close()
            raise pymysql.err.OperationalError(
                2013, f"Lost connection to MySQL server: no answer in {self.read_timeout:g}s") from None


class TimedPool(aiomysql.Pool):
    """A pool whose connections time their reads (TimedConnection), that waits at most
    `acquire_timeout` for a connection (free, or new: the handshake with a frozen server hangs
    too), and pings a connection idle for a while before handing it out, so that sockets a
    restarted server left dead are dropped instead of failing requests."""

    def __init__(self, *, read_timeout, acquire_timeout, **kwargs):
        super().__init__(**kwargs)
        self.read_timeout = read_timeout
        self.acquire_timeout = acquire_timeout

    async def _acquire(self):
        conn = None
        try:
            async with asyncio.timeout(self.acquire_timeout):
                while True:
                    conn = None
                    conn = await super()._acquire()
                    if type(conn) is aiomysql.Connection:  # made by aiomysql's connect(): add the time limit
                        conn.__class__ = TimedConnection
                        conn.read_timeout = self.read_timeout
                    if self._loop.time() - conn.last_usage < IDLE_BEFORE_PING:
                        return conn
                    try:
                        await conn.ping(reconnect=False)
                        return conn
                    except pymysql.err.MySQLError as exc:  # a socket the server dropped: try another one
                        log.info("dropping a dead pooled connection: %s", exc)
                        conn.close()
                        self.release(conn)
        except BaseException as exc:
            if conn is not None and conn in self._used:  # stopped while pinging it: no leak
                conn.close()
                self.release(conn)
            if isinstance(exc, TimeoutError):
                raise pymysql.err.OperationalError(
                    2013, f"no MySQL connection free or made in {self.acquire_timeout:g}s") from None
            raise


IDLE_BEFORE_PING = 5.0  # seconds


async def create_pool(target, *, maxsize=20, minsize=1, connect_timeout=None, statement_timeout=None):
    """The process's pool; with `statement_timeout`, MariaDB stops a statement after that long
    and this client stops waiting CLIENT_GRACE seconds later (a frozen server or network)."""
    read_timeout = statement_timeout + CLIENT_GRACE if statement_timeout else None
    pool = TimedPool(minsize=minsize, maxsize=maxsize, echo=False, pool_recycle=3600,
                     loop=asyncio.get_running_loop(),
                     read_timeout=read_timeout, acquire_timeout=read_timeout,
                     **connect_kwargs(target, connect_timeout=connect_timeout, statement_timeout=statement_timeout))
    if minsize > 0:
        async with pool._cond:
            await pool._fill_free_pool(False)
    return pool


def ensure_database(target):
    """Create the configured database if it does not exist (synchronous, at start)."""
    conn = pymysql.connect(host=target.host, port=target.port, user=target.user,
                           password=target.password, charset="utf8mb4")
    try:
        with conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE IF NOT EXISTS `{_identifier(target.db)}` "
                        "CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    finally:
        conn.close()


def drop_database(target):
    """Drop the configured database (tests and benchmarks clean up after themselves)."""
    conn = pymysql.connect(host=target.host, port=target.port, user=target.user,
                           password=target.password, charset="utf8mb4")
    try:
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{_identifier(target.db)}`")
    finally:
        conn.close()


def _identifier(name):
    if not re.fullmatch(r"[A-Za-z0-9_]+", name):
        raise ValueError(f"unsafe database name {name!r}")
    return name


def migration_files():
    """The migrations in order: sql/migrations/NNNN_description.sql."""
    found = []
    for path in sorted(MIGRATIONS_DIR.glob("*.sql")):
        match = re.match(r"(\d+)_", path.name)
        if match:
            found.append((int(match.group(1)), path))
    return found


def split_statements(text):
    """Split a migration into statements on `;` at line ends (our migrations hold no procedures)."""
    text = "\n".join(line for line in text.splitlines() if not line.strip().startswith("--"))
    return [s.strip() for s in re.split(r";\s*(?:\n|$)", text) if s.strip()]


def apply_migrations(target):
    """Apply every migration not yet recorded in schema_version, each once, in order.

    Synchronous (PyMySQL), run once at start before the server forks. A named lock keeps two
    servers starting at once from applying the same migration twice.
    """
    ensure_database(target)
    conn = pymysql.connect(host=target.host, port=target.port, user=target.user, password=target.password,
                           database=target.db, charset="utf8mb4", autocommit=True)
    applied_now = []
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT GET_LOCK(%s, 60)", (f"dadashop_migrate_{target.db}",))
            cur.execute("""CREATE TABLE IF NOT EXISTS schema_version (
                               version INT UNSIGNED NOT NULL PRIMARY KEY,
                               name VARCHAR(200) NOT NULL,
                               applied_time DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
                           ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci""")
            cur.execute("SELECT version FROM schema_version")
            done = {row[0] for row in cur.fetchall()}
            for version, path in migration_files():
                if version in done:
                    continue
                log.info("applying migration %s", path.name)
                # MariaDB commits DDL implicitly, so a migration is written to be re-runnable
                # (IF NOT EXISTS) in case a crash stops it half way.
                for statement in split_statements(path.read_text(encoding="utf-8")):
                    cur.execute(statement)
                # IGNORE: GET_LOCK is node-local on Galera, so two instances starting through two
                # nodes may both apply a migration (each is re-runnable) and both record it
                cur.execute("INSERT IGNORE INTO schema_version (version, name) VALUES (%s, %s)",
                            (version, path.name))
                applied_now.append(path.name)
            cur.execute("SELECT RELEASE_LOCK(%s)", (f"dadashop_migrate_{target.db}",))
    finally:
        conn.close()
    return applied_now


def after_commit(conn, callback):
    """Run `await callback()` once the transaction open on `conn` has committed (not if it rolls back).

    For effects outside the database that must not run before the data is visible, e.g. clearing
    a sold-out mark once returned stock can actually be bought. A failing callback is logged.
    """
    hooks = conn.__dict__.setdefault("_after_commit", [])
    hooks.append(callback)


async def _run_after_commit(conn, committed):
    hooks = conn.__dict__.pop("_after_commit", None)
    if hooks and committed:
        for callback in hooks:
            try:
                await callback()
            except Exception:  # noqa: BLE001 - the transaction is committed whatever a hook does
                log.exception("after-commit hook failed")


@asynccontextmanager
async def transaction(pool):
    """A connection with an open transaction: committed on success, rolled back on any error."""
    async with pool.acquire() as conn:
        await conn.begin()
        try:
            yield conn
        except BaseException:
            await _run_after_commit(conn, False)
            try:
                await conn.rollback()
            except Exception:  # noqa: BLE001 - a broken connection: closing it ends the transaction
                conn.close()
            raise
        else:
            await conn.commit()
            await _run_after_commit(conn, True)


def is_retryable(exc):
    return isinstance(exc, pymysql.err.OperationalError) and exc.args and exc.args[0] in RETRYABLE_ERRORS


def is_duplicate_key(exc):
    return isinstance(exc, pymysql.err.IntegrityError) and exc.args and exc.args[0] == DUPLICATE_KEY


async def retry_on_lock_errors(attempt_once, *, attempts=8):
    """`await attempt_once()`, again on a deadlock or lock wait timeout, `attempts` times at most.

    On Galera a certification conflict (two nodes wrote the same row) also reports 1213. The wait
    before each retry grows and is random (full jitter), so transactions that collided once do not
    collide again in lockstep. The buyer never sees a deadlock: only after `attempts` tries does
    the last error propagate.
    """
    for attempt in range(1, attempts + 1):
        try:
            return await attempt_once()
        except pymysql.err.OperationalError as exc:
            if not is_retryable(exc) or attempt == attempts:
                raise
            log.info("transaction retry %d after MySQL error %s", attempt, exc.args[0])
            await asyncio.sleep(random.uniform(0, 0.004 * 2 ** min(attempt, 6)))


async def run_transaction(pool, work, *, attempts=8):
    """Run `await work(conn)` in a transaction; retry it whole on a deadlock or lock wait timeout."""
    async def once():
        async with transaction(pool) as conn:
            return await work(conn)

    return await retry_on_lock_errors(once, attempts=attempts)


def read_fragment(name) -> str:
    """A piece of SQL that is only valid inside a compound statement (sql/fragments/<name>.sql),
    without its comments, `:name` parameters written `%(name)s` as aiosql does for named queries."""
    return re.sub(r"(?<![:\w]):(\w+)", r"%(\1)s", fragment_source(name))


# First in every compound transaction: on any error (a SIGNAL of ours, a deadlock, a duplicate
# key) the block rolls itself back and passes the error on, so the client needs no ROLLBACK round
# trip, and the rows it locked are free the moment it fails, not one round trip to a busy event
# loop later (on a sold-out hot row that round trip was paid by every order queued behind).
ROLLBACK_ON_ERROR = "DECLARE EXIT HANDLER FOR SQLEXCEPTION BEGIN ROLLBACK; RESIGNAL; END"


def compound_transaction(statements, *, declare=(), prelude=(), result=None):
    """One statement that is a whole transaction: `BEGIN NOT ATOMIC START TRANSACTION; ...; COMMIT; END`.

    `statements` are (SQL text with :named parameters turned %(named)s, parameters) pairs — a
    named query's `.sql` or a fragment; each one's parameters are renamed with its position, so
    several uses of one text do not clash. `declare` are the block's variables (`DECLARE v INT`);
    `prelude` pairs come before the transaction starts (work that must not be inside it);
    `result`, a SELECT run after the COMMIT, is the answer the statement returns. MariaDB runs the
    block server-side in one round trip: row locks taken inside it are held for no client round
    trip at all, and an error rolls it back server-side too (ROLLBACK_ON_ERROR). Values still go
    through the driver's escaping; only our own SQL text is joined.
    """
    every = ([(text, {}) for text in declare] + [(ROLLBACK_ON_ERROR, {})] + list(prelude)
             + [("START TRANSACTION", {}), *statements, ("COMMIT", {})] + ([result] if result else []))
    texts, params = [], {}
    for k, (sql, values) in enumerate(every):
        sql, values = expand_lists(sql, values)
        texts.append(sql)
        for name, value in values.items():
            params[f"{name}__{k}"] = value
    return _compound_text(tuple(texts)), params


@functools.lru_cache(maxsize=512)
def _compound_text(texts):
    """The block's text for these statements: made once per shape (e.g. per number of SKUs in an
    order), not on every create."""
    parts = ["BEGIN NOT ATOMIC"]
    for k, sql in enumerate(texts):
        sql = "\n".join(line for line in sql.splitlines() if not line.lstrip().startswith("--"))
        parts.append(re.sub(r"%\((\w+)\)s", rf"%(\1__{k})s", sql.strip().rstrip(";")) + ";")
    parts.append("END")
    return "\n".join(parts)


async def run_compound_transaction(pool, statements, *, declare=(), prelude=(), result=None, attempts=8):
    """Run a `compound_transaction`, retried whole on a deadlock or lock wait timeout, like
    run_transaction. Returns the rows of `result` (dicts), or the affected-row count when there is
    none. An error the server answered has already rolled the block back (ROLLBACK_ON_ERROR); on
    any other (a lost connection, a time limit of ours) the connection is rolled back or closed."""
    sql, params = compound_transaction(statements, declare=declare, prelude=prelude, result=result)

    async def once():
        async with pool.acquire() as conn:
            try:
                async with conn.cursor(aiomysql.DictCursor) as cur:
                    count = await cur.execute(sql, params)
                    return await cur.fetchall() if result else count
            except BaseException as exc:
                if not answered_by_server(exc):
                    try:
                        await conn.rollback()
                    except Exception:  # noqa: BLE001 - a broken connection: closing it ends the transaction
                        conn.close()
                raise

    return await retry_on_lock_errors(once, attempts=attempts)


def answered_by_server(exc) -> bool:
    """An error the MariaDB server sent: its own (1000-1999, 3000 and up) or a SIGNAL of ours.
    Client-side ones (2000-2999, e.g. 2013 lost connection; 0 for a closed one) are not."""
    errno = exc.args[0] if isinstance(exc, pymysql.err.MySQLError) and exc.args else None
    return isinstance(errno, int) and errno >= 1000 and not 2000 <= errno < 3000
