"""What a task row costs PostgreSQL's backend when an import COPYs it, schema variant by variant.

The rows are those of a streamed import of text tasks (``bulk.write``'s plain rows: id, data,
content hash and the constant columns, in COPY text built as ``labeling.bulkwrite`` builds it),
made once in memory. Each variant runs in one transaction that empties ``task`` (TRUNCATE: fresh
files), changes the schema (drops or adds an index, sets a storage parameter), COPYs every row
and rolls back; variants are alternated over ``--rounds``. Per row: the backend's CPU
microseconds (``/proc`` of its pid), wall microseconds, WAL bytes; the backend's busy share is
CPU over wall.

Variants (``--variants``, comma-separated; ``base`` is the schema the migrations make: since
migration 0031 without ``ix_task_project_key`` on ``(project_id, hashtextextended(content_hash, 0))``,
so ``no_key`` is ``base`` and the variants that replaced that index add theirs to ``base``):

``base``; ``no_key`` (without it); in its place ``text_hash`` (the B-tree on
``(project_id, content_hash)`` before migration 0023), ``text_hash_c`` (the same in the "C"
collation), ``hash`` (``USING hash (content_hash)``), ``key_bits`` (the hash's first 16 hex
digits as a bigint), ``key_alone`` (the 64-bit key without ``project_id``); ``no_route``,
``no_fk`` (without the router's index, the project's foreign key), ``no_gin`` (without
``ix_task_data_gin``), ``gin_nofast`` (``fastupdate = off`` on it), ``gin_64mb``
(``gin_pending_list_limit`` 64 MB for the transaction), ``bare`` (no index but the primary key,
no foreign key, no trigger: the heap and COPY's parsing); without one index each:
``no_import_ix`` (``ix_task_import_id``, gone since migration 0024), ``pre_0024`` (the
schema before migrations 0024 and 0025: that index and the project's foreign key), ``no_project_id``, ``no_created``, ``no_updated``, ``no_partial`` (the gold and media
partial indexes); ``no_media_fk``; ``no_tally`` (without the tally triggers); ``wal_lz4``,
``wal_zstd`` (``wal_compression`` for the transaction: superuser); ``binary`` (the base schema,
the rows sent in COPY's binary format instead of text); ``data_jsonb`` (``task.data`` as
``jsonb`` instead of ``json``, the GIN on ``data jsonb_path_ops`` instead of
``(data::jsonb) jsonb_path_ops``: COPY parses each row's JSON once, not once to check it and again
for the GIN), ``data_jsonb_no_gin`` (the same column without the GIN: with ``no_gin``, what the
column type costs apart from the index); ``no_pk`` (without the primary key); ``key32`` (the dedupe
key as ``hashtext``'s 32-bit hash: 20 bytes an index entry instead of 28); ``nodedup`` (B-tree
deduplication off on every B-tree); ``gin_batch`` (the GIN's pending list and the work memory that
merges it at 256 MB for the transaction, the list flushed by ``gin_clean_pending_list`` after the
COPY, inside the measured time); ``gin_trigger`` (the same through the
schema alone: the index's ``gin_pending_list_limit`` 128 MB, a statement trigger merging the list
with 256 MB of ``maintenance_work_mem`` after every 500,000 task rows a transaction inserts);
``gin_0032`` (the list limit, function and
trigger of migration 0032 as written in 512226e and reverted, what it leaves in the list merged
at the end in the measured time); ``gin_end`` and ``work_mem`` (``gin_batch``'s halves: the index's list
limit with 256 MB of ``maintenance_work_mem`` for the merge at the end, and 256 MB of
``work_mem`` alone, which also holds the tally triggers' transition tables);
``no_created_updated`` (without ``ix_task_project_created`` and ``_updated``); ``not_last`` (a task of a later project in the table: the indexes
led by ``project_id`` no longer take the rows on their rightmost leaf; with ``--prefill``). ``fpi_per_1k``: the full-page images
the whole server wrote per 1,000 rows (a checkpoint during the COPY makes them), read from
``pg_stat_wal`` (use a server of your own).

Usage::

    python bench/task_copy.py --pg-url postgresql://postgres@127.0.0.1:5432/scratch
        [--rows 300000] [--rounds 2] [--variants base,hash] [--text-chars 600] [--prefill 8000000]

``--prefill N`` measures a large table: N rows of the same project are COPYed and committed first
(ids 1..N, the base schema, its indexes grown by inserts as an import grows them), each variant
then COPYs ``--rows`` more on top and rolls back, and ``VACUUM task`` removes them before the next.
``--reuse`` measures again on the table such a run left (``--variants`` in several invocations);
``--reuse --lookup N`` times an import's dedupe lookup of N rows' data (half of them in the table)
through ``ix_task_project_key`` (before migration 0031) and through ``ix_task_data_gin`` (after),
alternated over ``--rounds``.

The database is a scratch one: its tables are DROPPED. The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import struct
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from common import (
    LEAD_EMAIL,
    bench_env,
    cpu_seconds,
    init_with_lead,
    labelfab,
    load_average,
    log,
    reset_schema,
)
from export import CONFIG

from labeling.bulkwrite import copy_text
from labeling.canonical import dumps, sha256_text

_TASK_DROP_ALL = """
DO $$ DECLARE r record; BEGIN
  FOR r IN SELECT indexname FROM pg_indexes WHERE tablename = 'task' AND indexname <> 'pk_task' LOOP
    EXECUTE 'DROP INDEX ' || quote_ident(r.indexname);
  END LOOP;
  FOR r IN SELECT conname FROM pg_constraint WHERE conrelid = 'task'::regclass AND contype = 'f' LOOP
    EXECUTE 'ALTER TABLE task DROP CONSTRAINT ' || quote_ident(r.conname);
  END LOOP;
  FOR r IN SELECT tgname FROM pg_trigger WHERE tgrelid = 'task'::regclass AND NOT tgisinternal LOOP
    EXECUTE 'DROP TRIGGER ' || quote_ident(r.tgname) || ' ON task';
  END LOOP;
