"""Cloud storages, as Label Studio has them (ARCHITECTURE.md, labeling/storages): import and
export storages on S3-compatible services and local-files storages, their sync, and the
objects tasks point at, served through Label Studio's resolve proxy.

- :mod:`~labeling.storages.common`: the rows, Label Studio's fields checked, sealed credentials,
  the JSON answered (credentials never in it), list, get, delete;
- :mod:`~labeling.storages.s3`, :mod:`~labeling.storages.localfiles`: one module per type;
- :mod:`~labeling.storages.sync`: save, validate, sync (import through ``labeling.imports``,
  export of annotations and dataset versions);
- :mod:`~labeling.storages.resolve`: ``s3://`` URIs in task data sent as proxy URLs, and the
  proxy itself, a redirect to a pre-signed URL or the bytes relayed (imported by the modules
  that serve tasks, so this package imports nothing here).
"""
