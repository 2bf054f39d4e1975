"""Who may do what with specs (T07, T08), immutable published versions (T30), inert
untrusted spec text (T01–T03, T05)."""

from __future__ import annotations

from collections.abc import Callable
from html.parser import HTMLParser

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.urls import reverse

from specs import presenters, services
from specs.models import Clause, EvalPrompt, Example, SpecVersion

pytestmark = pytest.mark.django_db

WS = "policy-team"
API = f"/api/v1/workspaces/{WS}/specs/"

HTML_ROUTES = [
    ("specs:spec-list", []),
    ("specs:spec-detail", ["model-spec"]),
    ("specs:version-import", ["model-spec"]),
    ("specs:version-diff", ["model-spec"]),
    ("specs:version-detail", ["model-spec", "v1"]),
    ("specs:version-search", ["model-spec", "v1"]),
    ("specs:version-export", ["model-spec", "v1"]),
    ("specs:clause-detail", ["model-spec", "v1", "be_kind"]),
]
API_ROUTES = [
    "",
    "model-spec/",
    "model-spec/versions/",
    "model-spec/diff/?from=v1&to=v1",
    "model-spec/aliases/",
    "model-spec/versions/v1/",
    "model-spec/versions/v1/export/",
    "model-spec/versions/v1/clauses/",
    "model-spec/versions/v1/clauses/be_kind/",
]
SMALL_SPEC = "# Be kind {#be_kind authority=user}\n\nAlways.\n\n# Be brief {#be_brief}\n\nShort.\n"


@pytest.fixture
def small_version(spec, personas) -> SpecVersion:
    return services.spec_version_import(
        spec=spec, label="v1", markdown=SMALL_SPEC, actor=personas.editor
    )


def test_t07_an_outsider_gets_404_on_every_specs_page(small_version, personas) -> None:
    client = personas.client_for(personas.outsider)
    for name, args in HTML_ROUTES:
        assert client.get(reverse(name, args=[WS, *args])).status_code == 404, name
    for name, args in [
        ("specs:version-publish", ["model-spec", "v1"]),
        ("specs:alias-decide", ["model-spec"]),
    ]:
        assert client.post(reverse(name, args=[WS, *args])).status_code == 404, name


def test_t07_an_outsider_gets_404_on_every_specs_api_route(small_version, personas) -> None:
    client = personas.client_for(personas.outsider)
    for route in API_ROUTES:
        assert client.get(API + route).status_code == 404, route
    for route in ["", "model-spec/versions/", "model-spec/versions/v1/publish/"]:
        assert client.post(API + route, {}, "application/json").status_code == 404, route
    small_version.refresh_from_db()
    assert small_version.status == "draft"


def test_t11_anonymous_visitors_are_sent_to_sign_in(small_version, client) -> None:
    for name, args in HTML_ROUTES:
        assert client.get(reverse(name, args=[WS, *args])).status_code == 302, name
    for route in API_ROUTES:
        assert client.get(API + route).status_code == 401, route


def test_every_member_can_browse(small_version, personas) -> None:
    client = personas.client_for(personas.viewer)
    for name, args in HTML_ROUTES:
        if name == "specs:version-import":
            continue
        assert client.get(reverse(name, args=[WS, *args])).status_code == 200, name
    for route in API_ROUTES:
        assert client.get(API + route).status_code == 200, route


def test_t08_a_reviewer_cannot_import_or_publish_in_the_ui(small_version, personas) -> None:
    client = personas.client_for(personas.reviewer)
    import_url = reverse("specs:version-import", args=[WS, "model-spec"])
    assert client.get(import_url).status_code == 403
    assert client.post(import_url, {"label": "v2", "markdown": SMALL_SPEC}).status_code == 403
    publish_url = reverse("specs:version-publish", args=[WS, "model-spec", "v1"])
    assert client.post(publish_url).status_code == 403
    alias_url = reverse("specs:alias-decide", args=[WS, "model-spec"])
    data = {"old_key": "be_kind", "new_key": "be_brief", "decision": "confirm"}
    assert client.post(alias_url, data).status_code == 403
    create = client.post(reverse("specs:spec-list", args=[WS]), {"title": "x", "slug": "x"})
    assert create.status_code == 403
    small_version.refresh_from_db()
    assert small_version.status == "draft"
    assert SpecVersion.objects.count() == 1


