"""Gold exports as jobs: queued on commit, claimed once, progress on the row, a signed download
that works only for members with the export right and expires, a sweep that fails exports
whose worker died, and the page of past exports."""

from __future__ import annotations

import io
import json
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from clausebook.models import AuditEvent
from reviews.models import GoldExport
from reviews.selectors.gold import GoldFilters
from reviews.services.gold_export import (
    export_dir,
    gold_export_claim,
    gold_export_create,
    gold_export_link,
    gold_export_run,
    gold_export_sweep,
)
from tests.conftest import wait_for
from tests.reviews.test_gold_export import build_gold, chat


def some_gold(personas):  # type: ignore[no-untyped-def]
    return build_gold(
        personas,
        answers=[
            (chat("One?", "Yes."), "complies", "complies"),
            (chat("Two?", "No."), "violates", "complies"),
        ],
    )


@pytest.fixture
def finished(personas, settings, tmp_path, django_capture_on_commit_callbacks):  # type: ignore[no-untyped-def]
    """An export run in this process (the worker's path without the worker)."""
    settings.GOLD_EXPORT_DIR = tmp_path / "exports"
    some_gold(personas)
    with django_capture_on_commit_callbacks(execute=False) as queued:
        export = gold_export_create(
            workspace=personas.workspace,
            actor=personas.adjudicator,
            format="jsonl",
            filters=GoldFilters(),
        )
    assert len(queued) == 1  # enqueued on commit, with the id alone
    claimed = gold_export_claim(export_id=export.pk)
    assert claimed is not None
    return gold_export_run(export=claimed)


def download_url(personas, export: GoldExport, token: str | None = None) -> str:  # type: ignore[no-untyped-def]
    path = reverse("reviews:gold-export-download", args=[personas.workspace.slug, export.pk])
    return f"{path}?token={token if token is not None else gold_export_link(export)}"


@pytest.mark.django_db
def test_a_claimed_export_runs_once_and_records_its_file(personas, finished) -> None:
    assert finished.status == GoldExport.Status.SUCCEEDED
    assert (finished.rows_written, finished.total_rows, finished.percent) == (2, 2, 100)
    assert finished.size_bytes > 0 and finished.file_name.endswith(".jsonl")
    assert gold_export_claim(export_id=finished.pk) is None  # a second delivery does nothing


@pytest.mark.django_db
def test_the_signed_link_downloads_the_file_for_a_member_with_the_right(personas, finished) -> None:
    response = personas.client_for(personas.adjudicator).get(download_url(personas, finished))
    assert response.status_code == 200
    assert "attachment" in response["Content-Disposition"]
    lines = b"".join(response.streaming_content).decode().splitlines()
    assert len(lines) == 2 and all(json.loads(line)["verdict"] for line in lines)


@pytest.mark.django_db
def test_another_workspaces_member_gets_404_and_a_role_without_the_right_403(
    personas, finished
) -> None:
    url = download_url(personas, finished)
    assert personas.client_for(personas.outsider).get(url).status_code == 404
    # The outsider's own workspace does not hold this export either.
    own = reverse("reviews:gold-export-download", args=[personas.other_workspace.slug, finished.pk])
    own += "?token=" + gold_export_link(finished)
    assert personas.client_for(personas.outsider).get(own).status_code == 404
    assert personas.client_for(personas.viewer).get(url).status_code == 403
    assert personas.client_for(personas.reviewer).get(url).status_code == 403


@pytest.mark.django_db
def test_an_expired_link_is_refused_with_410(personas, finished, settings) -> None:
    url = download_url(personas, finished)
    settings.GOLD_EXPORT_LINK_MAX_AGE = -1  # every link is older than that
    response = personas.client_for(personas.adjudicator).get(url)
    assert response.status_code == 410
    assert "This download link has expired" in response.text


