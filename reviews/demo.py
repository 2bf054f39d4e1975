"""Demo data for reviews: real transcripts from data/transcripts, then a campaign on them."""

from __future__ import annotations

from typing import Any


def seed(platform: Any, stdout: Any) -> None:
    from reviews import demo_campaigns, demo_transcripts

    demo_transcripts.seed(platform, stdout=stdout)
    demo_campaigns.seed(platform, stdout=stdout)