def test_t08_a_reviewer_cannot_import_or_publish_through_the_api(small_version, personas) -> None:
    client = personas.client_for(personas.reviewer)
    json = "application/json"
    versions = f"{API}model-spec/versions/"
    data = {"label": "v2", "markdown": SMALL_SPEC}
    assert client.post(versions, data, json).status_code == 403
    assert client.post(f"{versions}v1/publish/").status_code == 403
    assert client.post(API, {"slug": "x", "title": "x"}, json).status_code == 403
    alias = {"old_key": "be_kind", "new_key": "be_brief", "decision": "confirm"}
    assert client.post(f"{API}model-spec/aliases/", alias, json).status_code == 403
    small_version.refresh_from_db()
    assert small_version.status == "draft"


# --- T30: a published version never changes ------------------------------------------------
# Each refusal is asserted by the trigger's own message (specs/migrations/0002_...), so a test
# cannot pass on some other database error.

VERSION_CHANGED = "is published and cannot be changed"
VERSION_DELETED = "is published and cannot be deleted"
CLAUSE_OUT = "clauses of a published spec version cannot be changed or moved out"
CLAUSE_IN = "clauses cannot be added to or moved into a published spec version"
EXAMPLE_OUT = "examples of a published spec version cannot be changed or moved out"
EXAMPLE_IN = "examples cannot be added to or moved into a published spec version"
PROMPT_OUT = "eval prompts of a published spec version cannot be changed or moved out"
PROMPT_IN = "eval prompts cannot be added to or moved into a published spec version"
PARENT_ELSEWHERE = "and its parent .* are in different spec versions"
CHILDREN_ELSEWHERE = "and its children are in different spec versions"

FROZEN_SPEC = """# Be kind {#be_kind authority=user}

Always.[^ab12]

**Example**: a greeting

~~~xml
<user>
Hi
</user>
<comparison>
<assistant> <!-- GOOD -->
Hello!
</assistant>
</comparison>
~~~

## Be brief {#be_brief}

Short.
"""
EVAL_FILE = (
    "Examples for [^ab12] in Be kind:\n\n**Example**: greet\n\n~~~xml\n<user>\nHi\n</user>\n~~~\n"
)


@pytest.fixture
def published(small_version, personas) -> SpecVersion:
    return services.spec_version_publish(version=small_version, actor=personas.editor)


@pytest.fixture
def frozen(spec, personas) -> SpecVersion:
    """A published version with a child clause, an example and an eval prompt."""
    version = services.spec_version_import(
        spec=spec,
        label="frozen",
        markdown=FROZEN_SPEC,
        actor=personas.editor,
        eval_examples={"ab12": EVAL_FILE},
    )
    return services.spec_version_publish(version=version, actor=personas.editor)


@pytest.fixture
def draft(spec, personas) -> SpecVersion:
    """A draft of the same spec with the same content, to move rows into and out of."""
    return services.spec_version_import(
        spec=spec,
        label="draft",
        markdown=FROZEN_SPEC,
        actor=personas.editor,
        eval_examples={"ab12": EVAL_FILE},
    )


def _refused(action: Callable[[], object], message: str) -> None:
    """``action`` fails with the trigger's ``message`` (a regular expression), nothing else."""
    with pytest.raises(IntegrityError, match=message), transaction.atomic():
        action()


def _raw(sql: str, *params: object) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def test_t30_the_orm_cannot_change_a_published_version(published) -> None:
    clause = Clause.objects.get(version=published, key="be_kind")
    clause.body = "Sometimes."
    _refused(clause.save, CLAUSE_OUT)
    _refused(lambda: Clause.objects.filter(version=published).update(title="Changed"), CLAUSE_OUT)
    _refused(
        lambda: SpecVersion.objects.filter(pk=published.pk).update(label="v9"), VERSION_CHANGED
    )
    _refused(lambda: Clause.objects.filter(version=published).delete(), CLAUSE_OUT)
    published.label = "renamed"
    _refused(published.save, VERSION_CHANGED)
    _refused(
        lambda: Clause.objects.create(
            version_id=published.pk, key="new", title="New", level=1, position=99
        ),
        CLAUSE_IN,
    )
    assert Clause.objects.get(version=published, key="be_kind").body == "Always."


