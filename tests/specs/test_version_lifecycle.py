"""A draft before it is published: its clauses listed for review, publishing behind a
confirmation, and a discard action for drafts only."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse

from clausebook.models import AuditEvent
from specs import services
from specs.models import Clause, Example, SpecVersion
from tests.spec_facts import NEWEST

pytestmark = pytest.mark.django_db

WS = "policy-team"


def url(name: str, label: str = NEWEST.label) -> str:
    return reverse(f"specs:{name}", args=[WS, "model-spec", label])


# --- The draft page -----------------------------------------------------------------------


def test_the_draft_page_lists_every_clause_with_its_examples_and_eval_prompts(
    load_version, personas
) -> None:
    version = load_version(NEWEST.label, publish=False)
    html = personas.client_for(personas.viewer).get(url("version-detail")).content.decode()
    tree = html[
        html.index('data-testid="clause-tree"') : html.index("</ul>", html.index("clause-tree"))
    ]
    assert tree.count("<li ") == NEWEST.clauses
    for clause in Clause.objects.filter(version=version).order_by("position"):
        assert f"/c/{clause.key}/" in tree
    privacy = Clause.objects.get(version=version, key="protect_privacy")
    examples = Example.objects.filter(clause=privacy).count()
    row = tree[tree.index("/c/protect_privacy/") :]
    row = row[: row.index("</li>")]
    assert f'<span data-testid="examples">{examples}</span> example' in row
    assert f"Check its {NEWEST.clauses} clauses below" in html


def test_a_published_version_page_keeps_its_short_section_list(load_version, personas) -> None:
    load_version(NEWEST.label)
    html = personas.client_for(personas.viewer).get(url("version-detail")).content.decode()
    assert 'data-testid="clause-tree"' not in html
    assert "<h2>Sections</h2>" in html


# --- Publishing asks first ----------------------------------------------------------------


def test_the_publish_button_opens_a_confirmation_step(load_version, personas) -> None:
    load_version(NEWEST.label, publish=False)
    client = personas.client_for(personas.editor)
    page = client.get(url("version-detail")).content.decode()
    assert f'href="{url("version-publish")}" data-testid="publish"' in page
    response = client.get(url("version-publish"))
    html = response.content.decode()
    assert response.status_code == 200
    assert f"Publish version {NEWEST.label}?" in html
    assert f"its {NEWEST.clauses} clauses" in html
    assert '<input type="checkbox" name="confirm" id="id_confirm" required>' in html
    assert SpecVersion.objects.get(label=NEWEST.label).status == "draft"


def test_publishing_without_the_ticked_box_publishes_nothing(load_version, personas) -> None:
    load_version(NEWEST.label, publish=False)
    response = personas.client_for(personas.editor).post(url("version-publish"))
    assert response.status_code == 400
    assert b"Tick the box to confirm; this cannot be undone." in response.content
    assert SpecVersion.objects.get(label=NEWEST.label).status == "draft"
    assert not AuditEvent.objects.filter(verb="spec_version.publish").exists()


def test_a_confirmed_publish_freezes_the_version(load_version, personas) -> None:
    load_version(NEWEST.label, publish=False)
    client = personas.client_for(personas.editor)
    response = client.post(url("version-publish"), {"confirm": "on"})
    assert response.status_code == 302
    assert SpecVersion.objects.get(label=NEWEST.label).status == "published"
    assert client.get(url("version-publish")).status_code == 302  # nothing left to confirm


def test_a_viewer_may_not_reach_the_publish_or_discard_step(load_version, personas) -> None:
    load_version(NEWEST.label, publish=False)
    client = personas.client_for(personas.viewer)
    for name in ("version-publish", "version-discard"):
        assert client.get(url(name)).status_code == 403
        assert client.post(url(name), {"confirm": "on"}).status_code == 403
    assert SpecVersion.objects.get(label=NEWEST.label).status == "draft"
    page = client.get(url("version-detail")).content.decode()
    assert 'data-testid="publish"' not in page
    assert 'data-testid="discard"' not in page


# --- Discarding a draft -------------------------------------------------------------------


def test_an_editor_discards_a_draft_after_confirming(load_version, personas) -> None:
    version = load_version(NEWEST.label, publish=False)
    client = personas.client_for(personas.editor)
    assert f'href="{url("version-discard")}" data-testid="discard"' in (
        client.get(url("version-detail")).content.decode()
    )
    step = client.get(url("version-discard")).content.decode()
    assert f"Discard draft {NEWEST.label}?" in step
    assert client.post(url("version-discard")).status_code == 400  # box not ticked
    assert SpecVersion.objects.filter(pk=version.pk).exists()

    response = client.post(url("version-discard"), {"confirm": "on"})
    assert response.status_code == 302
    assert response["Location"] == reverse("specs:spec-detail", args=[WS, "model-spec"])
    assert not SpecVersion.objects.filter(pk=version.pk).exists()
    assert not Clause.objects.filter(version_id=version.pk).exists()
    event = AuditEvent.objects.get(verb="spec_version.discard")
    assert (event.actor, event.target_id) == (personas.editor, str(version.pk))
    assert (
        f"Draft {NEWEST.label} was discarded." in client.get(response["Location"]).content.decode()
    )


def test_a_published_version_cannot_be_discarded(load_version, personas) -> None:
    version = load_version(NEWEST.label)
    client = personas.client_for(personas.editor)
    page = client.get(url("version-detail")).content.decode()
    assert 'data-testid="discard"' not in page
    response = client.post(url("version-discard"), {"confirm": "on"}, follow=True)
    assert "is published and cannot be discarded" in response.content.decode()
    assert SpecVersion.objects.filter(pk=version.pk, status="published").exists()
    with pytest.raises(services.VersionNotDraft):
        services.spec_version_discard(version=version, actor=personas.editor)
    # Whatever the path, the database refuses too.
    with (
        pytest.raises(IntegrityError, match="published spec version"),
        transaction.atomic(),
    ):
        SpecVersion.objects.filter(pk=version.pk).delete()
    assert not AuditEvent.objects.filter(verb="spec_version.discard").exists()


def test_another_workspace_cannot_discard_the_draft(load_version, personas) -> None:
    version = load_version(NEWEST.label, publish=False)
    response = personas.client_for(personas.outsider).post(
        url("version-discard"), {"confirm": "on"}
    )
    assert response.status_code == 404
    assert SpecVersion.objects.filter(pk=version.pk).exists()
