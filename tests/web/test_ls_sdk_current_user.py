"""Label Studio's calls about the caller with the real ``label-studio-sdk`` against a live labelfab:
``users.get_token`` (the key the request carries: labelfab stores only hashes), ``users.reset_token``
(a new key; the old one stops working, the caller's other tokens stay)."""

from __future__ import annotations

import pytest
from label_studio_sdk.client import LabelStudio
from label_studio_sdk.core.api_error import ApiError

from labeling import users
from labeling.models import Role
from tests.conftest import login


def test_get_token_answers_the_key_the_request_carries(live_server, make_user):
    lead = make_user("token-lead@example.com", Role.lead)
    assert LabelStudio(base_url=live_server.url, api_key=lead.token).users.get_token().token == lead.token


def test_get_token_signed_in_through_the_browser_has_no_key_to_show(client, lead):
    login(client, lead.email)
    r = client.get("/api/current-user/token")
    assert r.status_code == 404 and "reset-token" in r.get_json()["detail"]


def test_reset_token_makes_a_new_key_and_ends_the_one_it_was_called_with(live_server, make_user):
    lead = make_user("reset-lead@example.com", Role.lead)
    pipeline = users.create_token(lead.id, scope="read")
    ls = LabelStudio(base_url=live_server.url, api_key=lead.token)
    new = ls.users.reset_token().token
    assert new != lead.token and len(new) == 40
    with pytest.raises(ApiError) as err:
        ls.users.whoami()
    assert err.value.status_code == 401  # the old key is revoked
    renewed = LabelStudio(base_url=live_server.url, api_key=new)
    assert renewed.users.whoami().email == lead.email and renewed.users.get_token().token == new
    assert LabelStudio(base_url=live_server.url, api_key=pipeline).users.whoami().id == lead.id  # other tokens stay


def test_hotkeys_are_kept_checked_and_shown_as_label_studio_keeps_them(live_server, make_user):
    ann = make_user("hotkeys-ann@example.com", Role.annotator)
    ls = LabelStudio(base_url=live_server.url, api_key=ann.token)
    assert ls.users.get_hotkeys().custom_hotkeys == {}
    mine = {"annotation:submit": {"key": "ctrl+enter"}, "regions:delete": {"key": "shift+backspace", "active": False}}
    assert ls.users.update_hotkeys(custom_hotkeys=mine).custom_hotkeys == mine
    assert ls.users.get_hotkeys().custom_hotkeys == mine and ls.users.whoami().custom_hotkeys == mine
    for bad in ({"submit": {"key": "ctrl+enter"}}, {"app:quit": {"key": "alt+f4"}}, {"a:b": {"active": True}},
                {"a:b": {"key": "ctrl+\u00e9"}}, {f"a:{i}": {"key": "x"} for i in range(201)}):
        with pytest.raises(ApiError) as err:
            ls.users.update_hotkeys(custom_hotkeys=bad)
        assert err.value.status_code == 400 and "Invalid hotkeys configuration" in err.value.body["detail"]
    assert ls.users.get_hotkeys().custom_hotkeys == mine  # a refused change changes nothing