def test_t30_raw_sql_cannot_change_a_published_version(published) -> None:
    pk = published.pk
    _refused(
        lambda: _raw("UPDATE specs_clause SET body = 'x' WHERE version_id = %s", pk), CLAUSE_OUT
    )
    _refused(lambda: _raw("DELETE FROM specs_clause WHERE version_id = %s", pk), CLAUSE_OUT)
    _refused(
        lambda: _raw("UPDATE specs_specversion SET label = 'x' WHERE id = %s", pk), VERSION_CHANGED
    )
    _refused(lambda: _raw("DELETE FROM specs_specversion WHERE id = %s", pk), VERSION_DELETED)
    assert Clause.objects.get(version=published, key="be_kind").body == "Always."


def test_t30_examples_and_eval_prompts_of_a_published_version_are_frozen(frozen) -> None:
    examples = Example.objects.filter(clause__version=frozen)
    prompts = EvalPrompt.objects.filter(clause__version=frozen)
    assert (examples.count(), prompts.count()) == (1, 1)
    _refused(lambda: examples.update(title="x"), EXAMPLE_OUT)
    _refused(lambda: examples.delete(), EXAMPLE_OUT)
    _refused(lambda: prompts.update(title="x"), PROMPT_OUT)
    _refused(lambda: prompts.delete(), PROMPT_OUT)
    clause = Clause.objects.get(version=frozen, key="be_kind")
    _refused(
        lambda: Example.objects.create(
            clause=clause, position=9, title="new", turns=[], fingerprint="f"
        ),
        EXAMPLE_IN,
    )
    _refused(
        lambda: EvalPrompt.objects.create(clause=clause, footnote_id="ab12", position=9),
        PROMPT_IN,
    )
    _refused(
        lambda: _raw("UPDATE specs_example SET title = 'x' WHERE clause_id = %s", clause.pk),
        EXAMPLE_OUT,
    )
    _refused(
        lambda: _raw("DELETE FROM specs_evalprompt WHERE clause_id = %s", clause.pk), PROMPT_OUT
    )


def test_t30_a_clause_cannot_move_out_of_a_published_version(frozen, draft) -> None:
    leaving = Clause.objects.filter(version=frozen, key="be_brief")
    _refused(lambda: leaving.update(version=draft, key="be_brief_moved"), CLAUSE_OUT)
    _refused(
        lambda: _raw(
            "UPDATE specs_clause SET version_id = %s, key = 'moved', position = 99 WHERE id = %s",
            draft.pk,
            leaving.get().pk,
        ),
        CLAUSE_OUT,
    )
    assert leaving.exists()


def test_t30_a_clause_cannot_move_into_a_published_version(frozen, draft) -> None:
    arriving = Clause.objects.filter(version=draft, key="be_brief")
    _refused(lambda: arriving.update(version=frozen, key="be_brief_moved"), CLAUSE_IN)
    assert arriving.exists()


def test_t30_an_example_cannot_move_in_either_direction(frozen, draft) -> None:
    published_clause = Clause.objects.get(version=frozen, key="be_kind")
    draft_clause = Clause.objects.get(version=draft, key="be_kind")
    leaving = Example.objects.filter(clause=published_clause)
    _refused(lambda: leaving.update(clause=draft_clause, position=9), EXAMPLE_OUT)
    arriving = Example.objects.filter(clause=draft_clause)
    _refused(lambda: arriving.update(clause=published_clause, position=9), EXAMPLE_IN)
    assert (leaving.count(), arriving.count()) == (1, 1)


