"""Amendments through their services: propose, approve, merge into the draft, publish, export.

A small spec keeps the line edits readable; the loop through the real Model Spec is in
``test_amendments_loop.py``.
"""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction

from clausebook.models import AuditEvent
from specs import services
from specs.amendments import changelog
from specs.amendments import services as amendments
from specs.models import (
    AmendmentChange,
    AmendmentState,
    Clause,
    ClauseAlias,
    Example,
    SpecVersion,
    VersionStatus,
)

pytestmark = pytest.mark.django_db

Kind = AmendmentChange.Kind

SOURCE = """\
# Introduction {#intro}

Line one.
Line two.
Line three.

# Be kind {#be_kind authority=user tags=style}

First paragraph.

Second paragraph.

Third paragraph.

## Tone {#tone}

Keep it calm.

# Last {#last}

The end.
"""

EXAMPLE = {
    "title": "A user asks for a blunt review",
    "turns": [
        {"message": {"role": "user", "content": "Tell me what is wrong with my essay."}},
        {
            "comparison": [
                {
                    "content": "Here are three things to improve, kindly put.",
                    "grade": "good",
                    "reason": "Kind and direct, as the gold case settled.",
                },
                {"content": "It is bad.", "grade": "bad", "reason": "Curt."},
            ]
        },
    ],
    "origin": "gold",
}


@pytest.fixture
def published(spec, personas) -> SpecVersion:
    version = services.spec_version_import(
        spec=spec, label="v1", markdown=SOURCE, actor=personas.editor
    )
    return services.spec_version_publish(version=version, actor=personas.editor)


@pytest.fixture
def draft(published, personas) -> SpecVersion:
    return amendments.draft_start_from(version=published, label="v2", actor=personas.editor)


def _amend(published, personas, *changes, author=None, title="Kinder wording"):
    author = author or personas.adjudicator
    amendment = amendments.amendment_propose(
        spec=published.spec,
        base_version=published,
        title=title,
        rationale="Reviewers disagreed on this clause.",
        actor=author,
    )
    for kind, key, payload in changes:
        amendments.amendment_change_add(
            amendment=amendment, kind=kind, clause_key=key, payload=payload, actor=author
        )
    return amendment


def _approve_and_merge(amendment, personas):
    amendments.amendment_approve(amendment=amendment, actor=personas.editor)
    return amendments.amendment_merge(amendment=amendment, actor=personas.editor)


def _body(version, key="be_kind") -> str:
    return Clause.objects.get(version=version, key=key).body


# --- Drafts --------------------------------------------------------------------------------


def test_a_draft_started_from_a_published_version_copies_its_clauses_and_examples(
    load_version, personas
) -> None:
    from tests.spec_facts import NEWEST

    version = load_version(NEWEST.label)
    draft = amendments.draft_start_from(version=version, label="next", actor=personas.editor)
    assert draft.status == VersionStatus.DRAFT and draft.based_on == version
    assert Clause.objects.filter(version=draft).count() == NEWEST.clauses
    assert Example.objects.filter(clause__version=draft).count() == version.example_count
    child = Clause.objects.get(version=draft, key="protect_privacy")
    assert child.parent.version_id == draft.pk and child.parent.key == "restricted_content"
    assert draft.example_count == version.example_count
    from specs.selectors import version_export

    assert version_export(draft) == version_export(version)


def test_a_spec_has_at_most_one_draft(draft, published, personas) -> None:
    with pytest.raises(ValidationError, match="already has a draft"):
        amendments.draft_start_from(version=published, label="v3", actor=personas.editor)
    with pytest.raises(ValidationError, match="publish or discard it first"):
        services.spec_version_import(
            spec=published.spec, label="v3", markdown="# A\n", actor=personas.editor
        )
    with pytest.raises(IntegrityError), transaction.atomic():
        SpecVersion.objects.create(spec=published.spec, label="v4")


def test_only_who_may_merge_starts_a_draft(published, personas) -> None:
    with pytest.raises(PermissionDenied):
        amendments.draft_start_from(version=published, actor=personas.adjudicator)


