"""The kinds of QC findings a run stores, a module of constants that imports nothing, so that the
command line can name them without loading the job system (and the settings it reads)."""

from __future__ import annotations

__all__ = ["AGREEMENT", "ISSUE_KINDS"]

ISSUE_KINDS = ("label", "outlier", "near_duplicate", "multilabel", "ner", "detection",
               # image quality (cleanvision, quality/image_quality.py)
               "blurry", "dark", "light", "odd_size", "odd_aspect_ratio", "low_information", "image_duplicate",
               # annotators' agreement on rankings, picks, paths, spans, relations (quality.task_agreement)
               "agreement")
#: The issue kind of a run's agreement findings: flagged ones go to review whatever ``kinds`` says.
AGREEMENT = "agreement"
