"""The project the dashboard tests measure: known tasks, annotations, events, QC runs."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from insights import dashboard
from labeling import projects
from labeling.db import utcnow, write_session
from labeling.models import Annotation, QualityRun, Task, TaskEvent

CONFIG = """<View><Text name="text" value="$text"/>
<Choices name="label" toName="text" choice="single"><Choice value="cat"/><Choice value="dog"/><Choice value="bird"/></Choices>
</View>"""

MULTI = """<View><Text name="text" value="$text"/>
<Choices name="tags" toName="text" choice="multiple"><Choice value="a"/><Choice value="b"/><Choice value="c"/></Choices>
</View>"""


def res(*labels: str, name: str = "label") -> list[dict]:
    return [{"from_name": name, "to_name": "text", "type": "choices", "value": {"choices": list(labels)}}]


def noon(days_ago: int):
    """12:00 UTC, ``days_ago`` days before today: always in the past for days_ago >= 1."""
    return utcnow().replace(hour=12, minute=0, second=0, microsecond=0) - timedelta(days=days_ago)


class World:
    """One project with known tasks, annotations, events, QC runs and releases."""

    def __init__(self, lead, annotators):
        self.lead = lead
        self.a1, self.a2, self.a3 = annotators
        self.project = projects.create_project(lead.user, title="stats", label_config=CONFIG, overlap=2)
        self.pid = self.project.id
        self.t = {}
        # name: (state, final, gold answer)
        plan = {"t1": ("accepted", "cat", None), "t2": ("accepted", "dog", None), "t3": ("labeled", None, None),
                "t4": ("suspect", None, None), "t5": ("open", None, None), "t6": ("imported", None, None),
                "t7": ("open", None, "cat"), "t8": ("excluded", None, None)}
        with write_session() as s:
            for name, (state, final, gold) in plan.items():
                task = Task(project_id=self.pid, data={"text": name}, state=state, is_gold=gold is not None,
                            gold_answer=res(gold) if gold else None, final_label=res(final) if final else None,
                            final_source="consensus" if final else None, target_overlap=2)
                s.add(task)
                s.flush()
                self.t[name] = task.id
        a1, a2, a3 = self.a1.id, self.a2.id, self.a3.id
        now = utcnow()
        midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)

        def today(hours_ago: int):  # an hour or two ago, but never before today's midnight
            return max(now - timedelta(hours=hours_ago), min(now, midnight + timedelta(seconds=10 - hours_ago)))

        # (task, user, label or None for a skip, lead time, created at)
        self.annotations = [
            ("t1", a1, "cat", 10.0, noon(5)), ("t1", a2, "cat", 20.0, noon(5)), ("t1", a3, "dog", 30.0, noon(5)),
            ("t2", a1, "dog", 5.0, noon(4)), ("t2", a2, "dog", 15.0, noon(4)),
            ("t3", a1, "bird", 40.0, noon(2)), ("t3", a3, "bird", 50.0, noon(2)),
            ("t4", a2, "cat", 8.0, today(1)), ("t4", a3, "dog", 12.0, today(2)),
            ("t5", a1, None, 3.0, noon(2)),
            ("t7", a1, "cat", 6.0, noon(3)), ("t7", a2, "dog", 7.0, noon(3)),
            ("t8", a3, "bird", 9.0, noon(3)),
        ]
        self.add_annotations(self.annotations)
        events = [("t1", "open", "labeled", noon(5)), ("t1", "labeled", "accepted", noon(4)),
                  ("t2", "open", "labeled", noon(5)), ("t2", "labeled", "accepted", noon(1)),
                  ("t3", "open", "labeled", noon(2)), ("t4", "open", "labeled", noon(2)),
                  ("t4", "labeled", "suspect", noon(1)), ("t8", "open", "labeled", noon(3)),
                  ("t8", "labeled", "excluded", noon(1))]
        with write_session() as s:
            s.execute(sa.insert(TaskEvent.__table__), [
                {"task_id": self.t[t], "project_id": self.pid, "from_state": old, "to_state": to, "reason": "",
                 "created_at": when} for t, old, to, when in events])

    def add_annotations(self, rows):
        """Annotations (a label of None: a skip), with their tasks' counters, as a submit keeps them."""
        with write_session() as s:
            for task, user, label, seconds, when in rows:
                s.add(Annotation(task_id=self.t[task], project_id=self.pid, user_id=user,
                                 result=res(label) if label else [], was_cancelled=label is None,
                                 lead_time=seconds, created_at=when, updated_at=when))
                column = Task.__table__.c.n_skips if label is None else Task.__table__.c.n_annotations
                s.execute(sa.update(Task.__table__).where(Task.__table__.c.id == self.t[task])
                          .values({column: column + 1}))

    def submitted(self, user=None):
        return [sec for _, u, label, sec, _ in self.annotations if label is not None and (user is None or u == user)]

    def panels(self, *names, **kw):
        return dashboard.project_stats(self.lead.user, self.pid, names or None, **kw)["panels"]


def qc_run(world, *, agreement=None, noise=0.1, cj=None, when=None) -> int:
    with write_session() as s:
        run = QualityRun(project_id=world.pid, status="done", n_items=6, n_issues=2, noise_rate=noise,
                         class_names=["cat", "dog", "bird"], per_class_noise={"cat": noise / 2, "dog": noise},
                         confident_joint=cj or [[3, 1, 0], [2, 4, 0], [0, 0, 5]], agreement=agreement or {},
                         model_name="logreg", cv_accuracy=0.9, created_at=when or utcnow(),
                         finished_at=when or utcnow())
        s.add(run)
        s.flush()
        return run.id
