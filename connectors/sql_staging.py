"""A department's staging table (前置库) as a pulled source: what changed since the cursor, in keyset chunks.

A 前置库 is a database the department's own system copies its records into for the city to read; the
gateway only reads it. One pull takes every row whose ``(updated_column, key_column)`` sorts after the
cursor, in that order, ``chunk_rows`` at a time with a keyset query (``WHERE (updated, key) > (:u, :k)
ORDER BY updated, key LIMIT n``). Never OFFSET: rows that change during the pull would shift the pages. The
key breaks ties, so no row is lost however many rows share one timestamp, which is why it must be unique.

The cursor is canonical JSON of text forms, ``{"key": "...", "updated": "..."}`` (plus ``null_key``, below).
It is only ever handed back to the database for comparison, never compared in Python, so all it needs is
that the text gives back the very value that was stored:

* SQLite has no date type: a column declared DATETIME holds whatever text (or number) the department wrote.
  Values are read raw, the text is kept as written and bound back as text; SQLite then applies the column's
  affinity to the bound value, exactly as it did when storing, so ``>`` compares what ORDER BY sorts.
  Columns without a declared type (BLOB affinity, no conversion) are refused for updated/key.
* Elsewhere (PostgreSQL …) values are read with the column's type and written in ISO 8601:
  ``2026-11-02T08:00:00.250000`` (microseconds only when present, ``+08:00`` for time-zone-aware columns),
  dates ``2026-11-02``, integers and decimals as digits. The cursor is parsed back by the column's type and
  bound with it, so a TIMESTAMP is compared as a timestamp, not as text.

Rows whose updated_column is NULL cannot be placed in time. They are taken by key instead: after the
timestamped rows, the rows with a NULL timestamp and a key above ``null_key`` (a second, key-only cursor),
each once. Every pull counts the NULL rows in the table and logs a warning, because later changes to such
a row cannot be seen (it keeps its key) — the department should fill the column. Both phases are bounded
by the maximum seen when the pull starts, so a table being written while it is read cannot keep one pull
running forever; what arrives later is the next pull's.

Table and column names are checked against the database's reflected metadata and used as reflected
objects (quoted by the dialect); nothing from the mapping file is ever put into SQL text.

:class:`StagingSource` is the connector ``connectors.pulled.run_pull`` opens for ``kind: sql_staging``; the
database is reached through the Connection :class:`StagingDatabaseHook` reads.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from datetime import time as time_of_day
from decimal import Decimal
from typing import Any

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine
from sqlalchemy.exc import NoSuchTableError
from sqlalchemy.pool import NullPool

from connectors.connection import ConnectionHook, ConnectionLike
from connectors.pulled import PullOnce, PullRun, cursor_json, parse_cursor_json
from gateway.landing import headers_of, source_id_of
from gateway.mapping.spec import MappingSpec
from gateway.settings import Settings

log = logging.getLogger(__name__)

KIND = "sql_staging"
MAX_BATCH_ROWS = 5000  # gateway.landing.Pull: at most this many rows per batch
MAX_CHUNK_ROWS = 100_000
PULL_KEYS = frozenset(
    {
        "kind",
        "connection",
        "table",
        "schema",
        "columns",
        "updated_column",
        "key_column",
        "chunk_rows",
        "key_unique",
    }
)
# Airflow connection types → SQLAlchemy dialect+driver; anything else is passed through (extra
# ``sqlalchemy_scheme`` overrides, e.g. "oracle+oracledb").
AIRFLOW_SCHEMES = {"postgres": "postgresql+psycopg", "postgresql": "postgresql+psycopg", "sqlite": "sqlite"}
_CURSOR_TYPES = (datetime, date, time_of_day, int, float, Decimal, str, uuid.UUID)


class StagingError(ValueError):
    """The pull block or the staging database does not fit together; the message says what to fix."""


# --------------------------------------------------------------------------------------------- configuration


@dataclass(frozen=True)
class StagingConfig:
    """The connector's part of a mapping's ``pull:`` block (kind: sql_staging)."""

    table: str
    updated_column: str
    key_column: str
    schema: str | None = None
    columns: tuple[str, ...] | None = None  # None: every column of the table, in table order
    chunk_rows: int = MAX_BATCH_ROWS
    key_unique: bool = False  # the engineer vouches for a key the metadata cannot show unique (a view)

    @classmethod
    def from_pull(cls, pull: Mapping[str, Any]) -> StagingConfig:
        unknown = sorted(set(pull) - PULL_KEYS)
        if unknown:
            raise StagingError(f"pull 配置中有无法识别的键 {unknown}（可用：{sorted(PULL_KEYS)}）")
        names = {}
        for key in ("table", "updated_column", "key_column"):
            value = pull.get(key)
            if not isinstance(value, str) or not value.strip():
                raise StagingError(f"pull 配置缺少 {key}（前置库的表名、更新时间列和主键列都必须填写）")
            names[key] = value
        schema = pull.get("schema")
        if schema is not None and (not isinstance(schema, str) or not schema):
            raise StagingError("pull.schema 必须是非空字符串")
        columns = pull.get("columns")
        if columns is not None:
            if (
                not isinstance(columns, list)
                or not columns
                or not all(isinstance(c, str) and c for c in columns)
            ):
                raise StagingError("pull.columns 必须是非空的列名列表")
            if len(set(columns)) != len(columns):
                raise StagingError(f"pull.columns 中有重复的列名：{columns}")
        chunk = pull.get("chunk_rows", MAX_BATCH_ROWS)
        if isinstance(chunk, bool) or not isinstance(chunk, int) or not 1 <= chunk <= MAX_CHUNK_ROWS:
            raise StagingError(f"pull.chunk_rows 必须是 1 到 {MAX_CHUNK_ROWS} 之间的整数，实际为 {chunk!r}")
        key_unique = pull.get("key_unique", False)
        if not isinstance(key_unique, bool):
            raise StagingError("pull.key_unique 必须是 true 或 false")
        return cls(
            table=names["table"],
            updated_column=names["updated_column"],
            key_column=names["key_column"],
            schema=schema,
            columns=None if columns is None else tuple(columns),
            chunk_rows=chunk,
            key_unique=key_unique,
        )


class StagingDatabaseHook(ConnectionHook):
    """A department's staging database, as its Airflow Connection describes it."""

    def url(self) -> URL:
        """The SQLAlchemy URL of the database.

        The dialect is the Connection's type (``postgres`` becomes psycopg 3), unless the extra
        ``sqlalchemy_scheme`` names one; login, password, host, port and schema (the database) are taken as
        fields so that special characters in a password need no escaping. An SQLite connection keeps the
        file path in host, as Airflow's own SQLite hook does. Extra ``sqlalchemy_query`` adds URL query
        parameters (e.g. ``{"sslmode": "verify-full"}``).
        """
        conn = self.connection
        scheme = self.extra.get("sqlalchemy_scheme") or conn.conn_type or ""
        drivername = AIRFLOW_SCHEMES.get(scheme, scheme)
        if not drivername:
            raise StagingError(
                "无法从 Airflow 连接确定数据库类型：请设置连接类型或 extra 中的 sqlalchemy_scheme"
            )
        query = self.extra.get("sqlalchemy_query") or {}
        if not isinstance(query, dict):
            raise StagingError("连接 extra 中的 sqlalchemy_query 必须是对象（键值对）")
        if drivername.split("+")[0] == "sqlite":
            return URL.create(drivername, database=conn.host or conn.schema or None, query=query)
        return URL.create(
            drivername,
            username=conn.login or None,
            password=conn.password or None,
            host=conn.host or None,
            port=conn.port or None,
            database=conn.schema or None,
            query=query,
        )


