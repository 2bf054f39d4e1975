"""Workspace settings (issue 12: the number of approvals an amendment needs is a workspace
setting, default 1): admins change it on the members page and through the API; nobody else."""

from __future__ import annotations

import pytest

from clausebook.models import AuditEvent, Workspace

pytestmark = pytest.mark.django_db


def _api(personas):  # type: ignore[no-untyped-def]
    return f"/api/v1/workspaces/{personas.workspace.slug}/"


def test_an_admin_sets_how_many_approvals_an_amendment_needs(personas) -> None:
    client = personas.client_for(personas.owner)
    page = client.get(f"/w/{personas.workspace.slug}/members/").content.decode()
    assert 'name="amendment_approvals_required"' in page and 'value="1"' in page
    response = client.post(
        f"/w/{personas.workspace.slug}/settings/", {"amendment_approvals_required": "2"}
    )
    assert response.status_code == 302
    assert Workspace.objects.get(pk=personas.workspace.pk).amendment_approvals_required == 2
    assert AuditEvent.objects.filter(verb="workspace.settings").count() == 1
    assert client.get(_api(personas)).json()["amendment_approvals_required"] == 2


def test_out_of_range_is_refused_saying_so(personas) -> None:
    client = personas.client_for(personas.owner)
    response = client.patch(
        _api(personas), {"amendment_approvals_required": 0}, content_type="application/json"
    )
    assert response.status_code == 400
    assert "1 to 10" in response.json()["amendment_approvals_required"][0]
    page = client.post(
        f"/w/{personas.workspace.slug}/settings/",
        {"amendment_approvals_required": "11"},
        follow=True,
    )
    assert "1 to 10" in page.content.decode()
    assert Workspace.objects.get(pk=personas.workspace.pk).amendment_approvals_required == 1


def test_an_editor_cannot_change_settings_and_an_outsider_gets_404(personas) -> None:
    editor = personas.client_for(personas.editor)
    body = {"amendment_approvals_required": 3}
    assert editor.patch(_api(personas), body, content_type="application/json").status_code == 403
    assert editor.post(f"/w/{personas.workspace.slug}/settings/", body).status_code == 403
    outsider = personas.client_for(personas.outsider)
    assert outsider.patch(_api(personas), body, content_type="application/json").status_code == 404
    assert Workspace.objects.get(pk=personas.workspace.pk).amendment_approvals_required == 1