def test_t30_an_eval_prompt_cannot_move_in_either_direction(frozen, draft) -> None:
    published_clause = Clause.objects.get(version=frozen, key="be_kind")
    draft_clause = Clause.objects.get(version=draft, key="be_kind")
    leaving = EvalPrompt.objects.filter(clause=published_clause)
    _refused(lambda: leaving.update(clause=draft_clause, position=9), PROMPT_OUT)
    arriving = EvalPrompt.objects.filter(clause=draft_clause)
    _refused(
        lambda: _raw(
            "UPDATE specs_evalprompt SET clause_id = %s, position = 9 WHERE id = %s",
            published_clause.pk,
            arriving.get().pk,
        ),
        PROMPT_IN,
    )
    assert (leaving.count(), arriving.count()) == (1, 1)


def _other_spec(personas):  # type: ignore[no-untyped-def]
    """A second spec of the workspace: a spec has one draft at a time, so another draft lives
    in another spec (the triggers compare versions, whatever their spec)."""
    return services.spec_create(
        workspace=personas.workspace, slug="other-spec", title="Other", actor=personas.editor
    )


def test_a_clause_parent_must_be_in_the_clause_own_version(frozen, draft, spec, personas) -> None:
    other_draft = services.spec_version_import(
        spec=_other_spec(personas), label="other", markdown=FROZEN_SPEC, actor=personas.editor
    )
    child = Clause.objects.filter(version=draft, key="be_brief")
    elsewhere = Clause.objects.get(version=other_draft, key="be_kind")
    _refused(lambda: child.update(parent=elsewhere), PARENT_ELSEWHERE)
    # A published clause as the parent of a draft's clause: refused by the same rule (the
    # published row itself is untouched, so no immutability trigger is involved).
    in_published = Clause.objects.get(version=frozen, key="be_kind")
    _refused(lambda: child.update(parent=in_published), PARENT_ELSEWHERE)
    # Moving a parent without its children leaves them pointing into another version.
    parent = Clause.objects.filter(version=draft, key="be_kind")
    _refused(
        lambda: parent.update(version=other_draft, key="moved", position=99), CHILDREN_ELSEWHERE
    )
    assert child.get().parent.key == "be_kind"


def test_one_statement_may_move_a_whole_draft_subtree(draft, spec, personas) -> None:
    target = services.spec_version_import(
        spec=_other_spec(personas),
        label="target",
        markdown="# Other {#other}\n",
        actor=personas.editor,
    )
    moved = Clause.objects.filter(version=draft).update(version=target, position=F("position") + 10)
    assert moved == 2
    child = Clause.objects.get(version=target, key="be_brief")
    assert child.parent.version_id == target.pk


def test_a_published_version_can_be_archived_and_nothing_else(published) -> None:
    SpecVersion.objects.filter(pk=published.pk).update(status="archived")
    _refused(
        lambda: SpecVersion.objects.filter(pk=published.pk).update(status="draft"),
        VERSION_CHANGED,
    )
    _refused(lambda: Clause.objects.filter(version=published).update(title="Changed"), CLAUSE_OUT)


def test_a_workspace_purge_may_delete_a_published_version(frozen) -> None:
    pk = frozen.pk  # delete() forgets it
    with transaction.atomic():
        _raw("SET LOCAL clausebook.allow_purge = 'on'")
        frozen.delete()
        assert not SpecVersion.objects.filter(pk=pk).exists()
        assert not Example.objects.filter(clause__version_id=pk).exists()
        # Rolling back undoes the purge and the setting with it (the suite runs inside one
        # transaction, where SET LOCAL would otherwise outlive this block).
        transaction.set_rollback(True)
    assert SpecVersion.objects.filter(pk=pk).exists()
    _refused(lambda: _raw("DELETE FROM specs_specversion WHERE id = %s", pk), VERSION_DELETED)


def test_a_draft_can_still_be_discarded(small_version, personas) -> None:
    services.spec_version_discard(version=small_version, actor=personas.editor)
    assert not SpecVersion.objects.filter(pk=small_version.pk).exists()


# --- Untrusted spec text renders inert -----------------------------------------------------

