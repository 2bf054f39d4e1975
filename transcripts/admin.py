"""Admin for transcripts: browsing and support only; imports go through the app's services."""

from __future__ import annotations

from django.contrib import admin

from transcripts.models import Scenario, Transcript, TranscriptImport


@admin.register(Transcript)
class TranscriptAdmin(admin.ModelAdmin):
    list_display = ["pk", "external_id", "model", "source", "origin", "workspace", "created_at"]
    list_filter = ["origin"]
    search_fields = ["external_id", "model", "source"]
    raw_id_fields = ["workspace", "import_run", "origin_scenario", "origin_transcript"]


@admin.register(TranscriptImport)
class TranscriptImportAdmin(admin.ModelAdmin):
    list_display = [
        "pk",
        "filename",
        "status",
        "failure",
        "attempts",
        "workspace",
        "created_count",
        "created_at",
    ]
    list_filter = ["status", "failure"]
    raw_id_fields = ["workspace", "created_by"]


@admin.register(Scenario)
class ScenarioAdmin(admin.ModelAdmin):
    list_display = ["title", "source", "workspace", "created_at"]
    list_filter = ["source"]
    search_fields = ["title", "external_id"]
    raw_id_fields = ["workspace", "eval_prompt", "example", "origin_transcript", "import_run"]
