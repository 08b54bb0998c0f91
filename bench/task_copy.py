"""What a task row costs PostgreSQL's backend when an import COPYs it, schema variant by variant.

The rows are those of a streamed import of text tasks (``bulk.write``'s plain rows: id, data,
content hash and the constant columns, in COPY text built as ``labeling.bulkwrite`` builds it),
made once in memory. Each variant runs in one transaction that empties ``task`` (TRUNCATE: fresh
files), changes the schema (drops or adds an index, sets a storage parameter), COPYs every row
and rolls back; variants are alternated over ``--rounds``. Per row: the backend's CPU
microseconds (``/proc`` of its pid), wall microseconds, WAL bytes; the backend's busy share is
CPU over wall.

Variants (``--variants``, comma-separated; ``base`` is the schema the migrations make, with
``ix_task_project_key`` on ``(project_id, hashtextextended(content_hash, 0))``):

``base``; ``no_key`` (without it); in its place ``text_hash`` (the B-tree on
``(project_id, content_hash)`` before migration 0023), ``text_hash_c`` (the same in the "C"
collation), ``hash`` (``USING hash (content_hash)``), ``key_bits`` (the hash's first 16 hex
digits as a bigint), ``key_alone`` (the 64-bit key without ``project_id``); ``no_route``,
``no_fk`` (without the router's index, the project's foreign key), ``no_gin`` (without
``ix_task_data_gin``), ``gin_nofast`` (``fastupdate = off`` on it), ``gin_64mb``
(``gin_pending_list_limit`` 64 MB for the transaction), ``bare`` (no index but the primary key,
no foreign key, no trigger: the heap and COPY's parsing).

Usage::

    python bench/task_copy.py --pg-url postgresql://postgres@127.0.0.1:5432/scratch
        [--rows 300000] [--rounds 2] [--variants base,hash]

The database is a scratch one: its tables are DROPPED. The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
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

_NO_KEY = "DROP INDEX ix_task_project_key"
VARIANTS: dict[str, list[str]] = {
    "base": [],
    "no_key": [_NO_KEY],
    "text_hash": [_NO_KEY, "CREATE INDEX ix_task_project_hash ON task (project_id, content_hash)"],
    "text_hash_c": [_NO_KEY, 'CREATE INDEX ix_task_project_hash ON task (project_id, content_hash COLLATE "C")'],
    "hash": [_NO_KEY, "CREATE INDEX ix_task_content_hash ON task USING hash (content_hash)"],
    "key_bits": [_NO_KEY, "CREATE INDEX ix_task_project_bits ON task (project_id, "
                 "(('x' || left(content_hash, 16))::bit(64)::bigint))"],
    "key_alone": [_NO_KEY, "CREATE INDEX ix_task_content_key ON task (hashtextextended(content_hash, 0))"],
    "no_route": ["DROP INDEX ix_task_route"],
    "no_fk": ["ALTER TABLE task DROP CONSTRAINT fk_task_project_id_project"],
    "no_gin": ["DROP INDEX ix_task_data_gin"],
    "gin_nofast": ["ALTER INDEX ix_task_data_gin SET (fastupdate = off)"],
    "gin_64mb": ["SET LOCAL gin_pending_list_limit = '64MB'"],
    "bare": [_TASK_DROP_ALL],
}

WORDS = ("good", "bad", "fine", "awful", "great", "slow", "fast", "broken", "lovely", "odd")


def copy_blocks(n: int, pid: int, first_id: int, block: int = 5000) -> tuple[list[str], tuple[str, ...]]:
    """COPY text of ``n`` plain task rows (as ``bulk.write`` writes a streamed text import)."""
    ts = "2026-12-04T22:00:00+00:00"
    consts = {"project_id": pid, "priority": 0.0, "requeued": False, "target_overlap": 1, "n_leases": 0,
              "final_label": "null", "final_source": None, "import_id": 1, "created_at": ts, "updated_at": ts,
              "meta": "{}", "state": "open", "n_annotations": 0, "n_skips": 0, "file_name": "tasks.jsonl",
              "media_id": None, "is_gold": False, "gold_answer": "null"}
    tail = "".join("\t" + copy_text(v) for v in consts.values()) + "\n"
    out = []
    for start in range(0, n, block):
        lines = []
        for i in range(start, min(n, start + block)):
            data = dumps({"text": f"item {i}: a {WORDS[i % 10]} product, {WORDS[(i * 7) % 10]} delivery"})
            lines.append(f"{first_id + i}\t{copy_text(data)}\t{sha256_text(data)}{tail}")
        out.append("".join(lines))
    return out, ("id", "data", "content_hash", *consts)


def run_variant(url: str, name: str, blocks: list[str], columns: tuple[str, ...], n: int) -> dict:
    with psycopg.connect(url) as conn:
        backend = conn.info.backend_pid
        conn.execute("TRUNCATE task CASCADE")
        for sql in VARIANTS[name]:
            conn.execute(sql)
        wal0 = conn.execute("SELECT pg_current_wal_insert_lsn()").fetchone()[0]
        cpu0, t0 = cpu_seconds([backend]), time.perf_counter()
        cols = ", ".join(f'"{c}"' for c in columns)
        with conn.cursor() as cur, cur.copy(f"COPY task ({cols}) FROM STDIN") as copy:
            for b in blocks:
                copy.write(b)
        # the COPY's end waits for the backend: its CPU is all spent by now
        wall, cpu = time.perf_counter() - t0, cpu_seconds([backend]) - cpu0
        wal = conn.execute("SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), %s)", (wal0,)).fetchone()[0]
        conn.rollback()
    return {"cpu_us": cpu * 1e6 / n, "wall_us": wall * 1e6 / n, "wal_bytes": float(wal) / n, "busy": cpu / wall}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pg-url", required=True)
    ap.add_argument("--rows", type=int, default=300_000)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--variants", default="base,text_hash,hash")
    args = ap.parse_args()
    names = args.variants.split(",")
    unknown = set(names) - set(VARIANTS)
    if unknown:
        raise SystemExit(f"unknown variants: {sorted(unknown)}")
    tmp = Path(tempfile.mkdtemp(prefix="labelfab-task-copy-"))
    env = bench_env(tmp / "data", args.pg_url)
    reset_schema(env)
    init_with_lead(env)
    (tmp / "config.xml").write_text(CONFIG)
    pid = int(labelfab(env, "project", "create", "--title", "copy", "--config", str(tmp / "config.xml"),
                       "--as", LEAD_EMAIL).strip().splitlines()[-1])
    url = args.pg_url
    blocks, columns = copy_blocks(args.rows, pid, 1)
    runs: dict[str, list[dict]] = {n: [] for n in names}
    loads = []
    for r in range(args.rounds):
        for name in names if r % 2 == 0 else reversed(names):
            load = load_average()
            fig = run_variant(url, name, blocks, columns, args.rows)
            fig["load"] = load
            loads.append(load)
            runs[name].append(fig)
            log(f"{name:12s} cpu {fig['cpu_us']:5.2f} us/row, wall {fig['wall_us']:5.2f} us/row, "
                f"WAL {fig['wal_bytes']:5.0f} B/row, busy {fig['busy']:.0%} (load {load})")
    out = {"bench": "task_copy", "rows": args.rows, "rounds": args.rounds, "load_min": min(loads), "load_max": max(loads)}
    for name, figs in runs.items():
        out[name] = {k: round(min(f[k] for f in figs), 2) for k in ("cpu_us", "wall_us", "wal_bytes")}
        out[name]["cpu_us_all"] = [round(f["cpu_us"], 2) for f in figs]
    print(json.dumps(out))


if __name__ == "__main__":
    main()
