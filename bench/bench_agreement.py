"""Agreement figures: the report of a campaign with 100,000 items × 3 reviewers × 5 clauses
(1.5 M submitted human labels), cold and as the dashboard reads it once computed.

Setup (once per bench database): a workspace, three reviewers, a published spec version of five
clauses, a campaign over 100,000 transcripts, and its items, assignments and labels inserted with
``INSERT … SELECT generate_series`` (no services: a million and a half label writes through them
would take an hour), then analysed. Verdicts lean on "complies" as safety labels do, reviewers
mostly agree, and one label in a hundred was revised after the reveal (a ``revise`` history
row), so first submissions and final labels differ.

Figures:

* cold: the cache cleared, ``campaign_agreement`` computes the whole report (bootstrap intervals
  included, 1,000 draws per figure) and stores it;
* cached: ``campaign_agreement`` once computed: the cache key (the campaign's latest label
  change) and the cache read, which is what the dashboard page pays;
* page: ``GET`` of the agreement dashboard through ``django.test.Client``, cached report.
"""

from __future__ import annotations

import time
from typing import Any

from bench.core import Benchmark, Result

ITEMS = 100_000
REVIEWERS = 3
CLAUSES = 5
WS = "bench-agreement"
TITLE = "Bench agreement"
COLD_RUNS = 3
CACHED_RUNS = 30
_state: dict[str, Any] = {}


