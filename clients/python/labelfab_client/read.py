"""Read a pulled file: rows as dicts (JSON Lines and Parquet give the same rows), or a pandas DataFrame."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from labelfab_client.errors import ClientError

if TYPE_CHECKING:
    import pandas as pd


def records(path: str | Path) -> Iterator[dict[str, Any]]:
    """The rows of a pulled file (JSON Lines, Parquet, CSV or Label Studio JSON) as dicts.

    JSON Lines and Parquet give the same rows (``id``, ``data``, ``label``, ``label_source``,
    ``split``): in Parquet ``data`` is JSON text, decoded here, as is a JSON ``label`` of spans
    or boxes. Parquet needs ``pyarrow`` (``pip install 'labelfab-client[parquet]'``). The other
    files give their rows as they are: a CSV row is strings (``id``, the label config's data
    fields, one column per control, ``label_source``, ``split``; text a spreadsheet would run as
    a formula starts with ``'``), a Label Studio JSON row a task with the final label as its one
    annotation. For training, pull ``jsonl`` or ``parquet``.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    yield json.loads(line)
    elif suffix == ".parquet":
        try:
            import pyarrow.parquet as pq
        except ImportError as exc:
            raise ClientError("records() of a Parquet file needs pyarrow: "
                              "pip install 'labelfab-client[parquet]'") from exc

        parquet = pq.ParquetFile(path)
        meta = parquet.schema_arrow.metadata or {}
        structured = meta.get(b"labelfab.kind", b"").decode() not in ("classification", "multilabel")
        for batch in parquet.iter_batches():
            for row in batch.to_pylist():
                yield _decoded(row, structured)
    elif suffix == ".csv":
        with open(path, encoding="utf-8", newline="") as fh:
            yield from csv.DictReader(fh)
    elif suffix == ".json":
        with open(path, encoding="utf-8") as fh:
            yield from json.load(fh)
    else:
        raise ClientError(f"records() reads .jsonl, .parquet, .csv and .json files, not {path.name}")


def _decoded(row: dict[str, Any], structured: bool) -> dict[str, Any]:
    """Decode the JSON text columns of a Parquet row (``label`` too for spans and boxes)."""
    if isinstance(row.get("data"), str):
        row["data"] = json.loads(row["data"])
    if structured and isinstance(row.get("label"), str):
        row["label"] = json.loads(row["label"])
    return row


def dataframe(path: str | Path) -> pd.DataFrame:
    """A pandas DataFrame of a pulled file; ``data`` holds dicts.

    Needs pandas (and pyarrow for Parquet): ``pip install 'labelfab-client[pandas]'``.
    """
    try:
        import pandas as pd
    except ImportError as exc:
        raise ClientError("dataframe() needs pandas: pip install 'labelfab-client[pandas]'") from exc
    path = Path(path)
    if path.suffix.lower() == ".parquet":
        df = pd.read_parquet(path)
        df["data"] = df["data"].map(json.loads)
        return df
    return pd.DataFrame.from_records(list(records(path)))
