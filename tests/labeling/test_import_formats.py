"""labeling.imports.formats and .sources: uploads and folders to raw task rows, with row-level errors."""

from __future__ import annotations

import gc
import io
import json
import zipfile
from pathlib import Path

import pytest
from PIL import Image

from labeling.imports.formats import (
    MAX_ERRORS,
    ImportFile,
    ImportFormatError,
    RawItem,
    TooLargeError,
    format_error,
    parse_json_tasks,
)
from labeling.imports.sources import parse_import_file, parse_path, parse_upload

MB = 1 << 20


def parse(name: str, data: bytes | str, **limits) -> list[RawItem]:
    if isinstance(data, str):
        data = data.encode()
    limits.setdefault("max_bytes", 10 * MB)
    return list(parse_upload(name, data, **limits))


def png(colour=(200, 0, 0), size=(8, 6)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, format="PNG")
    return buf.getvalue()


def jpeg() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (0, 0, 200)).save(buf, format="JPEG")
    return buf.getvalue()


def zip_bytes(entries: dict[str, bytes | str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return buf.getvalue()


def error_of(excinfo) -> tuple[str, list[dict]]:
    return str(excinfo.value), excinfo.value.errors


# --------------------------------------------------------------------------- JSON


def test_label_studio_task_list():
    tasks = [
        {
            "id": 7,
            "data": {"text": "good film", "ref": 1},
            "annotations": [{"result": [{"type": "choices", "value": {"choices": ["pos"]}}]}],
            "predictions": [{"model_version": "v1", "score": 0.9, "result": []}],
            "meta": {"source": "crawl"},
        },
        {"data": {"text": "bad film"}},
    ]
    items = parse("tasks.json", json.dumps(tasks))
    assert items == [
        RawItem(
            row=1,
            file="tasks.json",
            data={"text": "good film", "ref": 1},
            annotations=tasks[0]["annotations"],
            predictions=tasks[0]["predictions"],
            meta={"source": "crawl"},
            file_name="tasks.json",
        ),
        RawItem(row=2, file="tasks.json", data={"text": "bad film"}, file_name="tasks.json"),
    ]
    assert not items[0].is_image


def test_flat_objects_become_data():
    items = parse("flat.json", '[{"text": "a", "n": 1}, {"text": "b", "annotations": 3}]')
    assert [(i.row, i.data, i.annotations) for i in items] == [
        (1, {"text": "a", "n": 1}, []),
        (2, {"text": "b", "annotations": 3}, []),  # no "data" key: the whole object is data
    ]


def test_single_task_object_is_a_list_of_one():
    items = parse("one.json", '{"data": {"image": "http://x/1.png"}, "meta": {"k": 1}}')
    assert [(i.row, i.data, i.meta) for i in items] == [(1, {"image": "http://x/1.png"}, {"k": 1})]


def test_null_lists_and_meta_are_empty():
    items = parse(
        "n.json", '[{"data": {"t": 1}, "annotations": null, "predictions": null, "meta": null}]'
    )
    assert (items[0].annotations, items[0].predictions, items[0].meta) == ([], [], {})


def test_parse_json_tasks_for_a_decoded_body():
    items = parse_json_tasks([{"text": "x"}, {"data": {"text": "y"}}])
    assert [(i.row, i.file, i.data) for i in items] == [
        (1, "request body", {"text": "x"}),
        (2, "request body", {"text": "y"}),
    ]
    with pytest.raises(
        ImportFormatError, match=r"^request body: expected a list of tasks, got a string$"
    ):
        parse_json_tasks("hello")


def test_many_tasks_parse_and_gc_is_restored():
    body = json.dumps([{"data": {"text": f"t{i}"}} for i in range(100_000)]).encode()
    assert gc.isenabled()
    items = parse("big.json", body, max_bytes=100 * MB)
    assert len(items) == 100_000
    assert (items[-1].row, items[-1].data) == (100_000, {"text": "t99999"})
    assert gc.isenabled()


def test_malformed_json_gives_line_and_column():
    with pytest.raises(ImportFormatError) as excinfo:
        parse("bad.json", '[\n  {"text": "a"},\n  {"text" "b"}\n]')
    message, errors = error_of(excinfo)
    assert message == "bad.json: invalid JSON at line 3, column 11: Expecting ':' delimiter"
    assert errors == [
        {
            "row": None,
            "file": "bad.json",
            "field": None,
            "detail": "invalid JSON at line 3, column 11: Expecting ':' delimiter",
        }
    ]


def test_nan_is_not_json():
    with pytest.raises(ImportFormatError, match=r"^n\.json: invalid JSON: NaN is not valid JSON$"):
        parse("n.json", '[{"score": NaN}]')


def test_object_where_a_list_is_expected():
    with pytest.raises(ImportFormatError) as excinfo:
        parse("wrapped.json", '{"tasks": [{"text": "a"}]}')
    assert str(excinfo.value) == (
        'wrapped.json: expected a list of tasks (or one task with a "data" object), '
        "got an object with keys 'tasks'"
    )


def test_wrong_types_are_all_listed_with_row_and_field():
    tasks = [
        {"data": "just text"},
        {"data": {"text": "ok"}, "annotations": {"result": []}},
        "a string",
        {"data": {"text": "ok"}, "predictions": [{"result": []}, 5, "five"]},
        {"data": {"text": "ok"}, "meta": []},
        {"data": {}},
        {},
        {"data": {"text": "fine"}},
    ]
    with pytest.raises(ImportFormatError) as excinfo:
        parse("t.json", json.dumps(tasks))
    message, errors = error_of(excinfo)
    assert [(e["row"], e["field"], e["detail"]) for e in errors] == [
        (1, "data", "expected an object, got a string"),
        (2, "annotations", "expected a list, got an object"),
        (3, None, "expected an object, got a string"),
        (4, "predictions[2]", "expected an object, got a string"),  # 5: an id, skipped
        (5, "meta", "expected an object, got a list"),
        (6, "data", "empty object"),
        (7, None, "empty object"),
    ]
    assert {e["file"] for e in errors} == {"t.json"}
    assert (
        message
        == "t.json, row 1, field 'data': expected an object, got a string (and 6 more errors)"
    )
    assert excinfo.value.status == 422


def test_errors_are_capped_but_counted():
    with pytest.raises(ImportFormatError) as excinfo:
        parse("many.json", json.dumps([1] * 150))
    assert len(excinfo.value.errors) == MAX_ERRORS
    assert excinfo.value.total == 150
    assert str(excinfo.value).endswith("(and 149 more errors)")


@pytest.mark.parametrize("content", ["", "   \n\t\n"])
def test_empty_file(content):
    with pytest.raises(ImportFormatError) as excinfo:
        parse("file.json", content)
    assert str(excinfo.value) == "file.json is empty"
    assert excinfo.value.errors == [
        {"row": None, "file": "file.json", "field": None, "detail": "is empty"}
    ]


def test_empty_list_has_no_tasks():
    with pytest.raises(ImportFormatError, match=r"^file\.json contains no tasks$"):
        parse("file.json", "[]")


def test_file_over_max_bytes_is_too_large():
    with pytest.raises(TooLargeError) as excinfo:
        parse("big.json", "[" + "1," * 100 + "1]", max_bytes=100)
    assert str(excinfo.value) == "big.json: 203 bytes exceeds the limit of 100 bytes"
    assert excinfo.value.status == 413
    assert isinstance(excinfo.value, ImportFormatError)


# --------------------------------------------------------------------------- JSON Lines


def test_json_lines_of_flat_objects_and_tasks():
    text = '{"text": "a"}\n\n{"data": {"text": "b"}, "annotations": [{"result": []}]}\r\n{"text": "c"}\n'
    items = parse("t.jsonl", text)
    assert [(i.row, i.data, i.annotations) for i in items] == [
        (1, {"text": "a"}, []),
        (3, {"text": "b"}, [{"result": []}]),
        (4, {"text": "c"}, []),
    ]


def test_json_lines_saved_as_json():
    items = parse("t.json", '{"text": "a"}\n{"text": "b"}\n')
    assert [(i.row, i.data) for i in items] == [(1, {"text": "a"}), (2, {"text": "b"})]


def test_json_lines_errors_name_each_line():
    with pytest.raises(ImportFormatError) as excinfo:
        parse("t.ndjson", '{"text": "a"}\n{"text": \n[1, 2]\n{"data": 3}\n')
    assert [(e["row"], e["field"], e["detail"]) for e in excinfo.value.errors] == [
        (2, None, "invalid JSON at column 10: Expecting value"),
        (3, None, "expected an object, got a list"),
        (4, "data", "expected an object, got a number"),
    ]


# --------------------------------------------------------------------------- CSV / TSV / TXT


def test_csv_with_bom_quotes_and_row_numbers():
    text = '\ufefftext, label\n"hello, world",pos\n"two\nlines",neg\n\nlast,\n'
    items = parse("f.csv", text)
    assert [(i.row, i.data) for i in items] == [
        (2, {"text": "hello, world", "label": "pos"}),
        (3, {"text": "two\nlines", "label": "neg"}),
        (6, {"text": "last", "label": ""}),
    ]


def test_tsv():
    items = parse("f.tsv", "text\tid\na, b\t1\n")
    assert [(i.row, i.data) for i in items] == [(2, {"text": "a, b", "id": "1"})]


def test_csv_not_utf8_names_byte_position_and_line():
    data = b"text,label\nabc,x\ncaf\xe9,y\n"
    with pytest.raises(ImportFormatError) as excinfo:
        parse("file.csv", data)
    assert str(excinfo.value) == "file.csv, row 3: not UTF-8 text (byte 0xe9 at position 20)"  # a CSV's rows are its lines
    assert excinfo.value.errors == [
        {
            "row": 3,
            "file": "file.csv",
            "field": None,
            "detail": "not UTF-8 text (byte 0xe9 at position 20)",
        }
    ]


def test_csv_not_utf8_position_counts_the_bom():
    with pytest.raises(
        ImportFormatError, match=r"^file\.csv, row 4: not UTF-8 text \(byte 0xe9 at position 17\)"
    ):
        parse("file.csv", b"\xef\xbb\xbftext\nabc\nde\nfg\xe9\n")


def test_utf16_gets_a_hint():
    with pytest.raises(ImportFormatError, match="looks like UTF-16, save it as UTF-8"):
        parse("x.tsv", "text\na\n".encode("utf-16"))


def test_csv_row_errors():
    with pytest.raises(ImportFormatError) as excinfo:
        parse("f.csv", "text,label\na,b\nonly\nc,d,e\n")
    assert [(e["row"], e["detail"]) for e in excinfo.value.errors] == [
        (3, "has 1 fields, the header has 2"),
        (4, "has 3 fields, the header has 2"),
    ]


def test_csv_header_errors():
    with pytest.raises(ImportFormatError) as excinfo:
        parse("f.csv", "text,,text\na,b,c\n")
    assert [(e["row"], e["field"], e["detail"]) for e in excinfo.value.errors] == [
        (1, None, "column 2 of the header has no name"),
        (1, "text", "column name appears twice in the header"),
    ]


def test_semicolon_csv_is_not_silently_one_column():
    with pytest.raises(ImportFormatError, match=r"looks ';'-separated"):
        parse("f.csv", "text;label\na;b\n")


def test_csv_malformed_quotes():
    with pytest.raises(ImportFormatError, match=r"^f\.csv, row 2: malformed CSV: "):
        parse("f.csv", 'text,label\n"a"b,c\n')


def test_csv_header_only_has_no_tasks():
    with pytest.raises(ImportFormatError, match=r"^f\.csv contains no tasks$"):
        parse("f.csv", "text,label\n")


def test_txt_one_text_per_line():
    items = parse("lines.txt", "first line\r\n\n  \nsecond, with comma\nthird")
    assert [(i.row, i.data) for i in items] == [
        (1, {"text": "first line"}),
        (4, {"text": "second, with comma"}),
        (5, {"text": "third"}),
    ]


# --------------------------------------------------------------------------- dispatch, images


def test_single_image_upload():
    data = jpeg()
    [item] = parse("photo.JPG", data)
    assert (item.row, item.file, item.file_name, item.data, item.label) == (
        1,
        "photo.JPG",
        "photo.JPG",
        {},
        None,
    )
    assert item.image_bytes == data and item.is_image and item.read_image() == data


def test_text_renamed_png_is_not_an_image():
    with pytest.raises(ImportFormatError, match=r"^notes\.png: not an image$"):
        parse("notes.png", "some text")


def test_svg_is_refused():
    with pytest.raises(ImportFormatError, match=r"^logo\.svg: SVG is not accepted$"):
        parse("logo.svg", '<svg xmlns="http://www.w3.org/2000/svg"/>')


def test_unknown_extension_is_refused_and_content_is_sniffed():
    with pytest.raises(
        ImportFormatError, match=r"^notes\.md: unsupported file type '\.md'; accepted: "
    ):
        parse("notes.md", "# title")
    assert parse("upload", '[{"text": "x"}]')[0].data == {"text": "x"}
    assert parse("blob", png())[0].is_image
    assert parse("archive", zip_bytes({"a.txt": "x"}))[0].data == {"text": "x"}


# --------------------------------------------------------------------------- zip


def test_zip_image_folder_layout_gives_labels():
    cat, dog = png((200, 0, 0)), png((0, 200, 0))
    data = zip_bytes(
        {
            "pets/cat/1.png": cat,
            "pets/dog/2.png": dog,
            "pets/cat/sub/3.png": cat,
            "__MACOSX/pets/cat/._1.png": b"\x00junk",
            "pets/.DS_Store": b"junk",
        }
    )
    items = parse("pets.zip", data)
    assert [(i.row, i.file, i.file_name, i.label) for i in items] == [
        (1, "pets.zip/pets/cat/1.png", "pets/cat/1.png", "cat"),
        (2, "pets.zip/pets/dog/2.png", "pets/dog/2.png", "dog"),
        (3, "pets.zip/pets/cat/sub/3.png", "pets/cat/sub/3.png", "cat"),
    ]
    assert [i.image_bytes for i in items] == [cat, dog, cat]


def test_zip_without_wrapper_folder_and_root_images():
    data = zip_bytes({"cat/1.png": png(), "dog/2.png": png(), "3.png": png()})
    assert [(i.file_name, i.label) for i in parse("p.zip", data)] == [
        ("cat/1.png", "cat"),
        ("dog/2.png", "dog"),
        ("3.png", None),
    ]


def test_zip_of_one_plain_folder_has_no_labels():
    data = zip_bytes({"photos/1.png": png(), "photos/2.png": png()})
    assert [i.label for i in parse("p.zip", data)] == [None, None]


def test_zip_of_text_formats():
    data = zip_bytes(
        {
            "a.json": '[{"text": "j1"}, {"data": {"text": "j2"}}]',
            "b.csv": "text\nc1\n",
            "c.txt": "t1\nt2\n",
            "d.jsonl": '{"text": "l1"}\n',
        }
    )
    items = parse("texts.zip", data)
    assert [(i.file, i.row, i.data["text"]) for i in items] == [
        ("texts.zip/a.json", 1, "j1"),
        ("texts.zip/a.json", 2, "j2"),
        ("texts.zip/b.csv", 2, "c1"),
        ("texts.zip/c.txt", 1, "t1"),
        ("texts.zip/c.txt", 2, "t2"),
        ("texts.zip/d.jsonl", 1, "l1"),
    ]
    assert items[0].file_name == "a.json"


def test_zip_member_errors_are_collected():
    data = zip_bytes(
        {
            "fake.png": "not an image",
            "readme.md": "hi",
            "t.json": '[{"data": 1}]',
            "inner.zip": zip_bytes({"a.txt": "x"}),
            "ok.png": png(),
        }
    )
    with pytest.raises(ImportFormatError) as excinfo:
        parse("mixed.zip", data)
    assert [
        (e["file"], e["row"], e["field"], e["detail"].split(";")[0]) for e in excinfo.value.errors
    ] == [
        ("mixed.zip/fake.png", None, None, "not an image"),
        ("mixed.zip/readme.md", None, None, "unsupported file type '.md'"),
        ("mixed.zip/t.json", 1, "data", "expected an object, got a number"),
        ("mixed.zip/inner.zip", None, None, "archives inside archives are not accepted"),
    ]


def test_zip_with_parent_path_is_refused():
    data = zip_bytes({"ok.png": png(), "../evil.txt": "x"})
    with pytest.raises(ImportFormatError) as excinfo:
        parse("evil.zip", data)
    assert (
        str(excinfo.value) == "evil.zip: member '../evil.txt' has an unsafe path ('..' component)"
    )
    assert not isinstance(excinfo.value, TooLargeError)


def test_zip_with_absolute_path_is_refused():
    with pytest.raises(
        ImportFormatError, match=r"^abs\.zip: member '/tmp/evil\.txt' has an absolute path$"
    ):
        parse("abs.zip", zip_bytes({"/tmp/evil.txt": "x"}))


def test_zip_bomb_is_refused():
    data = zip_bytes({"zeros.txt": b"\x00" * (4 * MB)})
    assert len(data) < 20_000
    with pytest.raises(
        ImportFormatError, match=r"^bomb\.zip: member 'zeros\.txt' expands \d+ times .*zip bomb"
    ):
        parse("bomb.zip", data)


def test_zip_unpacked_over_limit_is_too_large():
    data = zip_bytes({"a.txt": "x\n" * 1000})
    with pytest.raises(TooLargeError, match=r"unpacked size exceeds the limit of 500 bytes"):
        parse("a.zip", data, max_unpacked_bytes=500)


def test_zip_too_many_files():
    data = zip_bytes({f"{i}.png": png() for i in range(4)})
    with pytest.raises(ImportFormatError, match=r"more than 3 files"):
        parse("a.zip", data, max_files=3)


def test_broken_and_empty_zip():
    with pytest.raises(ImportFormatError, match=r"^broken\.zip: not a valid zip archive"):
        parse("broken.zip", b"PK\x03\x04 this is not really a zip")
    with pytest.raises(ImportFormatError, match=r"^empty\.zip contains no files to import$"):
        parse("empty.zip", zip_bytes({"folder/": b"", ".hidden": b"x"}))


def test_zip_images_are_read_lazily():
    data = zip_bytes({"a/1.png": png(), "b/2.png": png()})
    items = parse_upload("lazy.zip", data, max_bytes=MB)
    first = next(items)
    assert (first.label, first.image_bytes[:4]) == ("a", b"\x89PNG")
    assert next(items).label == "b"
    assert next(items, None) is None


# --------------------------------------------------------------------------- folders


def test_folder_image_folder_layout(tmp_path):
    root = tmp_path / "data"
    for rel in ("cat/1.png", "cat/2.jpg", "dog/3.png", "0.png"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(jpeg() if rel.endswith(".jpg") else png())
    (root / ".DS_Store").write_bytes(b"junk")
    (root / ".git").mkdir()
    (root / ".git" / "HEAD").write_text("ref")
    (root / "extra.txt").write_text("a text\n")
    items = list(parse_path(root))
    assert [(i.file_name, i.label, i.image_path, i.data) for i in items] == [
        ("0.png", None, root / "0.png", {}),
        ("extra.txt", None, None, {"text": "a text"}),
        ("cat/1.png", "cat", root / "cat/1.png", {}),
        ("cat/2.jpg", "cat", root / "cat/2.jpg", {}),
        ("dog/3.png", "dog", root / "dog/3.png", {}),
    ]
    assert all(i.image_bytes is None for i in items)
    assert items[2].file == "data/cat/1.png"
    assert items[2].read_image() == png()


def test_folder_single_class_is_labelled(tmp_path):
    (tmp_path / "cat").mkdir()
    (tmp_path / "cat" / "1.png").write_bytes(png())
    assert [i.label for i in parse_path(tmp_path)] == ["cat"]


def test_folder_errors_before_any_item(tmp_path):
    (tmp_path / "a.png").write_bytes(png())
    (tmp_path / "b.png").write_text("text, not png")
    (tmp_path / "c.csv").write_bytes(b"text\n\xff\n")
    with pytest.raises(ImportFormatError) as excinfo:
        parse_path(tmp_path)
    name = tmp_path.name
    assert [(e["file"], e["detail"]) for e in excinfo.value.errors] == [
        (f"{name}/b.png", "not an image"),
        (f"{name}/c.csv", "not UTF-8 text (byte 0xff at position 5)"),
    ]


def test_parse_path_files(tmp_path):
    (tmp_path / "t.csv").write_text("text\nx\n")
    assert [i.data for i in parse_path(tmp_path / "t.csv")] == [{"text": "x"}]
    (tmp_path / "p.zip").write_bytes(zip_bytes({"cat/1.png": png(), "dog/1.png": png()}))
    assert [i.label for i in parse_path(tmp_path / "p.zip")] == ["cat", "dog"]
    (tmp_path / "one.png").write_bytes(png())
    [item] = parse_path(tmp_path / "one.png")
    assert (item.image_path, item.image_bytes) == (tmp_path / "one.png", None)
    with pytest.raises(TooLargeError, match=r"^t\.csv: 7 bytes exceeds the limit of 4 bytes$"):
        parse_path(tmp_path / "t.csv", max_bytes=4)
    with pytest.raises(ImportFormatError, match="no such file or folder"):
        parse_path(tmp_path / "missing.json")
    (tmp_path / "empty.txt").write_bytes(b"")
    with pytest.raises(ImportFormatError, match=r"^empty\.txt is empty$"):
        parse_path(tmp_path / "empty.txt")


def test_import_file_in_memory_and_on_disk(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("x\ny\n")
    from_bytes = list(parse_import_file(ImportFile("a.txt", data=b"x\ny\n"), max_bytes=MB))
    from_path = list(parse_import_file(ImportFile("a.txt", path=path), max_bytes=MB))
    assert (
        [i.data for i in from_bytes]
        == [i.data for i in from_path]
        == [{"text": "x"}, {"text": "y"}]
    )
    assert ImportFile("a.txt", path=path).read() == b"x\ny\n"
    with pytest.raises(ValueError, match="exactly one of data or path"):
        ImportFile("a.txt")


def test_format_error():
    assert format_error({"row": 3, "file": "f.csv", "field": "text", "detail": "bad"}) == (
        "f.csv, row 3, field 'text': bad"
    )
    assert (
        format_error({"row": None, "file": "f.csv", "field": None, "detail": "bad"}) == "f.csv: bad"
    )


def test_rawitem_read_image_of_text_item():
    with pytest.raises(ValueError, match="not an image item"):
        RawItem(row=1, file="f.json", data={"t": 1}).read_image()
    assert isinstance(Path("x"), Path)