END $$"""

_TASK_DROP_TRIGGERS = """
DO $$ DECLARE r record; BEGIN
  FOR r IN SELECT tgname FROM pg_trigger WHERE tgrelid = 'task'::regclass AND NOT tgisinternal LOOP
    EXECUTE 'DROP TRIGGER ' || quote_ident(r.tgname) || ' ON task';
  END LOOP;
END $$"""

_NO_KEY = "DROP INDEX IF EXISTS ix_task_project_key"
_NODEDUP = """
DO $$ DECLARE r record; BEGIN
  FOR r IN SELECT i.relname FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_am a ON a.oid = i.relam
           WHERE x.indrelid = 'task'::regclass AND a.amname = 'btree' LOOP
    EXECUTE 'ALTER INDEX ' || quote_ident(r.relname) || ' SET (deduplicate_items = off)';
  END LOOP;
END $$"""
_DATA_JSONB = [
    "DROP INDEX ix_task_data_gin",
    "ALTER TABLE task ALTER COLUMN data TYPE jsonb USING data::jsonb",
    "CREATE INDEX ix_task_data_gin ON task USING gin (data jsonb_path_ops)",
]
# the function of migration 0032 as written in 512226e (reverted: it missed its criteria)
_GIN_0032_FN = """
CREATE FUNCTION task_gin_merge() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
SET maintenance_work_mem = '256MB' SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  n bigint := pg_stat_get_xact_tuples_inserted(TG_RELID);
  since text := current_setting('labelfab.gin_merged_at', true);
  every bigint := coalesce(nullif(current_setting('labelfab.gin_merge_rows', true), '')::bigint, 500000);
BEGIN
  -- the count can hold rows of the backend's earlier transactions not yet reported to the
  -- statistics, so a transaction counts from the end of its first INSERT into task
  IF coalesce(since, '') = '' THEN
    PERFORM set_config('labelfab.gin_merged_at', n::text, true);
  ELSIF n - since::bigint >= every THEN
    PERFORM gin_clean_pending_list(format('%I.ix_task_data_gin', TG_TABLE_SCHEMA)::regclass);
    PERFORM set_config('labelfab.gin_merged_at', n::text, true);
  END IF;
  RETURN NULL;
END $$"""


_GIN_FLUSH_FN = """
CREATE FUNCTION task_gin_flush() RETURNS trigger LANGUAGE plpgsql SET maintenance_work_mem = '256MB' AS $$
DECLARE n bigint := (SELECT n_tup_ins FROM pg_stat_xact_user_tables WHERE relid = 'task'::regclass);
BEGIN
  IF n - coalesce(nullif(current_setting('labelfab.gin_merged_at', true), '')::bigint, 0) >= 500000 THEN
    PERFORM gin_clean_pending_list('ix_task_data_gin');
    PERFORM set_config('labelfab.gin_merged_at', n::text, true);
  END IF;
  RETURN NULL;
