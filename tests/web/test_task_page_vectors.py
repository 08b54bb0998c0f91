"""The task page hands polygons, ellipses, key points and brush masks to the labeling page's
widgets (read-only workspaces, mode "view") and names every region in words; it draws none
itself."""

from __future__ import annotations

from labeling import annotations, router
from labeling.models import Role
from tests.conftest import login
from tests.web.test_annotate_views import make_project, task_views

XML = """<View><Image name="image" value="$image"/>
<PolygonLabels name="poly" toName="image"><Label value="Car"/></PolygonLabels>
<EllipseLabels name="ell" toName="image"><Label value="Wheel"/></EllipseLabels>
<KeyPointLabels name="kp" toName="image"><Label value="Nose"/></KeyPointLabels>
<BrushLabels name="br" toName="image"><Label value="Road"/></BrushLabels></View>"""


def test_task_page_shows_vector_regions(client, lead, annotator, make_user):
    import numpy as np
    from label_studio_sdk.converter.brush import mask2rle

    project = make_project(lead, XML, [{"image": "https://example.com/a.png"}], overlap=1)
    task = router.next_task(project.id, annotator.user)
    size = {"to_name": "image", "original_width": 4, "original_height": 2, "image_rotation": 0}
    result = [
        {**size, "id": "p1", "from_name": "poly", "type": "polygonlabels",
         "value": {"points": [[10, 20], [40, 20], [25, 60]], "closed": True, "polygonlabels": ["Car"]}},
        {**size, "id": "e1", "from_name": "ell", "type": "ellipselabels",
         "value": {"x": 50, "y": 50, "radiusX": 10, "radiusY": 5, "rotation": 0, "ellipselabels": ["Wheel"]}},
        {**size, "id": "k1", "from_name": "kp", "type": "keypointlabels", "value": {"x": 70, "y": 30, "width": 1,
                                                                                    "keypointlabels": ["Nose"]}},
        {**size, "id": "b1", "from_name": "br", "type": "brushlabels",
         "value": {"format": "rle", "rle": mask2rle(np.full((2, 4), 255, dtype=np.uint8)), "brushlabels": ["Road"]}},
    ]
    ann, _ = annotations.submit(task.id, annotator.user, result=result)
    login(client, make_user("rev@example.com", Role.reviewer).email)
    body = client.get(f"/projects/{project.id}/tasks/{task.id}").get_data(as_text=True)
    assert task_views(body)["results"] == {f"annotation-{ann.id}": result}
    assert f'data-task-view="annotation-{ann.id}"' in body
    label = body[body.index("data-label-text>"):].split("</p>")[0]
    for name in ("Car", "Wheel", "Nose", "Road"):
        assert name in label
    assert "<svg class=\"task-shapes\"" not in body and "<polygon" not in body.split('<template id="task-workspace">')[0]
    assert "Empty result." not in body
