"""An amendment's discussion: the panel the amendment page loads, comments in Markdown with
mentions and an edit history, written by adjudicators, editors and admins, read by every member,
and nothing of it visible from another workspace."""

from __future__ import annotations

import io

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse

from clausebook.models import AuditEvent
from reviews.models import Comment, Notification
from reviews.services.threads import amendment_comment_edit, amendment_comment_post
from specs.amendments.services import amendment_propose
from tests.reviews.factories import make_published_version
from tests.reviews.test_campaign_demo import annotated_demo  # noqa: F401 - a fixture

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def amendment(personas):  # type: ignore[no-untyped-def]
    version = make_published_version(personas.workspace, keys=["be_kind", "be_honest"])
    return amendment_propose(
        spec=version.spec,
        base_version=version,
        title="Kinder wording",
        rationale="Reviewers split on curt users.",
        actor=personas.adjudicator,
    )


def panel(amendment) -> str:  # type: ignore[no-untyped-def]
    return reverse("reviews:amendment-thread-panel", args=["policy-team", amendment.pk])


def create(amendment) -> str:  # type: ignore[no-untyped-def]
    return reverse("reviews:amendment-comment-create", args=["policy-team", amendment.pk])


def edit(amendment, comment) -> str:  # type: ignore[no-untyped-def]
    return reverse("reviews:amendment-comment-edit", args=["policy-team", amendment.pk, comment.pk])


def test_the_amendment_page_loads_the_discussion_panel(personas, amendment) -> None:
    page = reverse(
        "specs:amendment-detail", args=["policy-team", amendment.spec.slug, amendment.pk]
    )
    html = personas.client_for(personas.viewer).get(page).text
    assert f'hx-get="{panel(amendment)}"' in html


def test_an_adjudicator_posts_markdown_that_every_member_reads_sanitized(
    personas, amendment
) -> None:
    client = personas.client_for(personas.adjudicator)
    response = client.post(
        create(amendment), {"body": "This reads **better**. <script>alert(1)</script>"}
    )
    comment = Comment.objects.get(amendment=amendment)
    assert response.status_code == 302
    assert response["Location"].endswith(f"/amendments/{amendment.pk}/#comment-{comment.pk}")

    html = personas.client_for(personas.viewer).get(panel(amendment), **HX).text
    assert "<strong>better</strong>" in html
    assert "<script>alert(1)</script>" not in html
    assert 'data-testid="amendment-comment-submit"' not in html  # viewers read only
    assert "<html" not in html  # the amendment page swaps in the fragment alone
    assert AuditEvent.objects.filter(verb="comment.post", data__amendment=amendment.pk).exists()


def test_opened_directly_the_panel_is_a_page_with_the_form_for_those_who_may_write(
    personas, amendment
) -> None:
    html = personas.client_for(personas.editor).get(panel(amendment)).text
    assert "<html" in html and 'data-testid="amendment-comment-submit"' in html
    assert "No comments yet." in html


def amendment_page(amendment) -> str:  # type: ignore[no-untyped-def]
    return reverse(
        "specs:amendment-detail", args=["policy-team", amendment.spec.slug, amendment.pk]
    )


def test_a_mention_shows_in_the_inbox_with_the_amendment_and_a_link_that_opens_it(
    personas, amendment
) -> None:
    client = personas.client_for(personas.adjudicator)
    client.post(create(amendment), {"body": "@editor could you approve it?"})
    comment = Comment.objects.get(amendment=amendment)
    assert list(comment.mentions.all()) == [personas.editor]
    [notification] = Notification.objects.filter(comment=comment)
    assert notification.recipient == personas.editor

    editor = personas.client_for(personas.editor)
    inbox = editor.get(reverse("reviews:notification-list", args=["policy-team"])).text
    link = f"{amendment_page(amendment)}#comment-{comment.pk}"
    assert "1 unread" in inbox
    assert f'href="{link}"' in inbox and "Kinder wording" in inbox
    opened = editor.get(amendment_page(amendment))
    assert opened.status_code == 200 and "Kinder wording" in opened.text

    api = editor.get(reverse("api-notification-list", args=["policy-team"])).json()
    assert api["unread"] == 1
    [row] = api["results"]
    assert row["amendment"] == amendment.pk and row["item"] is None and row["url"] == link