END $$"""
VARIANTS: dict[str, list[str]] = {
    "base": [],
    "no_key": [_NO_KEY],
    "text_hash": [_NO_KEY, "CREATE INDEX ix_task_project_hash ON task (project_id, content_hash)"],
    "text_hash_c": [
        _NO_KEY,
        'CREATE INDEX ix_task_project_hash ON task (project_id, content_hash COLLATE "C")',
    ],
    "hash": [_NO_KEY, "CREATE INDEX ix_task_content_hash ON task USING hash (content_hash)"],
    "key_bits": [
        _NO_KEY,
        "CREATE INDEX ix_task_project_bits ON task (project_id, "
        "(('x' || left(content_hash, 16))::bit(64)::bigint))",
    ],
    "key_alone": [
        _NO_KEY,
        "CREATE INDEX ix_task_content_key ON task (hashtextextended(content_hash, 0))",
    ],
    "no_route": ["DROP INDEX ix_task_route"],
    "no_fk": ["ALTER TABLE task DROP CONSTRAINT IF EXISTS fk_task_project_id_project"],
    "no_gin": ["DROP INDEX ix_task_data_gin"],
    "gin_nofast": ["ALTER INDEX ix_task_data_gin SET (fastupdate = off)"],
    "gin_64mb": ["SET LOCAL gin_pending_list_limit = '64MB'"],
    "bare": [_TASK_DROP_ALL],
    "no_import_ix": ["DROP INDEX IF EXISTS ix_task_import_id"],
    # the schema before migrations 0024 and 0025: the import's index and the project's foreign key
    "pre_0024": [
        "CREATE INDEX ix_task_import_id ON task (import_id)",
        "ALTER TABLE task ADD CONSTRAINT fk_task_project_id_project FOREIGN KEY (project_id) "
        "REFERENCES project (id)",
    ],
    "no_project_id": ["DROP INDEX ix_task_project_id"],
    "no_created": ["DROP INDEX ix_task_project_created"],
    "no_updated": ["DROP INDEX ix_task_project_updated"],
    "no_partial": ["DROP INDEX ix_task_project_gold", "DROP INDEX ix_task_media_id"],
    "no_media_fk": ["ALTER TABLE task DROP CONSTRAINT fk_task_media_id_media"],
    "no_tally": [_TASK_DROP_TRIGGERS],
    "wal_lz4": ["SET LOCAL wal_compression = lz4"],
    "wal_zstd": ["SET LOCAL wal_compression = zstd"],
    "binary": [],  # the base schema, the rows in COPY's binary format
    # task.data as jsonb: parsed once by COPY, the GIN on the column itself (same opclass)
    "data_jsonb": _DATA_JSONB,
    "data_jsonb_no_gin": _DATA_JSONB[:2],
    # the primary key (its readers are everything; measured to place it among the others)
    "no_pk": ["ALTER TABLE task DROP CONSTRAINT pk_task CASCADE"],
    # the dedupe key as a 32-bit hash: 20 bytes an entry instead of 28 (known_hashes keeps the exact check)
    "key32": [
        _NO_KEY,
        "CREATE INDEX ix_task_project_key ON task (project_id, hashtext(content_hash))",
    ],
    # B-tree deduplication off on every B-tree (its pass runs at each would-be split and finds nothing)
    "nodedup": [_NODEDUP],
    # the GIN's pending list merged in larger sorted batches: each merge walks the entry tree once
    # for its keys, so fewer merges touch fewer of its leaves when it no longer fits in memory;
    # the list is flushed before the transaction ends (in the measured time) so readers never scan it
    "gin_batch": [
        "SET LOCAL gin_pending_list_limit = '256MB'",
        "SET LOCAL work_mem = '256MB'",
        "SET LOCAL maintenance_work_mem = '256MB'",
    ],
    # a task of a later project (id -1, so the primary key's inserts still append): every index
    # led by project_id then gets the import's keys before its last entry, not on its rightmost
    # leaf, where PostgreSQL's fast path skips the descent from the root
    # the same larger merges asked for by the schema alone, as a migration could: the index's own
    # pending-list limit (128 MB), and a statement trigger that merges the list, with 256 MB of
    # maintenance memory (the function's own setting), once the transaction has inserted 500,000
    # task rows since its last merge (an import's 50,000-row COPYs then merge every tenth)
    "gin_trigger": [
        "ALTER INDEX ix_task_data_gin SET (gin_pending_list_limit = 131072)",
        _GIN_FLUSH_FN,
        "CREATE TRIGGER task_gin_flush AFTER INSERT ON task FOR EACH STATEMENT "
        "EXECUTE FUNCTION task_gin_flush()",
    ],
    # migration 0032 as written in 512226e, reverted: the index's list limit, the statement
    # trigger that merges the list every 500,000 rows after a transaction's first COPY; what it
    # leaves in the list is merged at the end, in the measured time (autovacuum would do that
    # after an import, on another core)
    "gin_0032": [
        "ALTER INDEX ix_task_data_gin SET (gin_pending_list_limit = 32768)",
        _GIN_0032_FN,
        "CREATE TRIGGER task_gin_merge AFTER INSERT ON task FOR EACH STATEMENT "
        "EXECUTE FUNCTION task_gin_merge()",
    ],
    # gin_batch's two halves apart: the GIN's merge alone (the index's list limit, 256 MB of
    # maintenance memory for gin_clean_pending_list at the end), and the work memory alone (which
    # also holds the tally triggers' transition tables, written to temporary files past it)
    "gin_end": [
        "ALTER INDEX ix_task_data_gin SET (gin_pending_list_limit = 262144)",
        "SET LOCAL maintenance_work_mem = '256MB'",
    ],
    "work_mem": ["SET LOCAL work_mem = '256MB'"],
    # the data manager's created and updated orders both without their index (what the two cost together)
    "no_created_updated": [
        "DROP INDEX ix_task_project_created",
        "DROP INDEX ix_task_project_updated",
    ],
    "not_last": [
        "INSERT INTO task SELECT (jsonb_populate_record(NULL::task, to_jsonb(t) || jsonb_build_object("
        "'id', -1, 'project_id', t.project_id + 1))).* FROM task t ORDER BY t.id DESC LIMIT 1"
    ],
}
# statements run after the COPY, inside the measured time
AFTER: dict[str, list[str]] = {
    "gin_batch": ["SELECT gin_clean_pending_list('ix_task_data_gin')"],
    "gin_end": ["SELECT gin_clean_pending_list('ix_task_data_gin')"],
    "gin_0032": [
        "SET LOCAL maintenance_work_mem = '256MB'",
        "SELECT gin_clean_pending_list('ix_task_data_gin')",
    ],
}

WORDS = ("good", "bad", "fine", "awful", "great", "slow", "fast", "broken", "lovely", "odd")


def task_text(i: int, chars: int = 0) -> str:
    """Row ``i``'s text, made at least ``chars`` long with more words (``--text-chars``)."""
    text = f"item {i}: a {WORDS[i % 10]} product, {WORDS[(i * 7) % 10]} delivery"
    k = i
    while len(text) < chars:
        k = (k * 7 + 3) % 1000
        text += f" {WORDS[k % 10]}"
    return text


