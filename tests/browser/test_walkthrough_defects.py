"""Defects found by walking the product as its users, each reproduced in the browser: drawing a second box
right after the first, the zoom readout, the keys dialog's zoom and pan, the label filter's
placeholder, the settings' live check and Save on an annotation's and a prediction's label, the version diff, and the
recent imports an annotator sees."""

from __future__ import annotations

from playwright.sync_api import expect

from labeling.imports import ImportFile
from labeling.schema import gallery
from tests.browser.conftest import login
from tests.browser.test_annotate import annotations_of, make_project, open_annotate, png_bytes

XML = {g["id"]: g["xml"] for g in gallery()}


def drag(page, b, x1, y1, x2, y2) -> None:
    """Drag with the mouse between two points given as fractions of the box ``b``."""
    page.mouse.move(b["x"] + b["width"] * x1, b["y"] + b["height"] * y1)
    page.mouse.down()
    page.mouse.move(b["x"] + b["width"] * x2, b["y"] + b["height"] * y2, steps=10)
    page.mouse.up()


def test_a_second_box_is_drawn_right_after_the_first_without_esc(page, shot, lead, annotator):
    project = make_project(lead, XML["object_detection"], None, title="Street scenes",
                           files=[ImportFile(name="street.png", data=png_bytes(640, 400))])
    open_annotate(page, annotator, project)
    image = page.locator(".anno-image")
    expect(image).to_be_visible()
    page.keyboard.press("2")  # car
    b = image.bounding_box()
    drag(page, b, 0.1, 0.1, 0.3, 0.4)
    regions = page.locator(".anno-region")
    expect(regions).to_have_count(1)
    expect(page.locator(".anno-region.is-selected")).to_have_count(1)  # the new box is selected
    # straight on to the next box, away from the selected one: no Esc in between
    drag(page, b, 0.6, 0.5, 0.9, 0.9)
    expect(regions).to_have_count(2)
    shot(page, "walkthrough-second-box")
    # a click (no drag) on the other box still selects it, and draws nothing
    page.mouse.click(b["x"] + b["width"] * 0.2, b["y"] + b["height"] * 0.25)
    expect(regions.nth(0)).to_have_class("anno-region is-selected")
    expect(regions).to_have_count(2)
    # a slower click, as a person makes (the button held a moment), on the second box: the same
    page.mouse.move(b["x"] + b["width"] * 0.75, b["y"] + b["height"] * 0.7)
    page.mouse.down()
    page.wait_for_timeout(150)
    page.mouse.up()
    expect(regions.nth(1)).to_have_class("anno-region is-selected")
    expect(regions).to_have_count(2)
    page.keyboard.press("Escape")
    page.keyboard.press("Enter")
    expect(page.locator('[data-anno="empty"]')).to_be_visible()
    (saved,) = annotations_of(annotator.id, project.id)
    boxes = sorted((round(r["value"]["x"]), round(r["value"]["y"]), r["value"]["rectanglelabels"][0])
                   for r in saved.result)
    assert [(x // 5, y // 5, label) for x, y, label in boxes] == [(2, 2, "car"), (12, 10, "car")]


def test_the_zoom_readout_gives_the_size_shown_against_the_image_own(page, shot, lead, annotator):
    # a 100x60 image is fitted at 4x its own size (the most fit enlarges): the readout says so
    project = make_project(lead, XML["image_classification"], None, title="Thumbnails",
                           files=[ImportFile(name="small.png", data=png_bytes(100, 60))])
    open_annotate(page, annotator, project)
    image = page.locator(".anno-image")
    expect(image).to_be_visible()
    level = page.locator('[data-anno="zoom-level"]')
    page.wait_for_function("() => document.querySelector('.anno-image').getBoundingClientRect().width > 100")
    shown = image.bounding_box()["width"]
    expect(level).to_have_text(f"{round(shown / 100 * 100)}%")
    assert shown == 400
    expect(level).to_have_text("400%")
    page.keyboard.press("+")
    shown = image.bounding_box()["width"]
    expect(level).to_have_text(f"{round(shown / 100 * 100)}%")
    expect(level).to_have_text("500%")
    page.keyboard.press("0")
    expect(level).to_have_text("400%")
    shot(page, "walkthrough-zoom-readout")


def test_the_keys_dialog_of_an_image_page_without_regions_names_zoom_and_pan(page, shot, lead, annotator):
    project = make_project(lead, XML["image_classification"], None, title="Pets",
                           files=[ImportFile(name="pet.png", data=png_bytes(640, 400))])
    open_annotate(page, annotator, project)
    expect(page.locator(".anno-zoom-bar")).to_be_visible()  # the page zooms and pans...
    page.keyboard.press("?")
    dialog = page.locator('[data-anno="keys-dialog"]')
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Zoom the image in, out, fit")  # ...and its keys dialog says how
    expect(dialog).to_contain_text("drag (or scroll) to pan")
    shot(page, "walkthrough-keys-dialog-zoom")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    width = page.locator(".anno-image").bounding_box()["width"]
    page.keyboard.press("+")  # the keys it names work on this page
    page.wait_for_function("(w) => document.querySelector('.anno-image').getBoundingClientRect().width > w + 1",
                           arg=width)


def test_the_label_filter_placeholder_fits_its_box(page, shot, lead, annotator):
    labels = "".join(f'<Choice value="kind {i}"/>' for i in range(12))
    xml = (f'<View><Text name="text" value="$text"/><Choices name="label" toName="text">{labels}'
           "</Choices></View>")
    project = make_project(lead, xml, [{"text": "which kind?"}], title="Many kinds")
    open_annotate(page, annotator, project)
    box = page.locator(".anno-filter")
    expect(box).to_be_visible()
    measure = """(input) => {  // the placeholder typed in as a value: does it overflow the box?
        const before = input.value;
        input.value = input.placeholder;
        const sizes = {text: input.scrollWidth, room: input.clientWidth};
        input.value = before;
        return sizes;
    }"""
    shot(page, "walkthrough-label-filter")
    for width in (1280, 1024, 800):
        page.set_viewport_size({"width": width, "height": 800})
        fits = box.evaluate(measure)
        assert fits["text"] <= fits["room"], (width, fits)


def test_annotators_do_not_see_the_server_path_of_an_import(page, shot, lead, annotator, tmp_path):
    from labeling import imports, projects

    project = projects.create_project(lead.user, title="From the server", label_config=XML["text_classification"])
    source = tmp_path / "secret-folder" / "batch.json"
    source.parent.mkdir()
    source.write_text('[{"text": "hello"}]')
    imports.import_data(lead.user, project.id, paths=[source], background=False)
    login(page, annotator.email)
    page.goto(f"/projects/{project.id}")
    expect(page.get_by_role("heading", name="From the server")).to_be_visible()
    expect(page.get_by_role("link", name="Start labeling")).to_be_visible()
    expect(page.locator("body")).not_to_contain_text("secret-folder")
    expect(page.get_by_role("heading", name="Recent imports")).to_have_count(0)
    shot(page, "walkthrough-project-annotator")
    page.context.clear_cookies()
    login(page, lead.email)
    page.goto(f"/projects/{project.id}")
    expect(page.get_by_role("heading", name="Recent imports")).to_be_visible()  # the lead still sees them
    expect(page.locator("table.imports")).to_contain_text("secret-folder")


def test_the_live_check_and_save_agree_on_annotation_and_prediction_labels(page, shot, lead):
    """A label an annotation uses may not go: the live check and Save both refuse, naming it. A
    label only a prediction uses may go (Label Studio's rule): both accept."""
    from labeling import imports, projects

    xml = XML["text_classification"]
    project = projects.create_project(lead.user, title="Tones", label_config=xml)
    schema_labels = [line.split('"')[1] for line in xml.splitlines() if "<Choice value=" in line]
    annotated, only_predicted = schema_labels[0], schema_labels[-1]
    imports.import_data(lead.user, project.id, background=False, body=[
        {"data": {"text": "fine"}, "annotations": [{"result": [
            {"from_name": "label", "to_name": "text", "type": "choices", "value": {"choices": [annotated]}}]}]},
        {"data": {"text": "maybe"}, "predictions": [{"model_version": "m1", "result": [
            {"from_name": "label", "to_name": "text", "type": "choices", "value": {"choices": [only_predicted]}}]}]},
    ])

    def without(label: str) -> str:
        return "\n".join(line for line in xml.splitlines() if f'"{label}"' not in line)

    page.allow_console(r"status of 422 \([^)]*\) \(http://[^)]*/api/projects/(\d+/)?validate\)")  # the refusal shown
    page.allow_console(r"status of 422 \([^)]*\) \(http://[^)]*/projects/\d+/settings\)")  # Save's refusal
    login(page, lead.email)
    page.goto(f"/projects/{project.id}/settings")
    status = page.locator("#config-status")
    errors = page.locator("#config-errors")
    expect(status).to_contain_text("Save keeps this project's labels valid")
    # (a) the label an annotation uses: the live check refuses, naming it and what uses it
    page.locator("#label_config").fill(without(annotated))
    expect(status).to_contain_text("Save would refuse")
    expect(status).not_to_contain_text("Valid")
    expect(errors).to_contain_text(f"label '{annotated}' is used by existing annotations")
    shot(page, "walkthrough-settings-annotation-label")
    page.get_by_role("button", name="Save settings").click()
    # Save refuses with the same words and keeps the config
    expect(page.locator(".field-error").first).to_be_visible()
    expect(page.locator("body")).to_contain_text(f"label '{annotated}' is used by existing annotations")
    assert annotated in projects.get_project(project.id).label_config
    # (b) the label only a prediction uses: the live check says valid, and Save saves
    page.goto(f"/projects/{project.id}/settings")
    expect(status).to_contain_text("Save keeps this project's labels valid")
    page.locator("#label_config").fill(without(only_predicted))
    # the answer for the new config (the page's first check, of the saved one, said "✓ Valid" too)
    expect(status).to_contain_text(f"label (Choices: {', '.join(schema_labels[:-1])}).")
    expect(status).to_contain_text("✓ Valid")
    expect(status).to_contain_text("Save keeps this project's labels valid")
    expect(page.locator("#config-preview").get_by_text(only_predicted, exact=True)).to_have_count(0)
    expect(errors).to_be_empty()
    shot(page, "walkthrough-settings-prediction-label")
    page.get_by_role("button", name="Save settings").click()
    expect(page.locator("body")).to_contain_text("Settings saved.")
    assert f'"{only_predicted}"' not in projects.get_project(project.id).label_config


def test_a_prediction_whose_label_was_removed_pre_fills_only_what_the_config_has(page, shot, lead, annotator):
    """After a label only predictions used is removed, the stored predictions keep it; the
    labeling page leaves that label out of the pre-fill (here the better-scored prediction has
    nothing left, so the other one is pre-filled), and the annotation submits."""
    from labeling import projects

    xml = XML["text_classification"]

    def pick(label: str) -> list[dict]:
        return [{"from_name": "label", "to_name": "text", "type": "choices", "value": {"choices": [label]}}]

    project = make_project(lead, xml, [{"data": {"text": "So-so"}, "predictions": [
        {"model_version": "old-model", "score": 0.9, "result": pick("neutral")},
        {"model_version": "new-model", "score": 0.5, "result": pick("negative")}]}])
    projects.update_project(lead.user, project.id,
                            label_config="\n".join(line for line in xml.splitlines() if '"neutral"' not in line))
    open_annotate(page, annotator, project)
    expect(page.locator('[data-anno="prediction"]')).to_contain_text("new-model")
    expect(page.locator('input[value="negative"]')).to_be_checked()
    expect(page.locator('input[value="neutral"]')).to_have_count(0)
    shot(page, "walkthrough-prediction-removed-label")
    page.keyboard.press("Enter")
    expect(page.locator('[data-anno="empty"]')).to_be_visible()
    (saved,) = annotations_of(annotator.id, project.id)
    assert saved.result[0]["value"]["choices"] == ["negative"]


def test_the_version_diff_counts_each_task_once_and_lists_the_moved_ones(page, shot, lead):
    from labeling import datasets, splits
    from labeling.exports import Splits
    from tests.labeling.test_exports import accept, task_ids, text_task
    from tests.labeling.test_exports import make_project as make_text_project

    pid = make_text_project(lead.user, [text_task(i, ["pos", "neg", "neu"][i % 3]) for i in range(30)])
    accept(pid, task_ids(pid))
    datasets.publish(pid, lead.user, splits=Splits(seed=5))
    splits.resplit(pid, lead.user, splits=Splits(seed=6, ratios=(0.6, 0.2, 0.2)), reason="more test items")
    datasets.publish(pid, lead.user)
    want = datasets.diff(pid, lead.user, 1, 2)
    assert want["moved"] > 0
    login(page, lead.email)
    page.goto(f"/projects/{pid}/datasets/diff?from=1&to=2")
    counts = page.locator("ul.states")
    expect(counts).to_contain_text(f"{want['moved']} moved to another split")
    expect(counts).to_contain_text(f"{30 - want['moved']} unchanged")  # moved + unchanged = the 30 tasks
    moved = page.locator("h3", has_text="Moved").locator("xpath=following-sibling::table[1]/tbody/tr")
    expect(moved).to_have_count(want["moved"])  # every moved task listed, with its splits
    first = want["examples"]["moved"][0]
    expect(moved.first).to_contain_text(f'{first["id"]}"{first["from"]}""{first["to"]}"')
    shot(page, "walkthrough-version-diff")