# -------------------------------------------------------------------------------------------------- cursor


@dataclass(frozen=True)
class StagingCursor:
    """Where the last pull stopped: the last timestamped row, and the last row taken by key alone."""

    updated: str | None = None
    key: str | None = None
    null_key: str | None = None

    @classmethod
    def parse(cls, text: str | None) -> StagingCursor:
        if text is None:
            return cls()
        data = parse_cursor_json(text, ("updated", "key", "null_key"), StagingError)
        if not all(isinstance(v, str) for v in data.values()) or ("updated" in data) != ("key" in data):
            raise StagingError(f"游标中 updated 与 key 必须同时出现且都是文本：{text!r}")
        return cls(data.get("updated"), data.get("key"), data.get("null_key"))

    def text(self) -> str | None:
        data = {
            k: v for k, v in (("updated", self.updated), ("key", self.key), ("null_key", self.null_key)) if v
        }
        return cursor_json(data) if data else None


def _render(value: Any) -> str:
    """One value as text: ISO 8601 for times (the cursor's form and one the date transform reads)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (datetime, date, time_of_day)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        data = bytes(value)
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            return data.decode("gb18030", "replace")  # older Chinese systems write GBK into binary columns
    return str(value)


@dataclass(frozen=True)
class _Ordering:
    """How one ordering column (updated or key) is selected, compared and written into the cursor."""

    column: sa.Column[Any]
    raw: bool  # SQLite: compare stored values as SQLite does, without SQLAlchemy's type conversions
    python_type: type | None

    @property
    def expr(self) -> sa.ColumnElement[Any]:
        return sa.type_coerce(self.column, sa.String()) if self.raw else self.column

    def bind(self, value: Any) -> sa.BindParameter[Any]:
        """A bound value as it came from the database (a row, max()), compared without conversion."""
        return sa.bindparam(None, value, type_=sa.String() if self.raw else self.column.type)

    def bind_text(self, text: str) -> sa.BindParameter[Any]:
        """A bound value from the cursor's text form."""
        if self.raw:
            return sa.bindparam(None, text, type_=sa.String())
        return sa.bindparam(None, _parse(text, self.python_type, self.column.name), type_=self.column.type)


