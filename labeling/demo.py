"""The demo projects ``labelfab demo`` (and ``make run``) loads, so a new user sees real work.

- "Demo: handwritten digits": 300 images rendered with Pillow from scikit-learn's bundled
  digits (no download), imported from an ImageFolder layout (``7/digit_0042.png``) whose folder
  names are the existing labels; 10% of them are deliberately wrong, so QC has something to
  find. :func:`digits_truth` gives the true label of every file.
- "Demo: short reviews": three dozen short texts to classify by sentiment, unlabeled.

Both go through :func:`labeling.imports.import_data`, like any import. Loading is idempotent:
a demo project that exists already (by title) is left as it is.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
from PIL import Image
from sqlmodel import select

from labeling import imports, projects
from labeling.db import read_session
from labeling.models import Project, User

DIGITS_TITLE = "Demo: handwritten digits"
TEXT_TITLE = "Demo: short reviews"
PER_CLASS = 30
FLIP_RATE = 0.10
SEED = 20240607
IMAGE_SIZE = 64

DIGITS_CONFIG = """<View>
  <Header value="Which digit is this?"/>
  <Image name="image" value="$image"/>
  <Choices name="label" toName="image" choice="single-radio" showInline="true" required="true">
""" + "".join(f'    <Choice value="{d}" hotkey="{d}"/>\n' for d in range(10)) + """  </Choices>
</View>
"""

TEXT_CONFIG = """<View>
  <Text name="text" value="$text"/>
  <Choices name="sentiment" toName="text" choice="single-radio" showInline="true" required="true">
    <Choice value="positive" hotkey="1"/>
    <Choice value="negative" hotkey="2"/>
    <Choice value="neutral" hotkey="3"/>
  </Choices>
</View>
"""

TEXTS = [
    "The battery lasts two full days, which I did not expect at this price.",
    "Arrived broken and the seller never answered my emails.",
    "It does what the box says. Nothing more, nothing less.",
    "Best pair of headphones I have owned; the noise cancelling is superb.",
    "The app crashes every time I try to export a report.",
    "Delivery took four days, as announced.",
    "Lovely staff, spotless room and a view over the harbour.",
    "The soup was cold and the waiter forgot our drinks twice.",
    "The manual is twelve pages long and printed in three languages.",
    "Setup took five minutes and everything worked on the first try.",
    "Stopped charging after a week. Returned it.",
    "The jacket is blue, as in the photos.",
    "My kids have played with it every day since Christmas.",
    "Customer service kept me on hold for an hour and then hung up.",
    "The update changed the icons but not much else.",
    "Sharp, bright screen and the speakers are surprisingly good.",
    "The zipper broke the first time I closed the bag.",
    "It ships with a USB-C cable but no charger.",
    "A thoughtful, funny book that I finished in one evening.",
    "The plot falls apart in the last third and the ending is rushed.",
    "The film runs for two hours and ten minutes.",
    "Fast, quiet and it cleans better than my old vacuum.",
    "Smells of plastic even after airing it for a week.",
    "The store opens at nine on weekdays.",
    "Exactly the size I needed, and the fabric feels solid.",
    "The subscription renewed without any warning; I want my money back.",
    "The recipe calls for two eggs and a cup of flour.",
    "Our guide was patient, knowledgeable and very funny.",
    "Too salty, too greasy, and far too expensive for what it is.",
    "The package contained the phone, a case and a quick-start card.",
    "I would buy it again without hesitating.",
    "The strap left a rash on my wrist after one day.",
    "The train was on time and the seats were comfortable.",
    "It is heavier than it looks in the pictures.",
    "Terrible signal indoors; calls drop all the time.",
    "The colours are exactly as shown and it washes well.",
]


def _find(title: str) -> Project | None:
    with read_session() as s:
        return s.exec(select(Project).where(Project.title == title).order_by(Project.id)).first()


def _digit_images() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits  # bundled with scikit-learn: no download

    digits = load_digits()
    return digits.images, digits.target


def digits_plan() -> list[tuple[str, int, int]]:
    """``(file name, true digit, given digit)`` of every demo image; deterministic."""
    _, target = _digit_images()
    rng = np.random.default_rng(SEED)
    chosen = []
    for digit in range(10):
        chosen.extend(int(i) for i in np.flatnonzero(target == digit)[:PER_CLASS])
    chosen.sort()
    flip = set(rng.choice(len(chosen), size=round(FLIP_RATE * len(chosen)), replace=False).tolist())
    plan = []
    for pos, index in enumerate(chosen):
        true = int(target[index])
        given = true
        if pos in flip:
            given = int(rng.choice([d for d in range(10) if d != true]))
        plan.append((f"digit_{index:04d}.png", true, given))
    return plan


def digits_truth() -> dict[str, str]:
    """True label of every demo image, by the file name the task keeps (``7/digit_0042.png``)."""
    return {f"{given}/{name}": str(true) for name, true, given in digits_plan()}


def _render(image: np.ndarray) -> Image.Image:
    """An 8x8 digit (0..16, ink high) as a dark-on-white grayscale image."""
    pixels = (255 - np.clip(image, 0, 16) * (255 / 16)).astype(np.uint8)
    return Image.fromarray(pixels).resize((IMAGE_SIZE, IMAGE_SIZE), Image.Resampling.NEAREST)


def _write_digits(folder: Path) -> None:
    images, _ = _digit_images()
    for name, _, given in digits_plan():
        target = folder / str(given) / name
        target.parent.mkdir(parents=True, exist_ok=True)
        _render(images[int(name[6:10])]).save(target, format="PNG", optimize=True)


def load_demo(user: User) -> list[dict]:
    """Create the demo projects that do not exist yet; returns what was done per project."""
    done = []
    project = _find(DIGITS_TITLE)
    if project is None:
        project = projects.create_project(
            user, title=DIGITS_TITLE, label_config=DIGITS_CONFIG, overlap=1,
            description=f"{PER_CLASS * 10} handwritten digits (scikit-learn's digits data set) with their "
                        f"existing labels; about {FLIP_RATE:.0%} of the labels are wrong on purpose.",
            instructions="Pick the digit shown in the image. Keys 0-9 choose a digit.")
        with tempfile.TemporaryDirectory(prefix="labelfab-demo-") as tmp:
            folder = Path(tmp) / "digits"
            _write_digits(folder)
            result = imports.import_data(user, project.id, paths=[folder])
        done.append({"status": "created", "id": project.id, "title": project.title, "tasks": result.task_count,
                     "thumbnail_job": result.thumbnail_job_id})
    else:
        done.append({"status": "exists", "id": project.id, "title": project.title, "tasks": _count(project.id)})
    project = _find(TEXT_TITLE)
    if project is None:
        project = projects.create_project(
            user, title=TEXT_TITLE, label_config=TEXT_CONFIG, overlap=1,
            description="Short product and service reviews to classify by sentiment.",
            instructions="Choose the sentiment the writer expresses: positive, negative or neutral "
                         "(facts without an opinion are neutral). Keys 1-3 choose.")
        result = imports.import_data(user, project.id, body=[{"text": t} for t in TEXTS])
        done.append({"status": "created", "id": project.id, "title": project.title, "tasks": result.task_count})
    else:
        done.append({"status": "exists", "id": project.id, "title": project.title, "tasks": _count(project.id)})
    return done


def _count(project_id: int) -> int:
    with read_session() as s:
        return projects.project_counts(s, [project_id])[project_id]["task_number"]