def copy_blocks(
    n: int, pid: int, first_id: int, block: int = 5000, chars: int = 0
) -> tuple[list[str], tuple[str, ...]]:
    """COPY text of ``n`` plain task rows (as ``bulk.write`` writes a streamed text import)."""
    ts = "2026-12-04T22:00:00+00:00"
    consts = {
        "project_id": pid,
        "priority": 0.0,
        "requeued": False,
        "target_overlap": 1,
        "n_leases": 0,
        "final_label": "null",
        "final_source": None,
        "import_id": 1,
        "created_at": ts,
        "updated_at": ts,
        "meta": "{}",
        "state": "open",
        "n_annotations": 0,
        "n_skips": 0,
        "file_name": "tasks.jsonl",
        "media_id": None,
        "is_gold": False,
        "gold_answer": "null",
    }
    tail = "".join("\t" + copy_text(v) for v in consts.values()) + "\n"
    out = []
    for start in range(0, n, block):
        lines = []
        for i in range(start, min(n, start + block)):
            data = dumps({"text": task_text(first_id + i, chars)})
            lines.append(f"{first_id + i}\t{copy_text(data)}\t{sha256_text(data)}{tail}")
        out.append("".join(lines))
    return out, ("id", "data", "content_hash", *consts)


def _server_fpi(url: str) -> int:
    """Full-page images the whole server has written to WAL (backends report theirs as they exit)."""
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT wal_fpi FROM pg_stat_wal").fetchone()[0]


_PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def binary_blocks(
    n: int, pid: int, first_id: int, block: int = 5000, chars: int = 0
) -> list[bytes]:
    """The rows of :func:`copy_blocks` in COPY's binary format (header, rows, trailer)."""
    ts = datetime.fromisoformat("2026-12-04T22:00:00+00:00")
    micros = (ts - _PG_EPOCH) // timedelta(microseconds=1)

    def text(v: str) -> bytes:
        b = v.encode()
        return struct.pack(">i", len(b)) + b

    def int4(v: int) -> bytes:
        return struct.pack(">ii", 4, v)

    null, false = struct.pack(">i", -1), struct.pack(">ib", 1, 0)
    stamp = struct.pack(">iq", 8, micros)
    # in copy_blocks' column order after id, data, content_hash
    tail = b"".join(
        [
            int4(pid),
            struct.pack(">id", 8, 0.0),
            false,
            int4(1),
            int4(0),
            text("null"),
            null,
            int4(1),
            stamp,
            stamp,
            text("{}"),
            text("open"),
            int4(0),
            int4(0),
            text("tasks.jsonl"),
            null,
            false,
            text("null"),
        ]
    )
    count = struct.pack(">h", 21)
    out = [b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)]
    for start in range(0, n, block):
        rows = []
        for i in range(start, min(n, start + block)):
            data = dumps({"text": task_text(first_id + i, chars)})
            rows.append(
                b"".join([count, int4(first_id + i), text(data), text(sha256_text(data)), tail])
            )
        out.append(b"".join(rows))
    out.append(struct.pack(">h", -1))
    return out


def run_variant(
    url: str,
    name: str,
    blocks: list[str] | list[bytes],
    columns: tuple[str, ...],
    n: int,
    prefilled: bool = False,
    statement_blocks: int = 0,
    checkpoint: bool = False,
) -> dict:
    if checkpoint:  # every variant starts from a clean buffer pool: its first touch of each page is a full image
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CHECKPOINT")
    fpi0 = _server_fpi(url)
    with psycopg.connect(url) as conn:
        backend = conn.info.backend_pid
        if not prefilled:
            conn.execute("TRUNCATE task CASCADE")
        for sql in VARIANTS[name]:
            conn.execute(sql)
        wal0 = conn.execute("SELECT pg_current_wal_insert_lsn()").fetchone()[0]
        cpu0, t0 = cpu_seconds([backend]), time.perf_counter()
        cols = ", ".join(f'"{c}"' for c in columns)
        binary = " (FORMAT BINARY)" if name == "binary" else ""
        # text rows in COPY statements of ``per`` blocks each (as an import's chunks), or all in one
        per = max(1, statement_blocks) if statement_blocks and not binary else len(blocks)
        for k in range(0, len(blocks), per):
            with conn.cursor() as cur, cur.copy(f"COPY task ({cols}) FROM STDIN{binary}") as copy:
                for b in blocks[k : k + per]:
                    copy.write(b)
        for sql in AFTER.get(name, []):
            conn.execute(sql)
        # the COPY's end waits for the backend: its CPU is all spent by now
        wall, cpu = time.perf_counter() - t0, cpu_seconds([backend]) - cpu0
        wal = conn.execute(
            "SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), %s)", (wal0,)
        ).fetchone()[0]
        conn.rollback()
    if prefilled:
        # the rolled-back rows' heap and index entries go before the next variant
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("VACUUM task")
    time.sleep(0.5)  # the backend's exit reports its WAL figures
    fpi = _server_fpi(url) - fpi0
    return {
        "cpu_us": cpu * 1e6 / n,
        "wall_us": wall * 1e6 / n,
        "wal_bytes": float(wal) / n,
        "busy": cpu / wall,
        "fpi_per_1k": fpi * 1000 / n,
    }