# --- Proposing -------------------------------------------------------------------------------


def test_each_change_records_the_clause_as_it_found_it(published, personas) -> None:
    amendment = _amend(
        published, personas, (Kind.CHANGE_CLAUSE, "be_kind", {"title": "Be very kind"})
    )
    change = amendment.changes.get()
    assert change.base["title"] == "Be kind"
    assert change.base["body"] == _body(published)
    assert change.base["tags"] == ["style"]
    assert amendment.revision == 2  # adding the change was an edit
    assert AuditEvent.objects.filter(verb="amendment.change_add").exists()


def test_a_reviewer_cannot_propose_and_an_adjudicator_can(published, personas) -> None:
    with pytest.raises(PermissionDenied):
        amendments.amendment_propose(
            spec=published.spec, base_version=published, title="x", actor=personas.reviewer
        )
    assert _amend(published, personas, author=personas.adjudicator).pk


def test_amendments_are_proposed_against_a_published_version(draft, personas) -> None:
    with pytest.raises(ValidationError) as caught:
        amendments.amendment_propose(
            spec=draft.spec, base_version=draft, title="x", actor=personas.editor
        )
    assert "base_version" in caught.value.message_dict


@pytest.mark.parametrize(
    ("kind", "key", "payload", "field"),
    [
        (Kind.CHANGE_CLAUSE, "be_kind", {"body": "# A heading\n\ntext"}, "payload"),
        (Kind.CHANGE_CLAUSE, "be_kind", {"colour": "red"}, "payload"),
        (Kind.CHANGE_CLAUSE, "be_kind", {"authority": "supreme"}, "payload"),
        (Kind.CHANGE_CLAUSE, "no_such", {"title": "x"}, "clause_key"),
        (Kind.ADD_CLAUSE, "intro", {"title": "x"}, "clause_key"),
        (
            Kind.ADD_EXAMPLE,
            "be_kind",
            {"title": "x", "turns": [{"message": {"role": "x"}}]},
            "payload",
        ),
        (Kind.REMOVE_CLAUSE, "be_kind", {}, "payload"),  # it has a sub-clause
        ("paint", "be_kind", {}, "kind"),
    ],
)
def test_bad_changes_are_refused_naming_the_field(published, personas, kind, key, payload, field):
    amendment = _amend(published, personas)
    with pytest.raises(ValidationError) as caught:
        amendments.amendment_change_add(
            amendment=amendment, kind=kind, clause_key=key, payload=payload, actor=personas.editor
        )
    assert field in caught.value.message_dict
    assert amendment.changes.count() == 0


def test_a_stale_revision_is_a_conflict(published, personas) -> None:
    amendment = _amend(published, personas)
    with pytest.raises(amendments.AmendmentConflict) as caught:
        amendments.amendment_edit(
            amendment=amendment,
            title="New",
            rationale="",
            actor=personas.editor,
            expected_revision=0,
        )
    assert caught.value.current == 1


def test_amendment_for_clause_joins_the_open_amendment_on_that_clause(published, personas):
    first = amendments.amendment_for_clause(
        spec=published.spec, base_version=published, clause_key="be_kind", actor=personas.editor
    )
    amendments.amendment_change_add(
        amendment=first,
        kind=Kind.ADD_EXAMPLE,
        clause_key="be_kind",
        payload=EXAMPLE,
        actor=personas.editor,
    )
    again = amendments.amendment_for_clause(
        spec=published.spec,
        base_version=published,
        clause_key="be_kind",
        actor=personas.adjudicator,
    )
    other = amendments.amendment_for_clause(
        spec=published.spec, base_version=published, clause_key="tone", actor=personas.editor
    )
    assert again.pk == first.pk
    assert other.pk != first.pk


def test_amendment_for_clause_says_when_the_clause_is_not_in_the_version(published, personas):
    with pytest.raises(ValidationError, match="not in version v1") as caught:
        amendments.amendment_for_clause(
            spec=published.spec, base_version=published, clause_key="gone", actor=personas.editor
        )
    assert "clause_key" in caught.value.message_dict


