"""Every job handler, in one module: what ``dramatiq quality.worker`` (``labelfab worker``)
and the in-process worker of ``labelfab serve`` load."""

import labeling.broker  # noqa: F401  (sets the broker before any actor is declared)
import labeling.jobs  # noqa: F401  (declares the actors)
import labeling.thumbnails  # noqa: F401
import quality.jobs  # noqa: F401  (the "qc" job: QC runs on the quality queue)