HOSTILE = """# Hostile <script>window.__pwn=1</script> {#hostile authority=user}

<script>window.__pwn=1</script>
<img src=x onerror="window.__pwn=1">
[click](javascript:window.__pwn=1) and [data](data:text/html,<script>1</script>)
<div hx-get="/api/v1/me/" hx-trigger="load">htmx</div>
<iframe src="https://evil.test"></iframe>

!!! meta "Commentary"
    <svg onload="window.__pwn=1"></svg> [x](javascript:alert(1))

**Example**: <img src=x onerror=alert(1)> title

~~~xml
<user>
<script>window.__pwn=1</script><img src=x onerror="window.__pwn=1">
</user>
<comparison>
<assistant> <!-- BAD: <b onmouseover=alert(1)>reason</b> -->
<div hx-post="/x" hx-trigger="load">answer</div>
</assistant>
</comparison>
~~~
"""


class _TagAudit(HTMLParser):
    """Collects every real element and attribute (escaped text is not an element)."""

    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag in {"iframe", "object", "embed"}:
            self.problems.append(tag)
        if tag == "script" and not values.get("src"):
            self.problems.append("inline script")
        if tag == "img":
            self.problems.append("img")
        for name, value in attrs:
            value = (value or "").strip().lower()
            if name.startswith("on"):
                self.problems.append(f"{tag} {name}")
            if name in {"href", "src", "action"} and value.startswith(("javascript:", "data:")):
                self.problems.append(f"{tag} {name}={value}")
            if name in {"hx-get", "hx-post"} and not value.startswith("/w/"):
                self.problems.append(f"{tag} {name}={value}")


def _assert_inert(html: str) -> None:
    audit = _TagAudit()
    audit.feed(html)
    assert audit.problems == []


def test_t01_t02_t03_a_hostile_spec_renders_inert_on_every_page(spec, personas) -> None:
    services.spec_version_import(spec=spec, label="v1", markdown=HOSTILE, actor=personas.editor)
    client = personas.client_for(personas.viewer)
    pages = [
        reverse("specs:clause-detail", args=[WS, "model-spec", "v1", "hostile"]),
        reverse("specs:version-detail", args=[WS, "model-spec", "v1"]),
        reverse("specs:version-search", args=[WS, "model-spec", "v1"]) + "?q=pwn+htmx+answer",
        reverse("specs:version-search", args=[WS, "model-spec", "v1"]) + "?q=script",
    ]
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200
        html = response.content.decode()
        _assert_inert(html)
        assert "hx-disable" in html
        assert "unsafe-inline" not in response.get("Content-Security-Policy", "unsafe-inline")


def test_t05_a_search_query_with_markup_is_escaped(small_version, personas) -> None:
    url = reverse("specs:version-search", args=[WS, "model-spec", "v1"])
    html = (
        personas.client_for(personas.viewer)
        .get(url, {"q": "<script>alert(1)</script> kind"})
        .content.decode()
    )
    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;alert(1)" in html


def test_search_headlines_escape_text_and_keep_only_mark_tags() -> None:
    assert str(presenters.highlighted("a \x02<b>x</b>\x03 <script>")) == (
        "a <mark>&lt;b&gt;x&lt;/b&gt;</mark> &lt;script&gt;"
    )
    # stray sentinels in the source cannot unbalance the markup
    assert str(presenters.highlighted("\x03a\x02b")) == "a<mark>b</mark>"


def test_t30_the_admin_shows_a_published_version_read_only(published, personas) -> None:
    from django.contrib.auth import get_user_model

    admin_user = get_user_model().objects.create_superuser(
        email="root@policy.test", password="x-very-long-password"
    )
    client = personas.client_for(admin_user)
    clause = Clause.objects.get(version=published, key="be_kind")
    url = reverse("admin:specs_clause_change", args=[clause.pk])
    response = client.post(url, {"title": "Changed", "body": "Changed"})
    assert response.status_code == 403
    clause.refresh_from_db()
    assert clause.title == "Be kind"
    delete = client.post(
        reverse("admin:specs_specversion_delete", args=[published.pk]), {"post": "yes"}
    )
    assert delete.status_code == 403
    assert SpecVersion.objects.filter(pk=published.pk).exists()
