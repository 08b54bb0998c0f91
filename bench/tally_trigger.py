"""What a tally trigger costs a task write, in the database alone: migration 0028's against 0027's.

A scratch PostgreSQL database gets ``--tasks`` open tasks; then, alternately with the tally
triggers of ``0027_user_custom_hotkeys`` (A) and of ``head`` (B, the ``annotated`` column), one
PL/pgSQL block runs ``--updates`` single-row UPDATE statements of a task's ``n_annotations`` (each
fires the statement-level trigger once, as a submit's counter update does) and reports its time
per statement from ``clock_timestamp()``. A and B alternate for ``--rounds`` rounds, in the order
A B, B A, A B, ... (the migration down or up between them), each from an empty ``task_tally``,
so both see the same load; the medians are compared.

Usage::

    python bench/tally_trigger.py --pg-url postgresql://postgres@127.0.0.1:5432/SCRATCH
        [--tasks 20000] [--updates 5000] [--rounds 6]

The database is a scratch one: its tables are DROPPED. The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
from pathlib import Path

from common import load_average, log

A, B = "0027_user_custom_hotkeys", "0028_tally_annotated"

_RUN = """
DO $$
DECLARE t0 timestamptz; ids int[]; i int;
BEGIN
  SELECT array_agg(id ORDER BY id) INTO ids FROM task;
  t0 := clock_timestamp();
  FOR i IN 1..{updates} LOOP
    UPDATE task SET n_annotations = n_annotations + 1 WHERE id = ids[1 + (i % array_length(ids, 1))];
  END LOOP;
  RAISE NOTICE 'us_per_update=%', extract(epoch FROM clock_timestamp() - t0) * 1e6 / {updates};
END $$
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pg-url", required=True)
    ap.add_argument("--tasks", type=int, default=20_000)
    ap.add_argument("--updates", type=int, default=5_000)
    ap.add_argument("--rounds", type=int, default=6)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="labelfab-tally-trigger-"))
    os.environ.update({"LABELFAB_DATA_DIR": str(tmp / "data"), "LABELFAB_DATABASE_URL": args.pg_url,
                       "LABELFAB_BROKER_URL": "stub://"})
    from router_cpu import setup

    from labeling import migrate
    from labeling.db import get_engine

    setup(args.tasks, 1, A)  # the project, its open tasks, VACUUM ANALYZE
    engine = get_engine()
    notices: list[str] = []

    def run() -> float:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            raw = conn.connection.driver_connection
            raw.add_notice_handler(lambda d: notices.append(d.message_primary))
            raw.execute(_RUN.format(updates=args.updates))  # no parameters: its % signs are SQL's
        return float(notices.pop().split("=")[1])

    times: dict[str, list[float]] = {A: [], B: []}
    loads = []
    current = A
    for r in range(args.rounds):
        for rev in ((A, B) if r % 2 == 0 else (B, A)):  # A B B A A B ...: neither always goes first
            if rev != current:
                (migrate.upgrade if rev == B else migrate.downgrade)(rev)
                current = rev
            with engine.begin() as conn:  # both start from an empty tally (its rows only grow)
                conn.exec_driver_sql("TRUNCATE task_tally")
            loads.append(load_average())
            times[rev].append(run())
            log(f"round {r + 1} {rev}: {times[rev][-1]:.1f} us per update (load {loads[-1]})")
    a, b = statistics.median(times[A]), statistics.median(times[B])
    print(json.dumps({"bench": "tally_trigger", "tasks": args.tasks, "updates": args.updates, "rounds": args.rounds,
                      "us_per_update": {A: [round(t, 2) for t in times[A]], B: [round(t, 2) for t in times[B]]},
                      "median_a": round(a, 2), "median_b": round(b, 2), "b_over_a": round(b / a, 4),
                      "load_averages": loads}))

if __name__ == "__main__":
    main()