@pytest.mark.django_db
def test_a_tampered_or_borrowed_token_is_refused(personas, finished, settings) -> None:
    client = personas.client_for(personas.adjudicator)
    assert client.get(download_url(personas, finished, token="1.x:abc")).status_code == 403
    other = GoldExport.objects.create(workspace=personas.workspace, format="jsonl")
    borrowed = download_url(personas, finished, token=gold_export_link(other))
    assert client.get(borrowed).status_code == 403


@pytest.mark.django_db
def test_the_api_queues_an_export_and_shows_its_progress(personas, settings, tmp_path) -> None:
    settings.GOLD_EXPORT_DIR = tmp_path
    client = personas.client_for(personas.adjudicator)
    url = reverse("api-gold-export-create", args=[personas.workspace.slug])
    created = client.post(
        url, {"format": "csv", "filters": {"how": "agreed"}}, content_type="application/json"
    )
    assert created.status_code == 202, created.content
    body = created.json()
    assert (body["status"], body["filters"], body["download_url"]) == (
        "queued",
        {"how": "agreed"},
        None,
    )
    bad = client.post(
        url, {"format": "xlsx", "filters": {"from": "soon"}}, content_type="application/json"
    )
    assert bad.status_code == 400 and "format" in bad.json()
    emails = client.post(url, {"include_emails": True}, content_type="application/json")
    assert emails.status_code == 403


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_runs_the_export_and_the_page_shows_the_link(celery_worker, personas):
    some_gold(personas)
    client = personas.client_for(personas.adjudicator)
    response = client.post(
        reverse("reviews:gold-export-create", args=[personas.workspace.slug]),
        {"format": "parquet", "how": "adjudicated"},
    )
    assert response.status_code == 302
    export = GoldExport.objects.get()
    assert export.filters == {"how": "adjudicated"}
    done = wait_for(
        lambda: (
            GoldExport.objects.filter(pk=export.pk)
            .exclude(status__in=["queued", "running"])
            .first()
        ),
        timeout=60,
    )
    assert done.status == "succeeded", done.error_message
    assert done.rows_written == 1
    partial = client.get(response["Location"], headers={"HX-Request": "true"}).text
    assert "100%" in partial and "hx-trigger" not in partial
    link = partial.split('data-testid="export-download"')[0].rsplit('href="', 1)[1].split('"')[0]
    download = client.get(link.replace("&amp;", "&"))
    assert download.status_code == 200
    assert b"".join(download.streaming_content)[:4] == b"PAR1"
    assert celery_worker.poll() is None
    (export_dir() / done.file_name).unlink()  # the worker wrote it under the real VAR_DIR


@pytest.mark.django_db
def test_the_sweep_fails_a_running_export_whose_worker_stopped_renewing_its_lease(
    personas, settings, tmp_path
) -> None:
    settings.GOLD_EXPORT_DIR = tmp_path
    some_gold(personas)
    export = gold_export_create(
        workspace=personas.workspace,
        actor=personas.adjudicator,
        format="jsonl",
        filters=GoldFilters(),
    )
    claimed = gold_export_claim(export_id=export.pk)
    assert claimed is not None and claimed.lease_expires_at > timezone.now()
    assert gold_export_sweep() == 0  # a live lease is left alone
    # The worker was killed: nobody renews the lease, and a minute past it the sweep runs.
    later = claimed.lease_expires_at + timedelta(minutes=1)
    assert gold_export_sweep(now=later) == 1
    claimed.refresh_from_db()
    assert claimed.status == GoldExport.Status.FAILED
    assert "stopped without finishing" in claimed.error_message
    assert gold_export_sweep(now=later) == 0
    page = personas.client_for(personas.adjudicator).get(
        reverse("reviews:gold-export-detail", args=[personas.workspace.slug, export.pk])
    )
    assert "stopped without finishing" in page.text


