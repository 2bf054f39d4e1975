"""One permission map decides each role's rights; pages, API, navigation and the user guide agree.

On 0a5a311 the navigation offered viewers Transcripts and My queue, both a bare 403, while the
user guide said viewers read transcripts.
"""

from __future__ import annotations

import re

import pytest
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.test import RequestFactory
from django.urls import reverse

from clausebook import permissions
from clausebook.access import workspace_member
from clausebook.models import Membership, Role
from tests.conftest import ROOT
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

GUIDE = ROOT / "docs" / "USER_GUIDE.md"
ROW = re.compile(r"^\| `(?P<name>[a-z_]+\.[a-z_]+)` \| (?P<label>[^|]+) \| (?P<role>[a-z]+) \|$")


def _guide_table() -> dict[str, tuple[str, str]]:
    text = GUIDE.read_text()
    section = text[text.index("### Roles") :]
    section = section[: section.index("\n## ")]
    rows = {}
    for line in section.splitlines():
        match = ROW.match(line)
        if match:
            rows[match["name"]] = (match["label"].strip(), match["role"])
    return rows


def test_the_user_guides_roles_table_is_the_permission_map() -> None:
    table = _guide_table()
    expected = {
        name: (right.label, right.role.label.lower())
        for name, right in permissions.PERMISSIONS.items()
    }
    assert table == expected, "docs/USER_GUIDE.md's Roles table must list the map as it is"
    assert list(table) == list(permissions.PERMISSIONS), "in the map's order"


def test_the_map_covers_what_the_next_issues_add_and_every_role_has_a_use() -> None:
    names = set(permissions.PERMISSIONS)
    for needed in (
        "threads.comment",
        "gold.adjudicate",
        "gold.export",
        "endpoints.manage",
        "reruns.run",
        "judges.run",
        "members.manage",
        "queue.view",
        "transcripts.read",
    ):
        assert needed in names
    assert {right.role for right in permissions.PERMISSIONS.values()} == set(Role)


def test_importing_and_rerunning_need_a_role_that_cannot_publish_specs() -> None:
    publish = permissions.role_for("specs.publish")
    for name in ("transcripts.import", "reruns.run", "judges.run"):
        assert permissions.role_for(name) < publish, name
    assert permissions.role_for("transcripts.read") == Role.VIEWER


def _membership(personas, user) -> Membership:  # type: ignore[no-untyped-def]
    return Membership.objects.get(workspace=personas.workspace, user=user)


def test_can_answers_from_the_map_for_each_role(personas) -> None:
    viewer = _membership(personas, personas.viewer)
    reviewer = _membership(personas, personas.reviewer)
    assert permissions.can(viewer, "transcripts.read")
    assert not permissions.can(viewer, "queue.view")
    assert permissions.can(reviewer, "queue.view")
    assert not permissions.can(None, "specs.read")
    with pytest.raises(
        PermissionDenied, match=r"needs the admin role or higher\. It lets a member invite"
    ):
        permissions.require(_membership(personas, personas.editor), "members.manage")
    with pytest.raises(KeyError, match="Unknown permission 'queue.veiw'"):
        permissions.can(viewer, "queue.veiw")


def _nav(html: str) -> list[str]:
    nav = html[html.index('aria-label="Workspace"') : html.index("</nav>")]
    return re.findall(r">([^<>]+)</a>", nav)


def test_a_viewers_navigation_offers_only_what_answers(personas) -> None:
    client = personas.client_for(personas.viewer)
    page = client.get(reverse("workspace-dashboard", args=["policy-team"])).content.decode()
    links = _nav(page)
    assert "Transcripts" in links and "Specs" in links and "Campaigns" in links
    assert "My queue" not in links and "Members" not in links
    assert (
        client.get(reverse("transcripts:transcript-list", args=["policy-team"])).status_code == 200
    )
    assert client.get(reverse("reviews:queue", args=["policy-team"])).status_code == 403


def test_a_reviewer_gets_the_queue_and_an_admin_the_members(personas) -> None:
    dashboard = reverse("workspace-dashboard", args=["policy-team"])
    reviewer = _nav(personas.client_for(personas.reviewer).get(dashboard).content.decode())
    assert "My queue" in reviewer and "Members" not in reviewer
    owner = _nav(personas.client_for(personas.owner).get(dashboard).content.decode())
    assert "My queue" in owner and "Members" in owner


def test_the_api_lets_viewers_read_transcripts(personas) -> None:
    url = reverse("api-transcript-list", args=["policy-team"])
    assert personas.client_for(personas.viewer).get(url).status_code == 200


def test_workspace_member_takes_a_permission_name(personas) -> None:
    @workspace_member(permission="members.manage")
    def view(request):  # type: ignore[no-untyped-def]
        return HttpResponse("ok")

    def call(user):  # type: ignore[no-untyped-def]
        request = RequestFactory().get("/")
        request.user = user
        return view(request, workspace="policy-team")

    assert call(personas.owner).content == b"ok"
    with pytest.raises(PermissionDenied, match=r"admin role or higher"):
        call(personas.editor)
    with pytest.raises(KeyError):
        workspace_member(permission="no.such")


def test_the_members_page_refuses_an_editor_naming_the_right(personas) -> None:
    response = personas.client_for(personas.editor).get(
        reverse("workspace-members", args=["policy-team"])
    )
    assert response.status_code == 403


def test_a_removed_member_sees_no_navigation_for_the_workspace(personas) -> None:
    stranger = UserFactory(email="nobody@policy.test")
    response = personas.client_for(stranger).get(
        reverse("workspace-dashboard", args=["policy-team"])
    )
    assert response.status_code == 404
