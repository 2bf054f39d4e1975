"""Who is asking, resolved per request: the token and membership lookups are hand-written
statements (clausebook.api_auth, clausebook.access), so they must read exactly what the ORM
did and never remember a token, a member or a role past the request that read it."""

import orjson
import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.renderers import JSONRenderer

from clausebook import services
from clausebook.access import get_membership
from clausebook.api_auth import active_token
from clausebook.models import ApiToken, Membership, Role
from clausebook.renderers import ORJSONRenderer

pytestmark = pytest.mark.django_db


def _bearer(raw: str) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Bearer {raw}")


def test_the_token_lookup_reads_the_token_and_its_user_as_the_orm_does(personas):
    token, raw = services.api_token_create(user=personas.reviewer, name="script")
    found = active_token(ApiToken.hash_token(raw))
    assert found is not None
    assert found.pk == token.pk and found.user.pk == personas.reviewer.pk
    orm = ApiToken.objects.select_related("user").get(pk=token.pk)
    for name in ("name", "token_hash", "hint", "created_at", "last_used_at", "revoked_at"):
        assert getattr(found, name) == getattr(orm, name), name
    assert found.created_at.utcoffset() is not None, "aware, as the ORM reads it"
    for name in ("email", "is_active", "is_staff", "password", "date_joined"):
        assert getattr(found.user, name) == getattr(orm.user, name), name
    assert not found._state.adding, "a loaded row: saving it updates, never inserts"
    assert active_token(ApiToken.hash_token(raw + "x")) is None


def test_a_token_revoked_between_two_requests_fails_on_the_second(personas):
    token, raw = services.api_token_create(user=personas.reviewer, name="script")
    script = _bearer(raw)
    assert script.get(reverse("api-me")).status_code == 200
    personas.client_for(personas.reviewer).post(reverse("api-token-revoke", args=[token.pk]))
    assert script.get(reverse("api-me")).status_code == 401
    assert active_token(token.token_hash) is None


def test_a_deactivated_users_token_fails_on_the_next_request(personas):
    _, raw = services.api_token_create(user=personas.reviewer, name="script")
    script = _bearer(raw)
    assert script.get(reverse("api-me")).status_code == 200
    personas.reviewer.is_active = False
    personas.reviewer.save(update_fields=["is_active"])
    assert script.get(reverse("api-me")).status_code == 401


def test_the_membership_lookup_reads_the_membership_and_its_workspace(personas):
    found = get_membership(personas.editor, "policy-team")
    orm = Membership.objects.select_related("workspace").get(
        user=personas.editor, workspace=personas.workspace
    )
    assert (found.pk, found.role, found.user_id, found.created_at) == (
        orm.pk,
        orm.role,
        orm.user_id,
        orm.created_at,
    )
    assert found.workspace.pk == personas.workspace.pk
    for name in ("slug", "name", "description", "created_at", "amendment_approvals_required"):
        assert getattr(found.workspace, name) == getattr(orm.workspace, name), name
    assert not found._state.adding and not found.workspace._state.adding


def test_a_role_change_and_a_removal_count_on_the_very_next_request(personas):
    """The editor's token keeps its connection and client; each change of the membership is
    what the next request sees: 200 as admin, 403 once demoted, 404 once removed."""
    _, raw = services.api_token_create(user=personas.editor, name="script")
    script = _bearer(raw)
    viewer = Membership.objects.get(workspace=personas.workspace, user=personas.viewer)
    url = reverse("api-member-detail", args=["policy-team", viewer.pk])
    as_json = {"content_type": "application/json"}
    assert script.patch(url, {"role": "viewer"}, **as_json).status_code == 403
    editor = Membership.objects.get(workspace=personas.workspace, user=personas.editor)
    owner = personas.client_for(personas.owner)
    admin_url = reverse("api-member-detail", args=["policy-team", editor.pk])
    assert owner.patch(admin_url, {"role": "admin"}, **as_json).status_code == 200
    assert script.patch(url, {"role": "reviewer"}, **as_json).status_code == 200
    assert owner.patch(admin_url, {"role": "editor"}, **as_json).status_code == 200
    assert script.patch(url, {"role": "viewer"}, **as_json).status_code == 403
    viewer.refresh_from_db()
    assert viewer.role == Role.REVIEWER, "the refused write changed nothing"
    Membership.objects.filter(pk=editor.pk).delete()
    assert script.get(reverse("api-workspace-detail", args=["policy-team"])).status_code == 404


def test_an_unknown_workspace_and_a_foreign_one_are_both_404(personas):
    _, raw = services.api_token_create(user=personas.editor, name="script")
    script = _bearer(raw)
    assert script.get(reverse("api-workspace-detail", args=["policy-team"])).status_code == 200
    assert script.get(reverse("api-workspace-detail", args=["other-org"])).status_code == 404
    assert script.get(reverse("api-workspace-detail", args=["no-such-org"])).status_code == 404


def test_the_orjson_renderer_writes_what_drfs_json_renderer_writes():
    """Label-and-next answers through orjson: a transcript's text, line separators included,
    reaches a JavaScript client exactly as through DRF's renderer."""
    data = {
        "messages": [{"role": "user", "content": 'Zeile\u2028zwei\u2029drei — «été» 中文 "q"\n'}],
        "ids": [1, 2, 3],
        "none": None,
        "flag": True,
        "updated_at": "2026-12-01T15:24:14.524389+00:00",
    }
    ours, drf = ORJSONRenderer().render(data), JSONRenderer().render(data)
    assert ours == drf
    assert b"\\u2028" in ours and "\u2028".encode() not in ours
    assert orjson.loads(ours) == data
