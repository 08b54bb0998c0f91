"""Label Studio 1.23.2's own templates (vendored in ``ls_templates/``): the ones labelfab
supports are accepted unchanged, with their example task; the others are refused with a reason.
``bench/ls_templates.py`` measures the same against Label Studio itself, with the export."""

from __future__ import annotations

from pathlib import Path

import pytest
from label_studio_sdk.label_interface import LabelInterface

from labeling.schema import LabelConfigError, parse_label_config, validate_task_data

HERE = Path(__file__).parent / "ls_templates"
TEMPLATES = {p.stem: p.read_text(encoding="utf-8") for p in sorted(HERE.glob("*.xml"))}

ACCEPTED = [
    "community-contributions__breast-cancer-mammogram-classification",
    "community-contributions__ner-tagging-invoices-bio-format",
    "community-contributions__two-level-sentiment-analysis-of-x-twitter-posts",
    "computer-vision__image-captioning",
    "computer-vision__image-classification",
    "computer-vision__medical-image-classification-with-bboxes",
    "computer-vision__object-detection-with-bounding-boxes",
    "computer-vision__visual-genome",
    "computer-vision__visual-question-answering",
    "conversational-ai__coreference-resolution-and-entity-linking",
    "generative-ai__response-grading",
    "generative-ai__supervised-llm",
    "natural-language-processing__content-moderation",
    "natural-language-processing__machine-translation",
    "natural-language-processing__named-entity-recognition",
    "natural-language-processing__question-answering",
    "natural-language-processing__text-classification",
    "natural-language-processing__text-summarization",
    "ranking-and-scoring__content-based-image-search",
    "ranking-and-scoring__document-retrieval",
    "ranking-and-scoring__pairwise-regression",
    "ranking-and-scoring__serp-ranking",
    "ranking-and-scoring__text-to-image",
    "structured-data-parsing__freeform-metadata",
]
NOT_YET = sorted(set(TEMPLATES) - set(ACCEPTED))


def test_the_fixtures_are_the_44_templates_in_scope():
    assert len(TEMPLATES) == 44
    assert set(ACCEPTED) <= set(TEMPLATES)


@pytest.mark.parametrize("name", ACCEPTED)
def test_template_is_accepted_with_its_example_task(name):
    xml = TEMPLATES[name]
    schema = parse_label_config(xml)
    assert schema.controls
    data, _, _ = LabelInterface.get_task_from_labeling_config(xml)
    if data:  # the example a template carries fits the schema labelfab made of it
        missing = schema.data_keys - set(data)
        assert validate_task_data(schema, {**{k: "x" for k in missing}, **data}) == []


@pytest.mark.parametrize("name", NOT_YET)
def test_template_not_yet_supported_is_refused_with_a_reason(name):
    with pytest.raises(LabelConfigError) as err:
        parse_label_config(TEMPLATES[name])
    assert all(e["line"] and e["tag"] for e in err.value.errors)