def _parse(text: str, python_type: type | None, column: str) -> Any:
    try:
        if python_type is datetime:
            return datetime.fromisoformat(text)
        if python_type is date:
            return date.fromisoformat(text)
        if python_type is time_of_day:
            return time_of_day.fromisoformat(text)
        if python_type is int:
            return int(text)
        if python_type is float:
            return float(text)
        if python_type is Decimal:
            return Decimal(text)
        if python_type is uuid.UUID:
            return uuid.UUID(text)
    except ValueError as exc:
        raise StagingError(f"游标值 {text!r} 不能转换为列 {column} 的类型：{exc}") from exc
    return text


# ------------------------------------------------------------------------------------------------ the table


@dataclass(frozen=True)
class _Reflected:
    table: sa.Table
    output: list[sa.Column[Any]]
    updated: _Ordering
    key: _Ordering


def _find_column(table: sa.Table, name: str, role: str) -> sa.Column[Any]:
    """The reflected column called ``name``; a case-only difference is forgiven when it is unambiguous
    (PostgreSQL folds unquoted names to lower case, Oracle and 达梦 to upper case)."""
    if name in table.c:
        return table.c[name]
    folded = [c for c in table.c if c.name.casefold() == name.casefold()]
    if len(folded) == 1:
        return folded[0]
    available = "、".join(c.name for c in table.c)
    raise StagingError(f"前置库表 {table.fullname} 没有{role} {name!r}（现有列：{available}）")


def _ordering(column: sa.Column[Any], dialect: str, role: str) -> _Ordering:
    if dialect == "sqlite":
        # Without a declared type (or declared BLOB) SQLite converts nothing: a stored 5 and the bound text
        # "5" would compare as different kinds, so the cursor could not stand for the row.
        if isinstance(column.type, (sa.types.NullType, sa.types._Binary)):
            raise StagingError(
                f"{role} {column.name} 在 SQLite 中没有声明类型（或为 BLOB），"
                "无法保证比较与排序一致；请为该列声明类型"
            )
        return _Ordering(column, raw=True, python_type=None)
    try:
        python_type: type | None = column.type.python_type
    except NotImplementedError:
        python_type = None
    if python_type is None or not issubclass(python_type, _CURSOR_TYPES) or python_type is bool:
        raise StagingError(
            f"{role} {column.name} 的类型 {column.type} 不能用作增量游标（需为时间、日期、数字或文本）"
        )
    if issubclass(python_type, datetime):
        python_type = datetime
    return _Ordering(column, raw=False, python_type=python_type)


def _unique(inspector: sa.Inspector, table: sa.Table, key: str) -> bool:
    """Whether the metadata shows ``key`` alone to be unique (primary key, unique constraint or index)."""
    schema = table.schema
    try:
        groups = [inspector.get_pk_constraint(table.name, schema=schema).get("constrained_columns") or []]
        groups += [u["column_names"] for u in inspector.get_unique_constraints(table.name, schema=schema)]
        groups += [
            i["column_names"] for i in inspector.get_indexes(table.name, schema=schema) if i.get("unique")
        ]
    except NotImplementedError:  # dialects that cannot reflect constraints: only key_unique can vouch
        return False
    return any(list(group) == [key] for group in groups)


