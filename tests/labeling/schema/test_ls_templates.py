"""Label Studio 1.23.2's own templates (vendored in ``ls_templates/``): the ones labelfab
supports are accepted unchanged, with their example task; the others are refused with a reason.
``bench/ls_templates.py`` measures the same against Label Studio itself, with the export."""

from __future__ import annotations

from pathlib import Path

import pytest
from label_studio_sdk.label_interface import LabelInterface

from labeling.schema import parse_label_config, validate_task_data

HERE = Path(__file__).parents[3] / "labeling" / "schema" / "ls_templates"  # shipped with labelfab
TEMPLATES = {p.stem: p.read_text(encoding="utf-8") for p in sorted(HERE.glob("*.xml"))}

ACCEPTED = [
    "community-contributions__breast-cancer-mammogram-classification",
    "community-contributions__ocr-invoices-pre-ner-bio-format",
    "community-contributions__ner-tagging-invoices-bio-format",
    "community-contributions__two-level-sentiment-analysis-of-x-twitter-posts",
    "computer-vision__image-captioning",
    "computer-vision__image-classification",
    "computer-vision__inventory-tracking",
    "computer-vision__keypoints",
    "computer-vision__medical-image-classification-with-bboxes",
    "computer-vision__multipage-documents",
    "computer-vision__object-detection-with-bounding-boxes",
    "computer-vision__semantic-segmentation-with-masks",
    "computer-vision__semantic-segmentation-with-polygons",
    "computer-vision__visual-genome",
    "computer-vision__visual-question-answering",
    "conversational-ai__coreference-resolution-and-entity-linking",
    "generative-ai__response-grading",
    "generative-ai__supervised-llm",
    "natural-language-processing__content-moderation",
    "natural-language-processing__machine-translation",
    "natural-language-processing__named-entity-recognition",
    "natural-language-processing__question-answering",
    "natural-language-processing__relation-extraction",
    "natural-language-processing__text-classification",
    "natural-language-processing__text-summarization",
    "ranking-and-scoring__content-based-image-search",
    "ranking-and-scoring__document-retrieval",
    "ranking-and-scoring__pairwise-regression",
    "ranking-and-scoring__serp-ranking",
    "ranking-and-scoring__text-to-image",
    "structured-data-parsing__freeform-metadata",
    # dialogues, tables, taxonomy
    "conversational-ai__intent-classification-and-slot-filling",
    "conversational-ai__response-generation",
    "conversational-ai__response-selection",
    "generative-ai__chatbot-assessment",
    "natural-language-processing__taxonomy",
    "structured-data-parsing__tabular-data",
    # Polygon with Labels and per-region TextArea: accepted and stored; the page draws its boxes
    "computer-vision__optical-character-recognition",
]
ACCEPTED += [  # rankings, pairwise and HTML
    "community-contributions__html-ner-tagging-person-and-organization",
    "generative-ai__human-feedback-collection",
    "generative-ai__llm-ranker",
    "generative-ai__visual-ranker",
    "ranking-and-scoring__pairwise-classification",
    "structured-data-parsing__html-entity-recognition",
]
ACCEPTED += [  # audio (labeling/schema/audio.py; tests/labeling/test_audio_templates.py)
    "audio-speech-processing__automatic-speech-recognition",
    "audio-speech-processing__automatic-speech-recognition-using-segments",
    "audio-speech-processing__conversational-analysis",
    "audio-speech-processing__intent-classification",
    "audio-speech-processing__signal-quality-detection",
    "audio-speech-processing__sound-event-detection",
    "audio-speech-processing__speaker-segmentation",
    "audio-speech-processing__speech-transcription",
    "ranking-and-scoring__asr-hypotheses",
]
ACCEPTED += [  # LLM conversations: <Chat> (Enterprise-only in Label Studio)
    "chat__chat_eval",
    "chat__chat_llm_eval",
    "chat__chat_red_team",
    "chat__chat_rlhf",
    "chat__chatbot",
]
ACCEPTED += [  # time series: ranges and instant events, Choices and Rating on the series
    "time-series-analysis__activity-recognition",
    "time-series-analysis__change-point-detection",
    "time-series-analysis__outliers-anomaly-detection",
    "time-series-analysis__signal-quality",
    "time-series-analysis__time-series-forecasting",
]
ACCEPTED += [  # documents (PDF)
    "computer-vision__pdf_ocr",
    "structured-data-parsing__pdf-classification",
]
ACCEPTED += [  # video: Choices, TimelineLabels, VideoRectangle tracks with Labels; a video with an audio track
    "videos__video-classification",
    "videos__video-frame-classification",
    "videos__video-object-tracking",
    "videos__video-timeline-segmentation",
]
NOT_YET = sorted(set(TEMPLATES) - set(ACCEPTED))


def test_the_fixtures_are_the_templates_in_scope():
    assert len(TEMPLATES) == 44 + 9 + 5 + 2 + 5 + 4  # + audio, chat, PDF, time series, video
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


def test_every_template_in_scope_is_accepted():
    # a template refused again is named here (the accepted test above shows its LabelConfigError)
    assert NOT_YET == []