def test_the_email_of_an_amendment_mention_carries_an_absolute_link(
    personas, amendment, settings
) -> None:
    from django.core import mail

    from reviews.services.threads import notification_email_send

    settings.SITE_URL = "https://clausebook.example/"
    comment = amendment_comment_post(
        amendment=amendment, author=personas.adjudicator, body="@editor please look"
    )
    notification = Notification.objects.get(comment=comment)
    mail.outbox.clear()
    assert notification_email_send(notification_id=notification.pk)
    [message] = mail.outbox
    assert message.to == [personas.editor.email]
    assert "Kinder wording" in message.body and "please look" in message.body
    link = f"https://clausebook.example{amendment_page(amendment)}#comment-{comment.pk}"
    assert link in message.body
    assert f"amendment #{amendment.pk}" in message.subject


def test_only_members_with_an_inbox_are_notified_and_never_the_author(personas, amendment) -> None:
    comment = amendment_comment_post(
        amendment=amendment,
        author=personas.adjudicator,
        body="@outsider@other.test and @adjudicator, @viewer and @reviewer",
    )
    notified = Notification.objects.filter(comment=comment).values_list("recipient", flat=True)
    # The outsider is no member; the author never notifies themself; a viewer has no inbox.
    assert list(notified) == [personas.reviewer.pk]
    assert list(comment.mentions.all()) == [personas.reviewer]
    inbox = personas.client_for(personas.reviewer).get(
        reverse("reviews:notification-list", args=["policy-team"])
    )
    assert "Kinder wording" in inbox.text


def test_an_edit_that_adds_a_mention_notifies_the_new_member_only(personas, amendment) -> None:
    comment = amendment_comment_post(
        amendment=amendment, author=personas.adjudicator, body="@editor first"
    )
    amendment_comment_edit(
        amendment=amendment,
        comment=comment,
        editor=personas.adjudicator,
        body="@editor first, and @owner too",
        revision=1,
    )
    recipients = list(
        Notification.objects.filter(comment=comment)
        .order_by("pk")
        .values_list("recipient", flat=True)
    )
    assert recipients == [personas.editor.pk, personas.owner.pk]
    assert AuditEvent.objects.get(verb="comment.edit").data["mentions"] == [personas.owner.pk]


def test_the_author_edits_and_the_earlier_version_is_kept(personas, amendment) -> None:
    comment = amendment_comment_post(amendment=amendment, author=personas.editor, body="First.")
    client = personas.client_for(personas.editor)
    response = client.post(edit(amendment, comment), {"body": "Second.", "revision": 1})
    assert response.status_code == 302
    comment.refresh_from_db()
    assert comment.body == "Second." and comment.revision == 2
    html = client.get(panel(amendment), **HX).text
    assert "1 earlier version" in html and "First." in html and "Second." in html


def test_a_stale_edit_is_a_409_and_saves_nothing(personas, amendment) -> None:
    comment = amendment_comment_post(amendment=amendment, author=personas.editor, body="First.")
    amendment_comment_edit(
        amendment=amendment, comment=comment, editor=personas.editor, body="Second.", revision=1
    )
    response = personas.client_for(personas.editor).post(
        edit(amendment, comment), {"body": "Third.", "revision": 1}
    )
    assert response.status_code == 409
    assert "now at revision 2" in response.text
    comment.refresh_from_db()
    assert comment.body == "Second."


def test_a_blank_comment_is_a_400_that_says_why(personas, amendment) -> None:
    response = personas.client_for(personas.editor).post(create(amendment), {"body": "   "})
    assert response.status_code == 400
    assert "cannot be empty" in response.text
    assert not Comment.objects.filter(amendment=amendment).exists()