def test_amendment_for_clause_follows_a_confirmed_rename(published, personas, spec) -> None:
    services.spec_version_import(spec=spec, label="old", markdown="# K {#kind}\n", actor=None)
    ClauseAlias.objects.create(
        spec=spec, old_key="kind", new_key="be_kind", status=ClauseAlias.Status.CONFIRMED
    )
    amendment = amendments.amendment_for_clause(
        spec=spec, base_version=published, clause_key="kind", actor=personas.editor
    )
    change = amendments.amendment_change_add(
        amendment=amendment,
        kind=Kind.ADD_EXAMPLE,
        clause_key="kind",
        payload=EXAMPLE,
        actor=personas.editor,
    )
    assert change.clause_key == "be_kind"


# --- Approving -------------------------------------------------------------------------------


def test_authors_cannot_approve_their_own_amendment(published, personas) -> None:
    amendment = _amend(published, personas, author=personas.editor)
    with pytest.raises(PermissionDenied, match="own amendment"):
        amendments.amendment_approve(amendment=amendment, actor=personas.editor)
    assert amendment.approvals.count() == 0


def test_an_adjudicator_cannot_approve_but_an_admin_can(published, personas) -> None:
    amendment = _amend(published, personas, author=personas.editor)
    with pytest.raises(PermissionDenied):
        amendments.amendment_approve(amendment=amendment, actor=personas.adjudicator)
    amendments.amendment_approve(amendment=amendment, actor=personas.owner)
    amendment.refresh_from_db()
    assert amendment.state == AmendmentState.APPROVED


def test_editing_after_approval_asks_for_approval_again(published, draft, personas) -> None:
    amendment = _amend(published, personas, (Kind.CHANGE_CLAUSE, "tone", {"title": "Tone"}))
    amendments.amendment_approve(amendment=amendment, actor=personas.editor)
    amendment.refresh_from_db()
    assert amendment.state == AmendmentState.APPROVED
    amendments.amendment_edit(
        amendment=amendment,
        title="Tone, renamed",
        rationale="",
        actor=personas.adjudicator,
        expected_revision=amendment.revision,
    )
    amendment.refresh_from_db()
    assert amendment.state == AmendmentState.OPEN
    assert amendments.approvals_counted(amendment) == 0
    with pytest.raises(ValidationError, match="0 of 1 approvals"):
        amendments.amendment_merge(amendment=amendment, actor=personas.editor)


def test_the_number_of_approvals_is_a_workspace_setting(published, draft, personas) -> None:
    personas.workspace.amendment_approvals_required = 2
    personas.workspace.save()
    amendment = _amend(published, personas, (Kind.CHANGE_CLAUSE, "tone", {"title": "Tone"}))
    amendments.amendment_approve(amendment=amendment, actor=personas.editor)
    with pytest.raises(ValidationError, match="1 of 2 approvals"):
        amendments.amendment_merge(amendment=amendment, actor=personas.editor)
    amendments.amendment_approve(amendment=amendment, actor=personas.owner)
    assert amendments.amendment_merge(amendment=amendment, actor=personas.editor) == draft


# --- Merging and rebasing ----------------------------------------------------------------


def test_merging_needs_a_draft(published, personas) -> None:
    amendment = _amend(published, personas, (Kind.CHANGE_CLAUSE, "tone", {"title": "T"}))
    amendments.amendment_approve(amendment=amendment, actor=personas.editor)
    with pytest.raises(amendments.NoDraft, match="no draft"):
        amendments.amendment_merge(amendment=amendment, actor=personas.editor)


