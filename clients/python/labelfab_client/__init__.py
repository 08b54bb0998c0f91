"""labelfab-client: pull published labelfab datasets into a training pipeline.

It needs only ``requests`` (``pandas`` and ``pyarrow`` are used when they are installed, by
:func:`dataframe` and for Parquet files: ``pip install 'labelfab-client[pandas]'``) and nothing of
the labelfab server::

    import labelfab_client as lf

    path = lf.pull("https://labelfab.example.com", 3, token=TOKEN, format="parquet", out_dir="data")
    df = lf.dataframe(path)            # id, data, label, label_source, split
    train = df[df.split == "train"]

:func:`pull` downloads one file of a version (the latest by default) into
``out_dir/project-P/vN/``, next to the version's ``manifest.json``, and checks its sha256
against the manifest. An interrupted download is resumed (an HTTP ``Range`` request, guarded by
``If-Range`` with the file's ETag) the next time; a file whose hash does not match is deleted
and :class:`HashMismatch` raised. A file already there with the right hash is not downloaded
again. The same from a shell: ``labelfab pull URL PROJECT[@VERSION] --token T``.
"""

from labelfab_client.download import manifest, pull, verify
from labelfab_client.errors import ClientError, HashMismatch
from labelfab_client.read import dataframe, records

__all__ = ["ClientError", "HashMismatch", "dataframe", "manifest", "pull", "records", "verify"]