def test_only_the_author_edits_a_comment(personas, amendment) -> None:
    comment = amendment_comment_post(amendment=amendment, author=personas.editor, body="Mine.")
    response = personas.client_for(personas.owner).post(
        edit(amendment, comment), {"body": "Yours now.", "revision": 1}
    )
    assert response.status_code == 403
    comment.refresh_from_db()
    assert comment.body == "Mine."


def test_a_reviewer_reads_the_discussion_but_may_not_write_in_it(personas, amendment) -> None:
    client = personas.client_for(personas.reviewer)
    assert client.get(panel(amendment), **HX).status_code == 200
    assert client.post(create(amendment), {"body": "Me too."}).status_code == 403
    with pytest.raises(PermissionDenied):
        amendment_comment_post(amendment=amendment, author=personas.reviewer, body="Me too.")
    assert not Comment.objects.filter(amendment=amendment).exists()


def test_another_workspace_finds_neither_the_discussion_nor_its_comments(
    personas, amendment
) -> None:
    comment = amendment_comment_post(amendment=amendment, author=personas.editor, body="Ours.")
    outsider = personas.client_for(personas.outsider)
    assert outsider.get(panel(amendment)).status_code == 404
    other = reverse("reviews:amendment-thread-panel", args=["other-org", amendment.pk])
    assert outsider.get(other).status_code == 404
    other_edit = reverse(
        "reviews:amendment-comment-edit", args=["other-org", amendment.pk, comment.pk]
    )
    assert outsider.post(other_edit, {"body": "Theirs.", "revision": 1}).status_code == 404
    comment.refresh_from_db()
    assert comment.body == "Ours."


def test_the_demo_opens_an_amendment_from_adjudicated_gold_with_a_discussion_and_an_approval(
    personas,
    annotated_demo,  # noqa: F811 - the fixture imported above
) -> None:
    from reviews import demo as demo_campaigns
    from reviews.models import GoldPromotion
    from specs.models import AmendmentApproval, AmendmentState

    platform = annotated_demo.platform
    platform.users["admin"] = personas.owner
    demo_campaigns.seed_amendment(platform, io.StringIO())

    promotion = GoldPromotion.objects.select_related("decision", "change__amendment").get()
    assert promotion.decision.campaign == annotated_demo.campaign
    assert promotion.decision.kind == "adjudicated"
    amendment = promotion.change.amendment
    assert amendment.author == personas.editor
    assert amendment.state in (AmendmentState.OPEN, AmendmentState.APPROVED)
    authors = list(
        Comment.objects.filter(amendment=amendment).order_by("pk").values_list("author", flat=True)
    )
    assert authors == [personas.editor.pk, personas.adjudicator.pk]
    [approval] = AmendmentApproval.objects.filter(amendment=amendment)
    assert approval.user == personas.owner and approval.revision == amendment.revision
    # A second settled case is linked as motivation, not promoted.
    from reviews.models import AmendmentCase

    [case] = AmendmentCase.objects.filter(amendment=amendment)
    assert case.decision is not None and case.decision != promotion.decision
    # The editor's mention of the adjudicator notified them.
    assert Notification.objects.filter(
        recipient=personas.adjudicator, comment__amendment=amendment
    ).exists()

    out = io.StringIO()
    demo_campaigns.seed_amendment(platform, out)
    assert GoldPromotion.objects.count() == 1 and AmendmentApproval.objects.count() == 1
    assert AmendmentCase.objects.count() == 1
    assert Comment.objects.filter(amendment=amendment).count() == 2
    assert out.getvalue() == ""


def test_only_the_author_is_offered_the_edit_form_and_it_edits_the_amendment_comment(
    personas, amendment
) -> None:
    comment = amendment_comment_post(
        amendment=amendment, author=personas.adjudicator, body="First wording."
    )
    mine = personas.client_for(personas.adjudicator).get(panel(amendment), **HX).text
    theirs = personas.client_for(personas.editor).get(panel(amendment), **HX).text
    assert f'action="{edit(amendment, comment)}"' in mine
    assert "Save edit" not in theirs