def _reflect(engine: Engine, config: StagingConfig) -> _Reflected:
    where = f"{config.schema}.{config.table}" if config.schema else config.table
    with engine.connect() as conn:
        inspector = sa.inspect(conn)
        try:
            table = sa.Table(config.table, sa.MetaData(), schema=config.schema, autoload_with=conn)
        except NoSuchTableError:
            names = inspector.get_table_names(schema=config.schema) + inspector.get_view_names(
                schema=config.schema
            )
            raise StagingError(
                f"前置库中找不到表或视图 {where!r}（可用：{'、'.join(sorted(names)) or '无'}）"
            ) from None
        updated = _find_column(table, config.updated_column, "更新时间列")
        key = _find_column(table, config.key_column, "主键列")
        if updated.name == key.name:
            raise StagingError("更新时间列与主键列不能是同一列")
        if not config.key_unique and not _unique(inspector, table, key.name):
            raise StagingError(
                f"前置库表 {where} 的列 {key.name} 不是主键，也没有唯一约束或唯一索引："
                "同一时间戳下主键重复会漏读。"
                "请改用主键列；若确知其唯一（例如视图），在 pull 中写 key_unique: true"
            )
        names = config.columns if config.columns is not None else [c.name for c in table.c]
        output = [_find_column(table, name, "列") for name in names]
        dialect = engine.dialect.name
        return _Reflected(
            table, output, _ordering(updated, dialect, "更新时间列"), _ordering(key, dialect, "主键列")
        )


# ------------------------------------------------------------------------------------------------- the pull


def _strings(values: Sequence[Any]) -> pa.Array:
    """A column of text; the fast path takes columns that are already text (most staging tables)."""
    try:
        return pa.array(values, pa.string())
    except (pa.ArrowTypeError, pa.ArrowInvalid):
        return pa.array([None if v is None else _render(v) for v in values], pa.string())


@dataclass(frozen=True)
class StagingSource:
    """A staging table as a pulled source: one pull per run, of what changed since the stored cursor."""

    source_id: str
    config: StagingConfig
    url: URL
    mapped: tuple[str, ...]  # the mapping's `from` names

    @classmethod
    def open(cls, settings: Settings, spec: MappingSpec, conn: ConnectionLike) -> StagingSource:
        return cls(
            source_id_of(spec),
            StagingConfig.from_pull(spec.pull or {}),
            StagingDatabaseHook(conn).url(),
            tuple(headers_of(spec)),
        )

    def pulls(self, cursor: str | None, run: PullRun) -> Generator[StagingPull, None, None]:
        """The mapping's ``from`` names do not choose the columns: the block's ``columns``, else the whole
        row, lands, so that a changed mapping can be replayed from the landing area without pulling again.
        Names the table lacks are logged at once, before the cursor moves past rows that the mapping would
        then reject."""
        log.info("%s: staging database %s", self.source_id, self.url.render_as_string(hide_password=True))
        engine = sa.create_engine(self.url, poolclass=NullPool)  # one connection, disposed of with the pull
        staging = open_pull(self.source_id, self.config, engine, cursor)
        missing = [h for h in self.mapped if h not in staging.headers]
        if missing:
            log.warning(
                "%s: 映射中的列 %s 不在前置库读取的列中（%s）", self.source_id, missing, staging.headers
            )
        yield staging


