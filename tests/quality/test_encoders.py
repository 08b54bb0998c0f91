"""Bring-your-own ONNX encoders (quality/encoders.py): embeddings of images and texts from a
model file on disk, one more feature set of the QC model zoo when the settings name it."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper
from PIL import Image

from labeling.settings import SettingsError, get_settings, load_settings
from quality import QCInputError
from quality.encoders import onnx_image_embeddings, onnx_text_embeddings
from quality.run.skeleton import run_qc
from tests.quality.test_qc import LABELS, choice, flip, get_run, import_rows, issues, make_project

TOPICS = {t: [f"{t}{i}" for i in range(40)] for t in LABELS}


def image_encoder(path) -> None:
    """A convolution (mean colour per channel and its contrast) and global average pooling:
    [N, 3, 16, 16] -> [N, 4, 1, 1]."""
    w = np.zeros((4, 3, 1, 1), dtype=np.float32)
    w[0, 0], w[1, 1], w[2, 2], w[3, :] = 1, 1, 1, -1 / 3
    graph = helper.make_graph(
        [helper.make_node("Conv", ["image", "w"], ["conv"]),
         helper.make_node("GlobalAveragePool", ["conv"], ["embedding"])],
        "colours",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 3, 16, 16])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["N", 4, 1, 1])],
        [helper.make_tensor("w", TensorProto.FLOAT, w.shape, w.ravel())],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)


def text_encoder(path) -> None:
    """A "pretrained" encoder that knows which topic each of 120 words belongs to (a word count
    and a linear map, exported by skl2onnx): what a project's own TF-IDF, seeing each word a
    couple of times, cannot learn."""
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import StringTensorType
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LinearRegression
    from sklearn.pipeline import make_pipeline

    words = [w for ws in TOPICS.values() for w in ws]
    Y = np.array([[float(w in TOPICS[t]) for t in LABELS] for w in words])
    pipe = make_pipeline(CountVectorizer(vocabulary=words, lowercase=False, token_pattern=r"\b\w+\b"),
                         LinearRegression()).fit(words, Y)
    model = to_onnx(pipe, initial_types=[("text", StringTensorType([None, 1]))], target_opset=17)
    path.write_bytes(model.SerializeToString())


def test_image_embeddings_pool_the_models_output(tmp_path):
    image_encoder(tmp_path / "img.onnx")
    red, blue = Image.new("RGB", (30, 20), (255, 0, 0)), Image.new("RGB", (50, 50), (0, 0, 255))
    red.save(tmp_path / "red.png")
    E = onnx_image_embeddings([tmp_path / "red.png", blue, red], tmp_path / "img.onnx", batch_size=2)
    assert E.shape == (3, 4) and E.dtype == np.float32
    assert np.allclose(np.linalg.norm(E, axis=1), 1)
    assert np.allclose(E[0], E[2]) and E[0] @ E[1] < 0.5
    assert E[0].argmax() == 0 and E[1].argmax() == 2


def test_text_embeddings_from_a_string_input_model(tmp_path):
    text_encoder(tmp_path / "txt.onnx")
    E = onnx_text_embeddings(["the ant3 digs", "bee7 and bee9", "ant1"], tmp_path / "txt.onnx")
    assert E.shape == (3, 3)
    assert list(E.argmax(axis=1)) == [0, 1, 0]


def test_a_model_of_the_wrong_kind_or_file_is_a_clear_error(tmp_path):
    image_encoder(tmp_path / "img.onnx")
    with pytest.raises(QCInputError, match="not strings"):
        onnx_text_embeddings(["a"], tmp_path / "img.onnx")
    (tmp_path / "bad.onnx").write_bytes(b"not a model")
    with pytest.raises(QCInputError, match="cannot be loaded"):
        onnx_image_embeddings([Image.new("RGB", (4, 4))], tmp_path / "bad.onnx")
    with pytest.raises(QCInputError, match="cannot be read"):
        onnx_image_embeddings([Image.new("RGB", (4, 4))], tmp_path / "missing.onnx")


def test_settings_refuse_a_missing_model_file(tmp_path):
    with pytest.raises(SettingsError, match="LABELFAB_QC_ONNX_TEXT_MODEL: .*no ONNX model file"):
        load_settings(qc_onnx_text_model=str(tmp_path / "nope.onnx"))
    assert load_settings(qc_onnx_text_model="").qc_onnx_text_model is None


def test_qc_chooses_the_teams_encoder_when_it_knows_more(lead, tmp_path, monkeypatch):
    text_encoder(tmp_path / "txt.onnx")
    rng = np.random.default_rng(5)
    y = np.repeat(np.arange(3), 30)
    texts = [" ".join(rng.choice(TOPICS[LABELS[c]], size=2)) for c in y]  # words rarely repeat
    given, flipped = flip(y, 6, 3)
    pid = make_project(lead)
    ids = import_rows(lead, pid, [{"data": {"text": t}, "annotations": [{"result": choice(LABELS[g])}]}
                                  for t, g in zip(texts, given, strict=True)])
    monkeypatch.setenv("LABELFAB_QC_ONNX_TEXT_MODEL", str(tmp_path / "txt.onnx"))
    get_settings.cache_clear()
    try:
        run = get_run(run_qc(pid, options={})["run"])
    finally:
        monkeypatch.delenv("LABELFAB_QC_ONNX_TEXT_MODEL")
        get_settings.cache_clear()
    selection = run.summary["selection"]
    assert "onnx + logreg(C=10)" in selection["log_loss_by_candidate"]
    assert any(c.startswith("onnx + ") for c in selection["chosen"]), selection
    assert any("ONNX text encoder txt.onnx" in note for note in run.summary.get("notes", [])), run.summary
    worst = sorted(issues(run.id), key=lambda li: li.score)[:6]
    assert {ids.index(li.task_id) for li in worst} == flipped
