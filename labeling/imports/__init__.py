"""Imports (ARCHITECTURE.md, "labeling/ — the domain"): tasks, labels, predictions and images into a project.

- :mod:`~labeling.imports.formats`: what one file holds (JSON, JSON Lines, CSV, TSV, TXT, an
  image) as raw task rows, with errors by row and field;
- :mod:`~labeling.imports.sources`: uploads, paths on disk, zip archives, folders (ImageFolder
  labels) and the staged uploads of background imports;
- :mod:`~labeling.imports.stream`: JSON Lines and Parquet files of any size, read a chunk at
  a time and written a chunk at a time into the import's one transaction;
- :mod:`~labeling.imports.rows`: every row checked against the project's label config;
- :mod:`~labeling.imports.bulk`: images stored by content, then every row written in one
  transaction with bulk inserts;
- :mod:`~labeling.imports.service`: the import operation (:func:`import_data`) and the
  ``import`` job's handler;
- :mod:`~labeling.imports.batches`: an import as seen afterwards (its batch, job and tasks) and a
  project's latest imports.

What the pages, the REST API and the CLI use is importable from the package itself.
"""

from labeling.imports.batches import get_import, import_task_ids, import_view, list_imports
from labeling.imports.formats import (
    ImportFile,
    ImportFormatError,
    format_error,
    import_error_summary,
    parse_body,
)
from labeling.imports.rows import ATTRIBUTED, parse_user_map
from labeling.imports.service import ImportResult, import_data, import_items
from labeling.imports.sources import received_files

__all__ = [
    "ATTRIBUTED",
    "ImportFile",
    "ImportFormatError",
    "ImportResult",
    "format_error",
    "get_import",
    "import_data",
    "import_error_summary",
    "import_items",
    "import_task_ids",
    "import_view",
    "list_imports",
    "parse_body",
    "parse_user_map",
    "received_files",
]
