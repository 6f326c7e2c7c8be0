"""The staging-table connector: keyset pulls through timestamp ties, cursors, NULL timestamps, identifiers."""

from __future__ import annotations

import json
import logging
import os
import random
import shutil
import sqlite3
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from connectors.pulled import run_pull
from connectors.sql_staging import (
    StagingConfig,
    StagingCursor,
    StagingDatabaseHook,
    StagingError,
    StagingPull,
    open_pull,
)
from gateway.landing import read_cursor
from gateway.mapping.spec import MappingSpec, load_mappings
from gateway.settings import Settings
from samples.staging import make_staging
from tests.connectors.connections import Connection
from tests.paths import REPO_ROOT

PG_ADMIN_URL = os.environ.get("GATEWAY_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
T1, T2, T3 = datetime(2026, 11, 2, 8), datetime(2026, 11, 2, 12, 30), datetime(2026, 11, 3, 8)


def _pg_admin(statement: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5) as conn:
        conn.execute(statement)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def staging_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty staging database: a SQLite file, or a throw-away database on the PostgreSQL server."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'staging.db'}"
        return
    name = f"gw_staging_{uuid.uuid4().hex[:12]}"
    _pg_admin(f'CREATE DATABASE "{name}"')
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _engine(url: str) -> sa.Engine:
    """psycopg 3 for PostgreSQL, as the connector's hook picks it for a postgres Connection."""
    made = make_url(url)
    if made.drivername == "postgresql":
        made = made.set(drivername="postgresql+psycopg")
    return sa.create_engine(made, poolclass=sa.pool.NullPool)


def _table(url: str, updated_type: Any = None, *, primary_key: bool = True) -> sa.Table:
    table = sa.Table(
        "check_action",
        sa.MetaData(),
        sa.Column("cd_id", sa.Integer, primary_key=primary_key, autoincrement=False),
        sa.Column("cd_time", updated_type if updated_type is not None else sa.DateTime(), nullable=True),
        sa.Column("administrative_cp", sa.String(200)),
    )
    engine = _engine(url)
    table.create(engine)
    engine.dispose()
    return table


def _insert(url: str, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    engine = _engine(url)
    with engine.begin() as conn:
        conn.execute(table.insert(), rows)
    engine.dispose()


def _update(url: str, table: sa.Table, ids: list[int], when: Any) -> None:
    engine = _engine(url)
    with engine.begin() as conn:
        conn.execute(table.update().where(table.c.cd_id.in_(ids)).values(cd_time=when))
    engine.dispose()


@dataclass
class Pulled:
    pull: StagingPull
    batches: list[pa.RecordBatch] = field(default_factory=list)

    def column(self, name: str) -> list[str | None]:
        index = self.pull.headers.index(name)
        return [value for batch in self.batches for value in batch.column(index).to_pylist()]


def pull(url: str, cursor: str | None, **config: Any) -> Pulled:
    block = {"table": "check_action", "updated_column": "cd_time", "key_column": "cd_id", **config}
    staging = open_pull("xz_amr_staging", StagingConfig.from_pull(block), _engine(url), cursor)
    return Pulled(staging, list(staging.batches()))


def test_keyset_reads_every_row_once_when_ten_thousand_rows_share_three_timestamps(staging_url: str) -> None:
    table = _table(staging_url)
    ids = list(range(1, 10_001))
    random.Random(7).shuffle(ids)  # keys are not in insertion order, and each timestamp group is mixed
    times = (T1, T2, T3)
    _insert(
        staging_url,
        table,
        [{"cd_id": i, "cd_time": times[i % 3], "administrative_cp": f"企业{i}"} for i in ids],
    )

    first = pull(staging_url, None, chunk_rows=700)  # 700 splits every group of ~3333 rows, several times

    keys = [int(k) for k in first.column("cd_id") if k is not None]
    assert len(keys) == 10_000 and set(keys) == set(range(1, 10_001))
    expected = sorted(range(1, 10_001), key=lambda i: (times[i % 3], i))
    assert keys == expected
    assert [b.num_rows for b in first.batches] == [700] * 14 + [200]
    rows = [r for b in first.batches for r in b.column("__row__").to_pylist()]
    assert rows == list(range(1, 10_001))
    last_key = max(i for i in range(1, 10_001) if i % 3 == 2)  # T3 is times[2]
    assert json.loads(first.pull.cursor_to or "") == {"key": str(last_key), "updated": _text(staging_url, T3)}

    again = pull(staging_url, first.pull.cursor_to, chunk_rows=700)
    assert again.pull.rows == 0 and again.pull.cursor_to == first.pull.cursor_to

    later = T3 + timedelta(hours=1)
    _update(staging_url, table, [5, 10, 9_999], later)  # corrections: rows move to a later time
    _insert(staging_url, table, [{"cd_id": 10_001, "cd_time": later, "administrative_cp": "新企业"}])
    third = pull(staging_url, first.pull.cursor_to, chunk_rows=2)
    assert third.column("cd_id") == ["5", "10", "9999", "10001"]
    assert [b.num_rows for b in third.batches] == [2, 2]


def _text(url: str, moment: datetime) -> str:
    """How the cursor writes a time read from the DateTime column of each database."""
    if url.startswith("sqlite"):
        return moment.strftime("%Y-%m-%d %H:%M:%S.%f")  # SQLAlchemy's SQLite DateTime storage format
    return moment.isoformat()


def test_rows_with_a_null_timestamp_are_taken_once_by_key_and_reported(
    staging_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    table = _table(staging_url)
    rows = [
        {"cd_id": i, "cd_time": None if i % 4 == 0 else T1, "administrative_cp": f"企业{i}"}
        for i in range(1, 21)
    ]
    _insert(staging_url, table, rows)

    with caplog.at_level(logging.WARNING, logger="connectors.sql_staging"):
        first = pull(staging_url, None, chunk_rows=2)
    keys = [int(k) for k in first.column("cd_id") if k]
    assert keys == [i for i in range(1, 21) if i % 4] + [4, 8, 12, 16, 20]  # timestamped first, then by key
    assert first.pull.null_rows_taken == 5 and first.pull.null_rows_in_table == 5
    assert json.loads(first.pull.cursor_to or "")["null_key"] == "20"
    assert "5 行的更新时间列 cd_time 为空" in caplog.text

    second = pull(staging_url, first.pull.cursor_to, chunk_rows=2)
    assert second.pull.rows == 0 and second.pull.null_rows_in_table == 5  # never taken twice, still reported

    _insert(staging_url, table, [{"cd_id": 21, "cd_time": None, "administrative_cp": "新企业"}])
    _update(staging_url, table, [8], T2)  # the department fills in a missing time: seen as a change
    third = pull(staging_url, second.pull.cursor_to, chunk_rows=2)
    assert third.column("cd_id") == ["8", "21"]
    assert third.pull.null_rows_taken == 1


@pytest.mark.postgres
def test_postgres_timestamps_round_trip_exactly_through_the_cursor(tmp_path: Path) -> None:
    name = f"gw_staging_{uuid.uuid4().hex[:12]}"
    _pg_admin(f'CREATE DATABASE "{name}"')
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        table = _table(url, sa.DateTime(timezone=True))
        base = datetime(2026, 11, 2, 8, tzinfo=timezone(timedelta(hours=8)))
        # Microseconds apart and with ties: a cursor that lost precision would skip or repeat rows.
        moments = [
            base,
            base + timedelta(microseconds=1),
            base + timedelta(microseconds=1),
            base + timedelta(seconds=1),
        ]
        _insert(
            url, table, [{"cd_id": i, "cd_time": m, "administrative_cp": "x"} for i, m in enumerate(moments)]
        )
        seen: list[str | None] = []
        cursor: str | None = None
        for _ in moments:
            step = pull(url, cursor, chunk_rows=1)
            cursor = step.pull.cursor_to
            seen += step.column("cd_id")
        assert seen == ["0", "1", "2", "3"]
        updated = json.loads(cursor or "")["updated"]
        assert datetime.fromisoformat(updated) == moments[-1]
        assert pull(url, cursor).pull.rows == 0
    finally:
        _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_sqlite_text_timestamps_are_kept_as_written(tmp_path: Path) -> None:
    """A department's program writes its own text into a DATETIME column: the cursor keeps that text and
    SQLite compares it as text, exactly as ORDER BY sorts it."""
    path = tmp_path / "foreign.db"
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE check_action (cd_id INTEGER PRIMARY KEY, cd_time DATETIME, administrative_cp TEXT)"
        )
        db.executemany(
            "INSERT INTO check_action VALUES (?, ?, ?)",
            [(i, "2026/11/02 08:00" if i < 4 else "2026/11/02 09:30", f"企业{i}") for i in range(1, 7)],
        )
    url = f"sqlite:///{path}"
    first = pull(url, None, chunk_rows=2)
    assert first.column("cd_time") == ["2026/11/02 08:00"] * 3 + ["2026/11/02 09:30"] * 3
    assert json.loads(first.pull.cursor_to or "") == {"key": "6", "updated": "2026/11/02 09:30"}
    with sqlite3.connect(path) as db:
        db.execute("INSERT INTO check_action VALUES (7, '2026/11/02 09:30', '同一时间、主键更大')")
        db.execute("INSERT INTO check_action VALUES (8, '2026/11/03 07:00', '更晚')")
    assert pull(url, first.pull.cursor_to).column("cd_id") == ["7", "8"]


def test_batches_never_exceed_five_thousand_rows(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'big.db'}"
    table = _table(url)
    _insert(url, table, [{"cd_id": i, "cd_time": T1, "administrative_cp": None} for i in range(12_000)])
    result = pull(url, None, chunk_rows=12_000)
    assert [b.num_rows for b in result.batches] == [5000, 5000, 2000]
    assert result.column("administrative_cp") == [None] * 12_000


def test_values_of_every_type_become_text(staging_url: str) -> None:
    table = sa.Table(
        "check_action",
        sa.MetaData(),
        sa.Column("cd_id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("cd_time", sa.DateTime()),
        sa.Column("check_date", sa.Date()),
        sa.Column("fine", sa.Numeric(12, 2)),
        sa.Column("closed", sa.Boolean()),
    )
    engine = _engine(staging_url)
    table.create(engine)
    with engine.begin() as conn:
        conn.execute(
            table.insert(),
            [{"cd_id": 1, "cd_time": T1, "check_date": T1.date(), "fine": 1234.5, "closed": True}],
        )
    engine.dispose()
    result = pull(staging_url, None)
    assert result.column("check_date") == ["2026-11-02"]
    assert result.column("fine") == (["1234.5"] if staging_url.startswith("sqlite") else ["1234.50"])
    assert result.column("closed") == (["1"] if staging_url.startswith("sqlite") else ["true"])


def test_names_are_checked_against_the_database_and_never_run_as_sql(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'staging.db'}"
    _table(url)
    with pytest.raises(StagingError, match="找不到表或视图 'check_action; DROP TABLE check_action'"):
        pull(url, None, table="check_action; DROP TABLE check_action")
    with pytest.raises(
        StagingError, match=r"没有列 'cd_id\) OR 1=1 --'.*现有列：cd_id、cd_time、administrative_cp"
    ):
        pull(url, None, columns=["cd_id) OR 1=1 --"])
    with pytest.raises(StagingError, match="没有更新时间列 'updated_at'"):
        pull(url, None, updated_column="updated_at")
    assert sa.inspect(_engine(url)).get_table_names() == ["check_action"]  # nothing was dropped
    only = pull(url, None, columns=["ADMINISTRATIVE_CP"])  # a case-only difference is forgiven
    assert only.pull.headers == ["ADMINISTRATIVE_CP"] and only.pull.rows == 0


def test_a_key_that_is_not_unique_is_refused_unless_vouched_for(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'staging.db'}"
    table = _table(url, primary_key=False)
    _insert(url, table, [{"cd_id": 1, "cd_time": T1, "administrative_cp": "a"}])
    with pytest.raises(StagingError, match="不是主键，也没有唯一约束或唯一索引"):
        pull(url, None)
    assert pull(url, None, key_unique=True).column("cd_id") == ["1"]


def test_sqlite_columns_without_a_declared_type_cannot_order_the_pull(tmp_path: Path) -> None:
    path = tmp_path / "untyped.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE check_action (cd_id INTEGER PRIMARY KEY, cd_time, administrative_cp)")
    with pytest.raises(StagingError, match="没有声明类型"):
        pull(f"sqlite:///{path}", None)


@pytest.mark.parametrize(
    ("block", "message"),
    [
        ({"table": "t", "updated_column": "u"}, "缺少 key_column"),
        ({"table": "t", "updated_column": "u", "key_column": "k", "chunk": 5}, "无法识别的键 \\['chunk'\\]"),
        ({"table": "t", "updated_column": "u", "key_column": "k", "chunk_rows": 0}, "chunk_rows 必须是"),
        ({"table": "t", "updated_column": "u", "key_column": "k", "columns": ["a", "a"]}, "重复的列名"),
    ],
)
def test_pull_blocks_are_checked(block: dict[str, Any], message: str) -> None:
    with pytest.raises(StagingError, match=message):
        StagingConfig.from_pull({"kind": "sql_staging", "connection": "c", **block})


def test_cursor_text_is_canonical() -> None:
    cursor = StagingCursor(updated="2026-11-02T08:00:00", key="17", null_key="3")
    assert cursor.text() == '{"key":"17","null_key":"3","updated":"2026-11-02T08:00:00"}'
    assert StagingCursor.parse(cursor.text()) == cursor
    assert StagingCursor().text() is None
    with pytest.raises(StagingError, match="同时出现"):
        StagingCursor.parse('{"updated": "2026-11-02"}')


def test_the_database_url_comes_from_the_connection_and_keeps_the_password_out_of_logs() -> None:
    conn = Connection("postgres", "10.14.9.20", 5432, "qzk", "gateway_reader", "p@ss:w/rd#1")
    url = StagingDatabaseHook(conn).url()
    assert url.drivername == "postgresql+psycopg"
    assert (url.host, url.port, url.database, url.username, url.password) == (
        "10.14.9.20",
        5432,
        "qzk",
        "gateway_reader",
        "p@ss:w/rd#1",
    )
    assert "p@ss" not in url.render_as_string(hide_password=True)
    assert StagingDatabaseHook(Connection("sqlite", host="/data/qzk.db")).url().database == "/data/qzk.db"
    oracle = Connection("oracle", "db", extra={"sqlalchemy_scheme": "oracle+oracledb"})
    assert StagingDatabaseHook(oracle).url().drivername == "oracle+oracledb"
    query = Connection("postgres", "db", extra={"sqlalchemy_query": {"sslmode": "verify-full"}})
    assert StagingDatabaseHook(query).url().query == {"sslmode": "verify-full"}
    with pytest.raises(StagingError, match="无法从 Airflow 连接确定数据库类型"):
        StagingDatabaseHook(Connection(None, "db")).url()


MAPPING = """
id: xz_amr_inspection_staging
label: 市场监管局前置库 行政检查行为
record_type: inspection_action
sources: [xz_amr_staging]
pull:
  kind: sql_staging
  connection: xz_amr_qzk
  table: jgxw_check_action
  updated_column: cd_time
  key_column: cd_id
  chunk_rows: 7
fields:
  administrative_cp: {from: administrative_cp}
"""


def _mapping(settings: Settings, tmp_path: Path, text: str = MAPPING) -> tuple[Settings, MappingSpec]:
    mappings = tmp_path / "mappings"
    mappings.mkdir()
    shutil.copy(REPO_ROOT / "mappings" / "defaults.yaml", mappings)
    (mappings / "xz_amr_inspection_staging.yaml").write_text(text, encoding="utf-8")
    return settings.with_overrides(mappings_dir=mappings), load_mappings(mappings)[
        "xz_amr_inspection_staging"
    ]


def test_the_demo_staging_database_lands_incrementally(settings: Settings, tmp_path: Path) -> None:
    """make_staging's 30 rows land once; a correction and a withdrawal land as the next unit."""
    db = make_staging.create(tmp_path / "qzk.db")
    settings, spec = _mapping(settings, tmp_path)
    conn = Connection("sqlite", host=str(db))

    run = run_pull(settings, spec, conn)
    (unit,) = run.landed
    assert run.ok and unit.rows == run.rows == make_staging.ROWS == 30
    assert json.loads(read_cursor(settings, "xz_amr_staging") or "") == {
        "key": "30",
        "updated": "2026-11-03 17:45:10",
    }
    landed = pq.read_table(unit.path)
    headers = json.loads(landed.schema.metadata[b"gateway.headers"])
    assert headers[:3] == ["cd_id", "plan_id", "supervise_item_implement_code"] and "cd_operation" in headers
    cursor, files = read_cursor(settings, "xz_amr_staging"), sorted(settings.landing_dir.rglob("*"))
    for _ in range(10):  # the table has not changed: nothing lands, the cursor stays, no file is left
        assert run_pull(settings, spec, conn).landed == []
    assert (
        read_cursor(settings, "xz_amr_staging") == cursor and sorted(settings.landing_dir.rglob("*")) == files
    )

    make_staging.change_row(db, 7)
    make_staging.delete_row(db, 12)
    (second,) = run_pull(settings, spec, conn).landed
    assert second.rows == 2
    table = pq.read_table(second.path).to_pydict()
    operation = f"c{headers.index('cd_operation')}"
    assert list(zip(table["c0"], table[operation], strict=True)) == [("7", "u"), ("12", "d")]
    assert second.cursor_from == unit.cursor_to


def test_the_demo_staging_codes_are_valid(tmp_path: Path) -> None:
    from gateway.ids import resident_id, uscc

    db = make_staging.create(tmp_path / "qzk.db")
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT administrative_cp_ce_type, administrative_cp_ui_code, implement_institution_code, "
            "supervise_item_check_icode, supervise_item_implement_code, area_number, cd_time "
            "FROM jgxw_check_action"
        ).fetchall()
    for cert_type, code, institution, check_icode, item, area, _ in rows:
        assert resident_id.is_valid(code) if cert_type == "111" else uscc.is_valid(code), code
        assert uscc.is_valid(institution) and check_icode[:18] == institution and check_icode[18] in "12345"
        assert len(item) == 14 and item.isdigit() and area.startswith("1409")
    times = [row[-1] for row in rows]
    assert max(times.count(t) for t in set(times)) >= 2  # the keyset has ties to get through


def test_from_names_the_table_lacks_are_logged_before_the_cursor_moves(
    settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The whole row lands whatever the mapping takes, but a `from` name the table lacks is said at once."""
    db = make_staging.create(tmp_path / "qzk.db")
    text = MAPPING + "  check_result: {from: jiancha_jieguo}\n"  # a from name the table does not have
    settings, spec = _mapping(settings, tmp_path, text)
    with caplog.at_level(logging.WARNING, logger="connectors.sql_staging"):
        run = run_pull(settings, spec, Connection("sqlite", host=str(db)))
    assert run.rows == 30
    assert "['jiancha_jieguo']" in caplog.text
