"""Gold export: the rows (``rows``, the one Django module here) and framework-free writers.

One gold row (a dict, as ``rows.iter_gold_rows`` yields it and every writer takes it)::

    messages            [{"role", "content", ...}]  the transcript, as stored (OpenAI chat);
                        for JSONL (``raw_messages``) its stored JSON text as an orjson.Fragment
    clause              the clause key            spec, spec_version: slug and version label
    verdict, severity, rationale                  the gold decision
    decided_how         "adjudicated" | "agreed"
    decided_by          the adjudicator (pseudonym, or email when an admin asked), "" if agreed
    agreeing_reviewers  who agreed (agreed gold), [] otherwise;  rule: the campaign's rule then
    labels              every submitted label on the (item, clause), humans first:
                        [{"source", "reviewer", "judge_run", "verdict", "severity",
                          "rationale", "submitted_at"}]; a reviewer's is source "human" with
                        their pseudonym (judge_run null), a model judge's is source "judge"
                        with its judge run id (reviewer "")
    agreement           {"labels", "top_verdict", "top_share", "gold_share"} over the human
                        labels only (a judge is reported beside them, never mixed in)
    provenance          {"campaign_id", "campaign_title", "item_id", "transcript_id",
                         "transcript_external_id", "decision_id", "decided_at", "exported_at",
                         "clausebook_version"}

Writers take any iterable of rows and pull them one at a time (JSONL, CSV) or one batch at a
time (Parquet, pairs by prompt group), so memory stays flat however many rows there are.
"""
