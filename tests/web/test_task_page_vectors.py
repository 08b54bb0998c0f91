"""The task page draws polygons, ellipses and key points over the image (an SVG in percent of
the image) and lists every region, brush masks included, with its labels."""

from __future__ import annotations

from labeling import annotations, router
from labeling.models import Role
from tests.conftest import login
from tests.web.test_annotate_views import make_project

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
        {**size, "from_name": "poly", "type": "polygonlabels",
         "value": {"points": [[10, 20], [40, 20], [25, 60]], "closed": True, "polygonlabels": ["Car"]}},
        {**size, "from_name": "ell", "type": "ellipselabels",
         "value": {"x": 50, "y": 50, "radiusX": 10, "radiusY": 5, "rotation": 0, "ellipselabels": ["Wheel"]}},
        {**size, "from_name": "kp", "type": "keypointlabels", "value": {"x": 70, "y": 30, "width": 1,
                                                                        "keypointlabels": ["Nose"]}},
        {**size, "from_name": "br", "type": "brushlabels",
         "value": {"format": "rle", "rle": mask2rle(np.full((2, 4), 255, dtype=np.uint8)), "brushlabels": ["Road"]}},
    ]
    annotations.submit(task.id, annotator.user, result=result)
    login(client, make_user("rev@example.com", Role.reviewer).email)
    body = client.get(f"/projects/{project.id}/tasks/{task.id}").get_data(as_text=True)
    assert '<polygon points="10.000,20.000 40.000,20.000 25.000,60.000">' in body
    assert '<ellipse cx="50.000" cy="50.000" rx="10.000" ry="5.000"' in body
    assert '<circle cx="70.000" cy="30.000"' in body
    for shown in ("Car <span class=\"muted\">(polygon)", "Wheel <span class=\"muted\">(ellipse)",
                  "Nose <span class=\"muted\">(key point)", "Road <span class=\"muted\">(brush mask)"):
        assert shown in body
    assert "Empty result." not in body