def prefill(url: str, pid: int, n: int, chars: int, block: int = 100_000) -> None:
    """Commit ``n`` rows (ids 1..n) into ``task`` with the base schema, a block at a time, then VACUUM ANALYZE:
    the table the variants' rows go on top of, its indexes grown by inserts as an import grows them."""
    t0 = time.perf_counter()
    with psycopg.connect(url) as conn:
        for start in range(0, n, block):
            part, columns = copy_blocks(min(block, n - start), pid, start + 1, chars=chars)
            cols = ", ".join(f'"{c}"' for c in columns)
            with conn.cursor() as cur, cur.copy(f"COPY task ({cols}) FROM STDIN") as copy:
                for b in part:
                    copy.write(b)
            if (start // block) % 10 == 9:
                conn.commit()
        conn.commit()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE task")
        conn.execute("CHECKPOINT")
    log(f"prefilled {n:,} rows in {time.perf_counter() - t0:.0f} s")


def lookup(url: str, pid: int, n_rows: int, n: int, rounds: int, seed: int = 1) -> dict:
    """An import's dedupe lookup on the table, the two ways alternated over fresh samples of ``n``
    rows' data, half of them present: ``key`` (``ix_task_project_key``, 500 hashes a query, as before
    migration 0031) and ``gin`` (``ix_task_data_gin``, 100 rows a query, ``known_hashes`` now).
    Wall microseconds a row; both must find the same present rows."""
    import random

    rnd = random.Random(seed)
    out: dict[str, list[float]] = {"key": [], "gin": []}

    def sample() -> dict[str, str]:
        ids = rnd.sample(range(1, n_rows + 1), n // 2) + [
            n_rows + 10 + i for i in rnd.sample(range(10**7), n // 2)
        ]
        return {sha256_text(d): d for d in (dumps({"text": task_text(i)}) for i in ids)}

    def key_way(conn, docs: dict[str, str]) -> set[str]:
        found: set[str] = set()
        hs = sorted(docs)
        for k in range(0, len(hs), 500):
            part = hs[k : k + 500]
            marks = ", ".join(["%s"] * len(part))
            keys = ", ".join(["hashtextextended(%s, 0)"] * len(part))
            found.update(
                r[0]
                for r in conn.execute(
                    f"SELECT content_hash FROM task WHERE project_id = %s AND content_hash IN ({marks}) "
                    f"AND hashtextextended(content_hash, 0) IN ({keys})",
                    [pid, *part, *part],
                )
            )
        return found

    def gin_way(conn, docs: dict[str, str]) -> set[str]:
        found: set[str] = set()
        hs = sorted(docs)
        for k in range(0, len(hs), 100):
            part = hs[k : k + 100]
            found.update(
                r[0]
                for r in conn.execute(
                    "SELECT content_hash FROM task WHERE project_id = %s AND CAST(data AS JSONB) @> ANY(%s::jsonb[]) "
                    "AND content_hash = ANY(%s)",
                    [pid, [docs[h] for h in part], part],
                )
            )
        return found

    with psycopg.connect(url, autocommit=True) as conn:
        # as known_hashes sets them for its queries: the GIN's estimate (a hundred rows' data) is
        # far above what it finds, so JIT compiling and parallel workers would cost more than the scan
        conn.execute("SET jit = off")
        conn.execute("SET max_parallel_workers_per_gather = 0")
        check = sample()
        assert key_way(conn, check) == gin_way(conn, check), "the two ways disagree"
        for r in range(rounds):
            for way in ("key", "gin") if r % 2 == 0 else ("gin", "key"):
                docs = sample()
                t0 = time.perf_counter()
                found = (key_way if way == "key" else gin_way)(conn, docs)
                out[way].append((time.perf_counter() - t0) * 1e6 / len(docs))
                log(
                    f"lookup {way}: {out[way][-1]:.1f} us a row, {len(found)} of {len(docs)} found "
                    f"(load {load_average()})"
                )
        part = sorted(check)[:100]
        plan = "\n".join(
            r[0]
            for r in conn.execute(
                "EXPLAIN SELECT content_hash FROM task WHERE project_id = %s AND CAST(data AS JSONB) @> ANY(%s::jsonb[]) "
                "AND content_hash = ANY(%s)",
                [pid, [check[h] for h in part], part],
            )
        )
        log(plan)
    return {w: [round(v, 1) for v in vals] for w, vals in out.items()} | {
        "gin_plan_reads_gin": "ix_task_data_gin" in plan
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pg-url", required=True)
    ap.add_argument("--rows", type=int, default=300_000)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--variants", default="base,text_hash,hash")
    ap.add_argument(
        "--text-chars",
        type=int,
        default=0,
        help="make each task's text at least this long (default: ~40 characters)",
    )
    ap.add_argument(
        "--prefill",
        type=int,
        default=0,
        help="first COPY (and commit) this many rows of the same project with the base schema; each "
        "variant then COPYs --rows more on top and rolls back (VACUUM after each)",
    )
    ap.add_argument(
        "--statement-rows",
        type=int,
        default=0,
        help="COPY the text rows in statements of this many rows (a multiple of 5,000; an import's "
        "chunk is 50,000) instead of one",
    )
    ap.add_argument(
        "--checkpoint",
        action="store_true",
        help="CHECKPOINT before each variant (outside the measured time; superuser), so that the "
        "server's checkpoints fall at the same points of every variant's COPY",
    )
    ap.add_argument(
        "--reuse",
        action="store_true",
        help="measure on the table an earlier --prefill run left (nothing dropped or prefilled)",
    )
    ap.add_argument(
        "--lookup",
        type=int,
        default=0,
        help="with --reuse: time an import's dedupe lookup of this many rows (old index vs GIN)",
    )
    args = ap.parse_args()
    names = args.variants.split(",")
    unknown = set(names) - set(VARIANTS)
    if unknown:
        raise SystemExit(f"unknown variants: {sorted(unknown)}")
    url = args.pg_url
    if args.reuse:  # the table an earlier run's --prefill left
        with psycopg.connect(url) as conn:
            pid = conn.execute("SELECT id FROM project WHERE title = 'copy'").fetchone()[0]
            args.prefill = conn.execute("SELECT max(id) FROM task").fetchone()[0]
    else:
        tmp = Path(tempfile.mkdtemp(prefix="labelfab-task-copy-"))
        env = bench_env(tmp / "data", args.pg_url)
        reset_schema(env)
        init_with_lead(env)
        (tmp / "config.xml").write_text(CONFIG)
        pid = int(
            labelfab(
                env,
                "project",
                "create",
                "--title",
                "copy",
                "--config",
                str(tmp / "config.xml"),
                "--as",
                LEAD_EMAIL,
            )
            .strip()
            .splitlines()[-1]
        )
        if args.prefill:
            prefill(url, pid, args.prefill, args.text_chars)
    first = args.prefill + 1
    if args.lookup:
        print(
            json.dumps(
                {"bench": "task_copy", "lookup": args.lookup, "table_rows": args.prefill}
                | lookup(url, pid, args.prefill, args.lookup, args.rounds)
            )
        )
        return
    blocks, columns = copy_blocks(args.rows, pid, first, chars=args.text_chars)
    binary = (
        binary_blocks(args.rows, pid, first, chars=args.text_chars) if "binary" in names else []
    )
    runs: dict[str, list[dict]] = {n: [] for n in names}
    loads = []
    for r in range(args.rounds):
        for name in names if r % 2 == 0 else reversed(names):
            load = load_average()
            fig = run_variant(
                url,
                name,
                binary if name == "binary" else blocks,
                columns,
                args.rows,
                prefilled=bool(args.prefill),
                statement_blocks=args.statement_rows // 5000,
                checkpoint=args.checkpoint,
            )
            fig["load"] = load
            loads.append(load)
            runs[name].append(fig)
            log(
                f"{name:12s} cpu {fig['cpu_us']:5.2f} us/row, wall {fig['wall_us']:5.2f} us/row, "
                f"WAL {fig['wal_bytes']:5.0f} B/row, FPI {fig['fpi_per_1k']:5.1f}/1k rows, busy {fig['busy']:.0%} (load {load})"
            )
    out = {
        "bench": "task_copy",
        "rows": args.rows,
        "statement_rows": args.statement_rows,
        "checkpoint": args.checkpoint,
        "prefill": args.prefill,
        "rounds": args.rounds,
        "text_chars": args.text_chars,
        "load_min": min(loads),
        "load_max": max(loads),
    }
    for name, figs in runs.items():
        out[name] = {
            k: round(min(f[k] for f in figs), 2)
            for k in ("cpu_us", "wall_us", "wal_bytes", "fpi_per_1k")
        }
        out[name]["cpu_us_all"] = [round(f["cpu_us"], 2) for f in figs]
    print(json.dumps(out))


if __name__ == "__main__":
    main()
