"""The API reference page renders the generated document with Swagger UI (local files only)."""

from __future__ import annotations


def test_api_docs_page_renders_every_area(page, shot):
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto("/api/docs")
    page.locator(".swagger-ui .info .title").filter(has_text="labelfab API").wait_for()
    shot(page, "api-docs-top")
    tags = page.locator(".swagger-ui .opblock-tag").all_inner_texts()
    assert {"tasks", "projects", "annotating", "export", "quality"} <= {t.split("\n")[0].strip() for t in tags}
    # the areas start closed (docExpansion "none": 21 areas, about 150 operations); an area opens on a
    # click, and one of its operations opens and lists its parameters
    page.locator('.swagger-ui .opblock-tag[data-tag="tasks"]').click()
    page.locator("#operations-tasks-list_tasks_get .opblock-summary").click()
    page.locator("#operations-tasks-list_tasks_get .parameters").get_by_text("page_size").first.wait_for()
    shot(page, "api-docs")
    foreign = [u for u in requests if not u.startswith((page.base, "data:"))]
    assert requests and not foreign, foreign  # Swagger UI and its CSS come from web/static/vendor