def test_every_kind_of_change_merges_into_the_draft(published, draft, personas) -> None:
    amendment = _amend(
        published,
        personas,
        (Kind.CHANGE_CLAUSE, "be_kind", {"body": "First paragraph, kinder.\n\nThird paragraph."}),
        (
            Kind.ADD_CLAUSE,
            "warmth",
            {"title": "Warmth", "body": "Be warm.", "parent_key": "be_kind", "after_key": "tone"},
        ),
        (Kind.MOVE_CLAUSE, "last", {"parent_key": None, "after_key": None}),
        (Kind.RENAME_KEY, "intro", {"new_key": "introduction"}),
        (Kind.ADD_EXAMPLE, "tone", EXAMPLE),
    )
    assert _approve_and_merge(amendment, personas) == draft
    keys = list(
        Clause.objects.filter(version=draft).order_by("position").values_list("key", "level")
    )
    assert keys == [("last", 1), ("introduction", 1), ("be_kind", 1), ("tone", 2), ("warmth", 2)]
    assert _body(draft) == "First paragraph, kinder.\n\nThird paragraph."
    warmth = Clause.objects.get(version=draft, key="warmth")
    assert warmth.parent.key == "be_kind" and warmth.text == "Be warm."
    example = Example.objects.get(clause__version=draft, clause__key="tone")
    assert example.origin == "gold" and example.turns[1]["comparison"][0]["grade"] == "good"
    assert ClauseAlias.objects.filter(old_key="intro", new_key="introduction").exists()
    amendment.refresh_from_db()
    assert amendment.state == AmendmentState.MERGED and amendment.merged_into == draft
    draft.refresh_from_db()
    assert draft.clause_count == 5 and draft.example_count == 1


def test_removing_a_clause_and_an_example_merges(published, draft, personas) -> None:
    first = _amend(published, personas, (Kind.ADD_EXAMPLE, "tone", EXAMPLE))
    _approve_and_merge(first, personas)
    fingerprint = Example.objects.get(clause__version=draft).fingerprint
    second = _amend(
        published,
        personas,
        (Kind.REMOVE_CLAUSE, "last", {}),
        (Kind.ADD_EXAMPLE, "intro", EXAMPLE),
    )
    _approve_and_merge(second, personas)
    assert not Clause.objects.filter(version=draft, key="last").exists()
    assert Example.objects.filter(clause__version=draft, fingerprint=fingerprint).count() == 2


def test_two_amendments_on_different_lines_both_land_after_a_rebase(
    published, draft, personas
) -> None:
    first = _amend(
        published,
        personas,
        (
            Kind.CHANGE_CLAUSE,
            "be_kind",
            {"body": "First paragraph, edited.\n\nSecond paragraph.\n\nThird paragraph."},
        ),
    )
    second = _amend(
        published,
        personas,
        (
            Kind.CHANGE_CLAUSE,
            "be_kind",
            {"body": "First paragraph.\n\nSecond paragraph.\n\nThird paragraph, edited."},
        ),
        title="Other edit",
    )
    _approve_and_merge(first, personas)
    amendments.amendment_approve(amendment=second, actor=personas.editor)
    with pytest.raises(amendments.MergeBlocked) as caught:
        amendments.amendment_merge(amendment=second, actor=personas.editor)
    assert caught.value.conflicts[0]["clause_key"] == "be_kind"
    assert caught.value.conflicts[0]["fields"] == ["body"]
    second.refresh_from_db()
    amendments.amendment_rebase(
        amendment=second, actor=personas.adjudicator, expected_revision=second.revision
    )
    second.refresh_from_db()
    assert amendments.approvals_counted(second) == 0  # the rebased revision is approved anew
    _approve_and_merge(second, personas)
    assert _body(draft) == (
        "First paragraph, edited.\n\nSecond paragraph.\n\nThird paragraph, edited."
    )


def test_overlapping_edits_are_a_conflict_until_resolved(published, draft, personas) -> None:
    first = _amend(published, personas, (Kind.CHANGE_CLAUSE, "be_kind", {"body": "Mine."}))
    second = _amend(published, personas, (Kind.CHANGE_CLAUSE, "be_kind", {"body": "Theirs."}))
    _approve_and_merge(first, personas)
    with pytest.raises(amendments.RebaseConflict) as caught:
        amendments.amendment_rebase(amendment=second, actor=personas.adjudicator)
    conflict = caught.value.conflicts[0]
    assert (conflict["ours"], conflict["theirs"]) == ("Mine.", "Theirs.")
    assert "<<<<<<< draft" in conflict["merged"]
    second.refresh_from_db()
    assert second.changes.get().payload == {"body": "Theirs."}  # nothing written
    amendments.amendment_rebase(
        amendment=second,
        actor=personas.adjudicator,
        resolutions={"be_kind": {"body": "Mine and theirs."}},
    )
    _approve_and_merge(second, personas)
    assert _body(draft) == "Mine and theirs."