def _setup() -> dict[str, Any]:
    from bench.db import analyze, ensure_bench_database

    ensure_bench_database()
    from django.db import connection, transaction
    from django.utils import timezone

    from clausebook.models import Membership, Role, User, Workspace
    from reviews.models import Campaign, CampaignClause, CampaignReviewer, Label
    from reviews.services.campaigns import DEFAULT_SEVERITY_SCALE, DEFAULT_VERDICT_SCALE
    from specs.models import Clause, Spec, SpecVersion, VersionStatus

    workspace, _ = Workspace.objects.get_or_create(slug=WS, defaults={"name": "Bench agreement"})
    users = []
    for name, role in [("lead", Role.ADJUDICATOR)] + [
        (f"reviewer{i}", Role.REVIEWER) for i in range(REVIEWERS)
    ]:
        email = f"{name}@agreement.bench.test"
        user = User.objects.filter(email=email).first() or User.objects.create_user(
            email=email,
            password="bench-password-1",  # noqa: S106 - bench users
        )
        Membership.objects.get_or_create(workspace=workspace, user=user, defaults={"role": role})
        users.append(user)
    lead, reviewers = users[0], users[1:]
    campaign = Campaign.objects.filter(workspace=workspace, title=TITLE).first()
    if campaign is not None:
        return {"campaign": campaign, "lead": lead}
    with transaction.atomic():
        spec, _ = Spec.objects.get_or_create(
            workspace=workspace, slug="bench-agreement", defaults={"title": "Bench agreement"}
        )
        version = SpecVersion.objects.create(spec=spec, label=f"bench-{time.time_ns()}")
        clauses = [
            Clause.objects.create(
                version=version,
                key=f"clause_{i}",
                title=f"Clause {i}",
                level=1,
                position=i,
                authority="user",
                body=f"The assistant should behave well in situation {i}.",
            )
            for i in range(CLAUSES)
        ]
        version.status = VersionStatus.PUBLISHED
        version.published_at = timezone.now()
        version.save()
        campaign = Campaign.objects.create(
            workspace=workspace,
            title=TITLE,
            spec_version=version,
            reviewers_per_item=REVIEWERS,
            verdict_scale=DEFAULT_VERDICT_SCALE,
            severity_scale=DEFAULT_SEVERITY_SCALE,
            status=Campaign.Status.OPEN,
            created_by=lead,
            item_count=ITEMS,
        )
        CampaignClause.objects.bulk_create(
            CampaignClause(campaign=campaign, clause=clause, position=i)
            for i, clause in enumerate(clauses)
        )
        CampaignReviewer.objects.bulk_create(
            CampaignReviewer(campaign=campaign, user=user) for user in reviewers
        )
        params = {
            "ws": workspace.pk,
            "campaign": campaign.pk,
            "items": ITEMS,
            "reviewers": [user.pk for user in reviewers],
            "clauses": [clause.pk for clause in clauses],
            "verdicts": [entry["value"] for entry in DEFAULT_VERDICT_SCALE],
            "severities": [entry["value"] for entry in DEFAULT_SEVERITY_SCALE],
            "prefix": f"bench-agreement-{campaign.pk}-",
            "lead": lead.pk,
        }
        with connection.cursor() as cursor:
            # The rows below are consistent by construction; without this, the commit would
            # check ~10 M deferred foreign keys one row at a time (minutes). Bench data only.
            cursor.execute("SET LOCAL session_replication_role = replica")
            cursor.execute("SELECT setseed(0.42)")
            cursor.execute(
                """
                INSERT INTO transcripts_transcript (workspace_id, messages, message_count,
                    content_hash, external_id, source, model, metadata, tags, pair_key,
                    variant, origin, created_at)
                SELECT %(ws)s, jsonb_build_array(
                        jsonb_build_object('role', 'user', 'content', 'Question ' || g),
                        jsonb_build_object('role', 'assistant', 'content', 'Answer ' || g)),
                    2, md5(%(prefix)s || g), %(prefix)s || g, 'bench', '', '{}'::jsonb,
                    ARRAY['bench']::varchar[], '', '', 'import', now()
                FROM generate_series(1, %(items)s) AS g ORDER BY g
                """,
                params,
            )
            cursor.execute(
                """
                INSERT INTO reviews_item (campaign_id, transcript_id, position, state,
                    open_slots, submitted_count, created_at)
                SELECT %(campaign)s, t.id, row_number() OVER (ORDER BY t.id), 'agreed', 0,
                    cardinality(%(reviewers)s::bigint[]), now()
                FROM transcripts_transcript t
                WHERE t.workspace_id = %(ws)s AND t.external_id LIKE %(prefix)s || '%%'
                ORDER BY t.id
                """,
                params,
            )
            cursor.execute(
                """
                INSERT INTO reviews_assignment (campaign_id, item_id, reviewer_id, status,
                    skip_reason, claimed_at, submitted_at)
                SELECT %(campaign)s, i.id, r.id, 'submitted', '',
                    now() - interval '1 hour' + i.position * interval '10 millisecond',
                    now() - interval '1 hour' + i.position * interval '10 millisecond'
                        + (20 + (i.id * 7 + r.id) %% 90) * interval '1 second'
                FROM reviews_item i CROSS JOIN unnest(%(reviewers)s::bigint[]) AS r(id)
                WHERE i.campaign_id = %(campaign)s
                ORDER BY i.id, r.id
                """,
                params,
            )
            # Per (item, clause) a true verdict leaning on "complies"; each reviewer gives it
            # four times in five and otherwise a verdict of their own.
            cursor.execute(
                """
                INSERT INTO reviews_label (campaign_id, item_id, clause_id, source, reviewer_id,
                    assignment_id, verdict, severity, rationale, spans, status, revision,
                    created_at, updated_at, submitted_at)
                SELECT a.campaign_id, a.item_id, c.id, 'human', a.reviewer_id, a.id,
                    (%(verdicts)s::text[])[CASE WHEN random() < 0.8 THEN u.truth
                                                ELSE 1 + floor(random() * 4)::int END],
                    (%(severities)s::text[])[1 + floor(random() * 5)::int],
                    '', '[]'::jsonb, 'submitted', 2, a.submitted_at, a.submitted_at,
                    a.submitted_at
                FROM reviews_assignment a
                CROSS JOIN unnest(%(clauses)s::bigint[]) AS c(id)
                CROSS JOIN LATERAL (
                    SELECT CASE WHEN x < 0.7 THEN 1 WHEN x < 0.8 THEN 2 WHEN x < 0.9 THEN 3
                                ELSE 4 END AS truth
                    FROM (SELECT abs(hashtext(a.item_id || ':' || c.id)) %% 1000 / 1000.0) AS h(x)
                ) AS u
                WHERE a.campaign_id = %(campaign)s
                ORDER BY a.item_id, c.id, a.reviewer_id
                """,
                params,
            )
            cursor.execute(
                """
                INSERT INTO reviews_labelrevision (label_id, revision, kind, changed_by_id,
                    changed_at, before, after)
                SELECT l.id, 3, 'revise', l.reviewer_id, l.updated_at,
                    jsonb_build_object('verdict', 'violates', 'severity', l.severity,
                        'rationale', '', 'spans', '[]'::jsonb, 'status', 'submitted'),
                    jsonb_build_object('verdict', l.verdict, 'severity', l.severity,
                        'rationale', '', 'spans', '[]'::jsonb, 'status', 'submitted')
                FROM reviews_label l
                WHERE l.campaign_id = %(campaign)s AND l.id %% 100 = 0
                """,
                params,
            )
            # Every label's submit row, as the labeling page writes it: the history the
            # first-submission read must not walk.
            cursor.execute(
                """
                INSERT INTO reviews_labelrevision (label_id, revision, kind, changed_by_id,
                    changed_at, before, after)
                SELECT l.id, 2, 'submit', l.reviewer_id, l.submitted_at, '{}'::jsonb,
                    '{}'::jsonb
                FROM reviews_label l
                WHERE l.campaign_id = %(campaign)s
                """,
                params,
            )
    assert Label.objects.filter(campaign=campaign).count() == ITEMS * REVIEWERS * CLAUSES
    with connection.cursor() as cursor:
        cursor.execute("VACUUM reviews_label")
        cursor.execute("VACUUM reviews_labelrevision")
    analyze()
    return {"campaign": campaign, "lead": lead}


