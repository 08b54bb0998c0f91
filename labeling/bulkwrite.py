"""Bulk inserts straight through the driver: executemany on SQLite, COPY on PostgreSQL.

Used where many rows of one table are written in one transaction: an import's tasks,
annotations, predictions and events (:mod:`labeling.imports.bulk`) and a dataset version's new
split placements (:func:`labeling.splits.store`).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from labeling.copyrows import copy_text

__all__ = ["BulkWriter", "copy_text"]


def _chunks(seq: list, n: int) -> Iterator[list]:
    for i in range(0, len(seq), n):
        yield seq[i:i + n]


class BulkWriter:
    """Bulk inserts straight through the driver: executemany on SQLite, COPY on PostgreSQL.

    Values are given ready for the database (JSON as text, timestamps converted once), so no
    per-row ORM object or SQLAlchemy type processing is involved; ids are allocated up front
    so that annotations can point at their tasks without RETURNING.
    """

    def __init__(self, s: Session):
        self.s = s
        self.pg = s.get_bind().dialect.name == "postgresql"
        self.conn = s.connection()  # the transaction's connection, also used by a writer thread
        if not self.pg:
            self.conn.exec_driver_sql("PRAGMA cache_size=-65536")  # 64 MiB: index pages stay in memory

    def close(self) -> None:
        """Give the pooled connection its default page cache back (the big one is freed)."""
        if not self.pg:
            self.conn.exec_driver_sql("PRAGMA cache_size=-2000")

    def ts(self, value):
        if self.pg:
            return value
        return value.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")

    def flag(self, value: bool):
        return value if self.pg else int(value)

    def next_ids(self, table: str, n: int) -> list[int]:
        if n == 0:
            return []
        conn = self.conn
        if self.pg:
            seq = conn.execute(sa.text("SELECT pg_get_serial_sequence(:t, 'id')"), {"t": table}).scalar()
            return list(conn.execute(sa.text("SELECT nextval(CAST(:seq AS regclass)) FROM generate_series(1, :n)"),
                                     {"seq": seq, "n": n}).scalars())
        # SQLite: the write transaction (BEGIN IMMEDIATE) holds the database's write lock.
        top = conn.exec_driver_sql(f'SELECT coalesce(max(id), 0) FROM "{table}"').scalar()
        return list(range(top + 1, top + n + 1))

    def insert(self, table: str, columns: tuple[str, ...], rows: list[tuple], consts: dict[str, Any] | None = None) -> None:
        """Insert ``rows`` (values of ``columns``); ``consts`` are columns with one value for all rows.

        On SQLite the constants go into the statement as literals (binding fewer parameters
        per row is a third faster); COPY on PostgreSQL gets them appended to every row.
        """
        if not rows:
            return
        consts = consts or {}
        conn = self.conn
        if self.pg:
            names = (*columns, *consts)
            cols = ", ".join(f'"{c}"' for c in names)
            tail = "".join("\t" + copy_text(v) for v in consts.values()) + "\n"
            raw = conn.connection.dbapi_connection
            with raw.cursor() as cur, cur.copy(f'COPY "{table}" ({cols}) FROM STDIN') as copy:
                for chunk in _chunks(rows, _COPY_ROWS):
                    copy.write("".join(["\t".join(map(copy_text, row)) + tail for row in chunk]))
            return
        cols = ", ".join(f'"{c}"' for c in (*columns, *consts))
        values = ", ".join(["?"] * len(columns) + [_sql_literal(v) for v in consts.values()])
        sql = f'INSERT INTO "{table}" ({cols}) VALUES ({values})'
        for chunk in _chunks(rows, 20_000):
            conn.exec_driver_sql(sql, chunk)

    def copy_lines(self, table: str, columns: tuple[str, ...], pieces: list[bytes], consts: dict[str, Any]) -> None:
        """COPY rows already in COPY's text format (PostgreSQL only): each piece holds rows of
        ``columns``, each row ended by a newline (:func:`labeling.copyrows.encode_block`), and
        is one COPY statement; ``consts`` are appended to every row, as :meth:`insert` does.
        Columns left out (the id) take their defaults."""
        if not self.pg:
            raise ValueError("COPY text is for PostgreSQL")
        cols = ", ".join(f'"{c}"' for c in (*columns, *consts))
        # a newline ends each row and nothing else (COPY text escapes those in values), so
        # one replace appends the constants to every row
        tail = ("".join("\t" + copy_text(v) for v in consts.values()) + "\n").encode("utf-8")
        with self.conn.connection.dbapi_connection.cursor() as cur:
            for piece in pieces:
                with cur.copy(f'COPY "{table}" ({cols}) FROM STDIN') as copy:
                    copy.write(piece.replace(b"\n", tail))


_COPY_ROWS = 5000  # rows per block of COPY text handed to the driver


def _sql_literal(value: Any) -> str:
    """An SQL literal of one of the caller's own constants (never of user data)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    raise TypeError(f"no SQL literal for {type(value).__name__}")