def test_edits_to_different_fields_of_one_clause_merge_without_a_rebase(
    published, draft, personas
) -> None:
    _approve_and_merge(
        _amend(published, personas, (Kind.CHANGE_CLAUSE, "tone", {"title": "Tone of voice"})),
        personas,
    )
    _approve_and_merge(
        _amend(published, personas, (Kind.CHANGE_CLAUSE, "tone", {"tags": ["voice"]})),
        personas,
    )
    tone = Clause.objects.get(version=draft, key="tone")
    assert (tone.title, tone.tags) == ("Tone of voice", ["voice"])


def test_a_change_to_a_clause_the_draft_removed_cannot_merge(published, draft, personas):
    _approve_and_merge(_amend(published, personas, (Kind.REMOVE_CLAUSE, "last", {})), personas)
    late = _amend(published, personas, (Kind.CHANGE_CLAUSE, "last", {"title": "Final"}))
    amendments.amendment_approve(amendment=late, actor=personas.editor)
    with pytest.raises(amendments.MergeBlocked):
        amendments.amendment_merge(amendment=late, actor=personas.editor)
    with pytest.raises(ValidationError, match="no longer has this clause"):
        amendments.amendment_rebase(amendment=late, actor=personas.adjudicator)


# --- Publishing ------------------------------------------------------------------------------


def test_publishing_writes_a_changelog_of_every_merged_amendment(published, draft, personas):
    titles = ["Kinder intro", "Calmer tone", "An example"]
    changes = [
        (Kind.CHANGE_CLAUSE, "intro", {"title": "Intro"}),
        (Kind.CHANGE_CLAUSE, "tone", {"title": "Calm"}),
        (Kind.ADD_EXAMPLE, "tone", EXAMPLE),
    ]
    for title, change in zip(titles, changes, strict=True):
        _approve_and_merge(_amend(published, personas, change, title=title), personas)

    def cases(merged):
        return {a.pk: [f"case for {a.title}"] for a in merged}

    changelog.register_changelog_lines(cases)
    try:
        version = amendments.draft_publish(version=draft, actor=personas.editor)
    finally:
        changelog.unregister_changelog_lines(cases)
    for title in titles:
        assert f"**{title}**" in version.changelog
        assert f"case for {title}" in version.changelog
    assert "Reviewers disagreed on this clause." in version.changelog
    assert version.status == VersionStatus.PUBLISHED


def test_the_published_result_cannot_change(published, draft, personas) -> None:
    _approve_and_merge(_amend(published, personas, (Kind.ADD_EXAMPLE, "tone", EXAMPLE)), personas)
    version = amendments.draft_publish(version=draft, actor=personas.editor)
    with pytest.raises(IntegrityError), transaction.atomic():
        Clause.objects.filter(version=version, key="tone").update(title="Changed")
    with pytest.raises(IntegrityError), transaction.atomic():
        Example.objects.filter(clause__version=version).delete()
    late = _amend(published, personas, (Kind.CHANGE_CLAUSE, "tone", {"title": "x"}))
    amendments.amendment_approve(amendment=late, actor=personas.editor)
    with pytest.raises(amendments.NoDraft):
        amendments.amendment_merge(amendment=late, actor=personas.editor)


def test_a_merge_hook_sees_the_examples_the_merge_added(published, draft, personas) -> None:
    from specs.amendments import selectors

    seen = {}

    def hook(amendment, version):
        seen.update(selectors.merged_examples(amendment))

    amendments.register_merge_hook(hook)
    try:
        amendment = _amend(published, personas, (Kind.ADD_EXAMPLE, "tone", EXAMPLE))
        _approve_and_merge(amendment, personas)
    finally:
        amendments.unregister_merge_hook(hook)
    change = amendment.changes.get()
    assert seen[change.pk].clause.version_id == draft.pk
    assert seen[change.pk].title == EXAMPLE["title"]