@pytest.mark.django_db
def test_a_worker_that_was_only_slow_cannot_revive_a_swept_export(
    personas, settings, tmp_path
) -> None:
    settings.GOLD_EXPORT_DIR = tmp_path
    some_gold(personas)
    export = gold_export_create(
        workspace=personas.workspace,
        actor=personas.adjudicator,
        format="jsonl",
        filters=GoldFilters(),
    )
    claimed = gold_export_claim(export_id=export.pk)
    gold_export_sweep(now=claimed.lease_expires_at + timedelta(seconds=1))
    late = gold_export_run(export=claimed)
    assert late.status == GoldExport.Status.FAILED and not late.file_name
    assert not list((tmp_path / str(personas.workspace.pk)).glob("*"))  # its file is removed


@pytest.mark.django_db
def test_the_exports_page_lists_past_exports_with_a_link_while_the_file_is_kept(
    personas, finished
) -> None:
    failed = GoldExport.objects.create(
        workspace=personas.workspace,
        created_by=personas.owner,
        format="csv",
        status=GoldExport.Status.FAILED,
        error_message="The worker running this export stopped without finishing.",
    )
    GoldExport.objects.create(workspace=personas.other_workspace, format="parquet")
    url = reverse("reviews:gold-export-list", args=[personas.workspace.slug])
    client = personas.client_for(personas.adjudicator)
    page = client.get(url).text
    assert page.index(f'data-export="{failed.pk}"') < page.index(f'data-export="{finished.pk}"')
    assert page.count("data-export=") == 2  # not the other workspace's
    assert personas.adjudicator.email in page and personas.owner.email in page
    assert "stopped without finishing" in page and "JSON Lines" in page
    link = page.split('data-testid="export-download"')[0].rsplit('href="', 1)[1].split('"')[0]
    assert client.get(link.replace("&amp;", "&")).status_code == 200
    (export_dir() / finished.file_name).unlink()
    page = client.get(url).text
    assert 'data-testid="export-download"' not in page and "no longer kept" in page
    assert personas.client_for(personas.reviewer).get(url).status_code == 403
    outsider = reverse("reviews:gold-export-list", args=[personas.workspace.slug])
    assert personas.client_for(personas.outsider).get(outsider).status_code == 404


@pytest.mark.django_db
def test_the_command_records_who_exported_what_in_the_audit_trail(personas, tmp_path) -> None:
    some_gold(personas)
    path = tmp_path / "cli.jsonl"
    call_command(
        "export_gold",
        "--workspace", personas.workspace.slug,
        "--as", personas.adjudicator.email,
        "--output", str(path),
        "--how", "agreed",
        stdout=io.StringIO(),
    )  # fmt: skip
    event = AuditEvent.objects.get(verb="gold.export", workspace=personas.workspace)
    assert event.actor == personas.adjudicator
    assert event.data["rows"] == 1 and event.data["filters"] == {"how": "agreed"}
    assert event.data["file"] == str(path) and event.data["via"] == "cli"


@pytest.mark.django_db
def test_filters_naming_another_workspaces_campaign_are_refused_everywhere(
    personas, tmp_path
) -> None:
    from tests.reviews.factories import make_campaign

    theirs = make_campaign(personas.other_workspace, created_by=personas.outsider, transcripts=1)
    client = personas.client_for(personas.adjudicator)
    page = client.post(
        reverse("reviews:gold-export-create", args=[personas.workspace.slug]),
        {"format": "jsonl", "campaign": theirs.pk},
    )
    assert page.status_code == 400 and f"no campaign {theirs.pk}" in page.text
    api = client.post(
        reverse("api-gold-export-create", args=[personas.workspace.slug]),
        {"filters": {"campaign": theirs.pk}},
        content_type="application/json",
    )
    assert api.status_code == 400 and "campaign" in api.json()
    with pytest.raises(CommandError, match=f"--campaign: There is no campaign {theirs.pk}"):
        call_command(
            "export_gold",
            "--workspace", personas.workspace.slug,
            "--output", str(tmp_path / "x.jsonl"),
            "--campaign", str(theirs.pk),
        )  # fmt: skip
    assert not GoldExport.objects.exists()
