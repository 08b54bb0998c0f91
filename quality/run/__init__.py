"""A QC run, laid out as cleanlab lays out its own code (ARCHITECTURE.md, quality/).

:mod:`~quality.run.skeleton` (start_qc, run_qc) runs load -> inputs -> score -> store for every
task type: :mod:`~quality.run.load` reads the labels and the inputs of pred_probs,
:mod:`~quality.run.probs` picks the pred_probs, one module per task type scores
(:mod:`~quality.run.classification`, :mod:`~quality.run.multilabel`, :mod:`~quality.run.ner`,
:mod:`~quality.run.detection`, chosen in ``skeleton.SCORERS``) with the shared
:mod:`~quality.run.outliers` and :mod:`~quality.run.feedback`, and :mod:`~quality.run.store`
writes the results. Their shared shapes are in :mod:`~quality.run.common`.
"""