def test_the_preview_of_a_changed_sub_clause_says_changed_not_moved(published, personas):
    from specs.amendments.selectors import amendment_preview

    amendment = _amend(published, personas, (Kind.CHANGE_CLAUSE, "tone", {"body": "Stay calm."}))
    changes = {change.key: change for change in amendment_preview(amendment).clauses}
    assert changes["tone"].status == "changed"
    assert not changes["tone"].moved


# --- Discarding a draft with merged amendments ------------------------------------------------


def test_discarding_a_draft_returns_its_merged_amendments_to_approved(
    published, draft, personas
) -> None:
    from django.urls import reverse

    amendment = _amend(published, personas, (Kind.CHANGE_CLAUSE, "intro", {"title": "Intro"}))
    _approve_and_merge(amendment, personas)
    client = personas.client_for(personas.editor)
    page = reverse("specs:version-discard", args=["policy-team", published.spec.slug, "v2"])
    assert client.post(page, {"confirm": "on"}).status_code == 302
    assert not SpecVersion.objects.filter(pk=draft.pk).exists()

    amendment.refresh_from_db()
    assert (amendment.state, amendment.merged_into) == (AmendmentState.APPROVED, None)
    event = AuditEvent.objects.get(verb="amendment.unmerge")
    assert event.target_id == str(amendment.pk) and event.actor == personas.editor
    discard = AuditEvent.objects.get(verb="spec_version.discard")
    assert discard.data["amendments_returned"] == [amendment.pk]
    detail = reverse(
        "specs:amendment-detail", args=["policy-team", published.spec.slug, amendment.pk]
    )
    assert "Approved" in client.get(detail).text

    # Nothing was lost: it merges into the next draft without a new approval.
    again = amendments.draft_start_from(version=published, label="v3", actor=personas.editor)
    amendments.amendment_merge(amendment=amendment, actor=personas.editor)
    assert Clause.objects.get(version=again, key="intro").title == "Intro"


def test_a_rename_a_discarded_draft_confirmed_is_forgotten_with_it(published, draft, personas):
    amendment = _amend(published, personas, (Kind.RENAME_KEY, "intro", {"new_key": "introduction"}))
    _approve_and_merge(amendment, personas)
    assert ClauseAlias.objects.filter(old_key="intro", new_key="introduction").exists()
    # An alias between two keys that outlive the draft stays.
    ClauseAlias.objects.create(
        spec=published.spec, old_key="intro", new_key="tone", status=ClauseAlias.Status.REJECTED
    )

    services.spec_version_discard(version=draft, actor=personas.editor)

    assert list(ClauseAlias.objects.values_list("old_key", "new_key")) == [("intro", "tone")]
    # Merged again into a new draft, it is confirmed again.
    again = amendments.draft_start_from(version=published, label="v3", actor=personas.editor)
    amendments.amendment_merge(amendment=amendment, actor=personas.editor)
    assert Clause.objects.filter(version=again, key="introduction").exists()
    assert ClauseAlias.objects.filter(
        old_key="intro", new_key="introduction", status=ClauseAlias.Status.CONFIRMED
    ).exists()


def test_a_returned_amendment_whose_approver_lost_the_right_is_open_again(
    published, draft, personas
) -> None:
    from clausebook.models import Membership, Role

    amendment = _amend(published, personas, (Kind.CHANGE_CLAUSE, "intro", {"title": "Intro"}))
    _approve_and_merge(amendment, personas)
    Membership.objects.filter(user=personas.editor, workspace=personas.workspace).update(
        role=Role.REVIEWER
    )
    services.spec_version_discard(version=draft, actor=personas.owner)
    amendment.refresh_from_db()
    assert (amendment.state, amendment.merged_into) == (AmendmentState.OPEN, None)