def _ctx() -> dict[str, Any]:
    if not _state:
        _state.update(_setup())
    return _state


def bench_report_cold() -> Result:
    from django.core.cache import cache

    from reviews.selectors.agreement import campaign_agreement

    campaign = _ctx()["campaign"]
    samples = []
    report: dict[str, Any] = {}
    for _ in range(COLD_RUNS):
        cache.clear()
        start = time.perf_counter()
        report = campaign_agreement(campaign)
        samples.append(time.perf_counter() - start)
    labels = report["counts"]["labels"]
    assert labels == ITEMS * REVIEWERS * CLAUSES, labels
    return Result(samples, unit="s", note=f"{labels:,} labels, cache cleared each run")


def bench_report_cached() -> Result:
    from reviews.selectors.agreement import campaign_agreement

    campaign = _ctx()["campaign"]
    campaign_agreement(campaign)
    samples = []
    for _ in range(CACHED_RUNS):
        start = time.perf_counter()
        campaign_agreement(campaign)
        samples.append((time.perf_counter() - start) * 1000)
    return Result(samples, note="cache key + cache read")


def bench_dashboard_page() -> Result:
    from django.test import Client
    from django.urls import reverse

    from reviews.selectors.agreement import campaign_agreement

    ctx = _ctx()
    campaign = ctx["campaign"]
    campaign_agreement(campaign)
    client = Client()
    client.force_login(ctx["lead"])
    url = reverse(
        "reviews:campaign-agreement",
        kwargs={"workspace": WS, "campaign_id": campaign.pk},
    )
    assert client.get(url).status_code == 200  # the first request of a process loads code
    samples = []
    for _ in range(CACHED_RUNS):
        start = time.perf_counter()
        response = client.get(url)
        samples.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, response.status_code
    return Result(samples, note="GET via django.test.Client, report cached")


BENCHMARKS = [
    Benchmark("agreement report 100k × 3 × 5, cold", "≤ 5 s", bench_report_cold, "agreement", 5),
    Benchmark("agreement report, cached", "≤ 200 ms", bench_report_cached, "agreement", 200),
    Benchmark("agreement dashboard page, cached", "≤ 200 ms", bench_dashboard_page, "agreement", 200),
]  # fmt: skip
