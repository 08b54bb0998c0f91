"""The one cache of parsed label schemas (labeling.schema.cache)."""

from __future__ import annotations

from labeling import projects
from labeling.models import Project
from labeling.schema import parse_label_config, schema_of

TEXT = """<View><Text name="text" value="$text"/>
<Choices name="label" toName="text"><Choice value="pos"/><Choice value="neg"/></Choices></View>"""


def test_a_stored_project_is_parsed_once_until_its_config_changes(lead):
    project = projects.create_project(lead.user, title="cached", label_config=TEXT)
    first = schema_of(project)
    assert schema_of(projects.get_project(project.id)) is first
    assert first.label_names() == ["pos", "neg"]
    grown = TEXT.replace('<Choice value="neg"/>', '<Choice value="neg"/><Choice value="meh"/>')
    changed = projects.update_project(lead.user, project.id, label_config=grown)
    assert schema_of(changed) is not first
    assert schema_of(changed).label_names() == ["pos", "neg", "meh"]
    assert schema_of(projects.get_project(project.id)) is schema_of(changed)


def test_a_project_not_yet_stored_is_parsed_not_cached():
    stored = parse_label_config(TEXT).model_dump()
    one, two = Project(title="a", label_config=TEXT, label_schema=stored), Project(title="b", label_config=TEXT,
                                                                                   label_schema=stored)
    assert schema_of(one) == schema_of(two) and schema_of(one) is not schema_of(two)