@dataclass
class StagingPull(PullOnce):
    """One incremental pull of a staging table (gateway.landing.Pull); iterate ``batches()`` once."""

    source_id: str
    config: StagingConfig
    engine: Engine
    cursor_from: str | None
    kind: str = "sql"
    headers: list[str] = field(init=False)
    rows: int = 0  # rows read so far
    null_rows_taken: int = 0  # of them, rows with a NULL timestamp, taken by key
    null_rows_in_table: int = 0  # rows with a NULL timestamp in the table when the pull started
    _reflected: _Reflected = field(init=False, repr=False)
    _cursor: StagingCursor = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._cursor = StagingCursor.parse(self.cursor_from)
        self._reflected = _reflect(self.engine, self.config)
        # The names as the pull block writes them (the mapping's `from` names follow it), else the table's.
        names = self.config.columns or tuple(c.name for c in self._reflected.output)
        self.headers = list(names)

    def batches(self) -> Iterator[pa.RecordBatch]:
        """Timestamped rows after the cursor, then NULL-timestamp rows after the key cursor."""
        options: dict[str, Any] = {}
        if self.engine.dialect.name == "postgresql":
            # One snapshot for the whole pull, and a promise to the department's database that we only read.
            options = {"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}
        try:
            with self.engine.connect() as conn, conn.execution_options(**options).begin():
                yield from self._timestamped(conn)
                yield from self._null_timestamped(conn)
        finally:
            self.engine.dispose()
        self._finish(self._cursor.text())
        log.info(
            "%s: %d rows from %s (cursor %s → %s)",
            self.source_id,
            self.rows,
            self._reflected.table.fullname,
            self.cursor_from,
            self._cursor.text(),
        )

    def _select(self) -> sa.Select[Any]:
        r = self._reflected
        raw = r.updated.raw
        data = [sa.type_coerce(c, sa.String()) if raw else c for c in r.output]
        return sa.select(*data, r.updated.expr.label("__updated__"), r.key.expr.label("__key__"))

    def _timestamped(self, conn: sa.Connection) -> Iterator[pa.RecordBatch]:
        updated, key = self._reflected.updated, self._reflected.key
        upper = conn.execute(sa.select(sa.func.max(updated.expr))).scalar()
        if upper is None:
            return
        after: sa.ColumnElement[bool] | None = None
        if self._cursor.updated is not None and self._cursor.key is not None:
            u, k = updated.bind_text(self._cursor.updated), key.bind_text(self._cursor.key)
            after = sa.or_(updated.column > u, sa.and_(updated.column == u, key.column > k))
        while True:
            stmt = self._select().where(updated.column <= updated.bind(upper))
            if after is not None:
                stmt = stmt.where(after)
            rows = conn.execute(stmt.order_by(updated.column, key.column).limit(self.config.chunk_rows)).all()
            if not rows:
                return
            yield from self._emit(rows)
            last_u, last_k = rows[-1][-2], rows[-1][-1]
            self._cursor = StagingCursor(_render(last_u), _render(last_k), self._cursor.null_key)
            u, k = updated.bind(last_u), key.bind(last_k)
            after = sa.or_(updated.column > u, sa.and_(updated.column == u, key.column > k))
            if len(rows) < self.config.chunk_rows:
                return

    def _null_timestamped(self, conn: sa.Connection) -> Iterator[pa.RecordBatch]:
        updated, key = self._reflected.updated, self._reflected.key
        table = self._reflected.table
        is_null = updated.column.is_(None)
        self.null_rows_in_table = conn.execute(
            sa.select(sa.func.count()).select_from(table).where(is_null)
        ).scalar_one()
        if not self.null_rows_in_table:
            return
        upper = conn.execute(sa.select(sa.func.max(key.expr)).where(is_null)).scalar()
        bound = (
            key.column > key.bind_text(self._cursor.null_key) if self._cursor.null_key is not None else None
        )
        taken = 0
        while True:
            stmt = self._select().where(is_null, key.column <= key.bind(upper))
            if bound is not None:
                stmt = stmt.where(bound)
            rows = conn.execute(stmt.order_by(key.column).limit(self.config.chunk_rows)).all()
            if not rows:
                break
            yield from self._emit(rows)
            taken += len(rows)
            last = rows[-1][-1]
            self._cursor = StagingCursor(self._cursor.updated, self._cursor.key, _render(last))
            bound = key.column > key.bind(last)
            if len(rows) < self.config.chunk_rows:
                break
        self.null_rows_taken += taken
        log.warning(
            "%s: 前置库表 %s 有 %d 行的更新时间列 %s 为空，本次按主键补取其中 %d 行新行；"
            "这些行以后的修改无法被发现，请部门补齐更新时间",
            self.source_id,
            table.fullname,
            self.null_rows_in_table,
            updated.column.name,
            taken,
        )

    def _emit(self, rows: Sequence[sa.Row[Any]]) -> Iterator[pa.RecordBatch]:
        width = len(self.headers)
        columns = list(zip(*rows, strict=True))
        for start in range(0, len(rows), MAX_BATCH_ROWS):
            stop = min(start + MAX_BATCH_ROWS, len(rows))
            arrays = [_strings(columns[i][start:stop]) for i in range(width)]
            arrays.append(pa.array(range(self.rows + start + 1, self.rows + stop + 1), pa.int64()))
            yield pa.RecordBatch.from_arrays(arrays, names=[*(f"c{i}" for i in range(width)), "__row__"])
        self.rows += len(rows)


def open_pull(source_id: str, config: StagingConfig, engine: Engine, cursor: str | None) -> StagingPull:
    """The next pull of ``source_id``: reflects and checks the table at once (so headers are known, and a
    wrong name fails before anything is read); the engine is disposed of when that fails."""
    try:
        return StagingPull(source_id, config, engine, cursor)
    except Exception:
        engine.dispose()
        raise
