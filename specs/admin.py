"""Admin for specs: browsing and support only. Imports and publishing go through the app (the
services record audit events); published versions, their clauses and eval prompts are read-only
here as in the database."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from specs.models import Clause, ClauseAlias, EvalPrompt, Spec, SpecVersion
from specs.plaintext import clause_text


@admin.register(Spec)
class SpecAdmin(admin.ModelAdmin):
    list_display = ["title", "slug", "workspace", "created_at"]
    list_select_related = ["workspace"]
    search_fields = ["title", "slug"]
    raw_id_fields = ["workspace"]


class _FrozenWhenPublished(admin.ModelAdmin):
    """No change or delete through the admin once the version is not a draft."""

    def version_of(self, obj: Any) -> SpecVersion:
        raise NotImplementedError

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and self.version_of(obj).status != "draft":
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and self.version_of(obj).status != "draft":
            return False
        return super().has_delete_permission(request, obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # versions and clauses come from an import


@admin.register(SpecVersion)
class SpecVersionAdmin(_FrozenWhenPublished):
    list_display = ["spec", "label", "status", "clause_count", "example_count", "published_at"]
    list_filter = ["status"]
    list_select_related = ["spec"]
    search_fields = ["label", "spec__title"]
    readonly_fields = [f.name for f in SpecVersion._meta.fields]

    def version_of(self, obj: SpecVersion) -> SpecVersion:
        return obj


@admin.register(Clause)
class ClauseAdmin(_FrozenWhenPublished):
    list_display = ["key", "title", "authority", "version"]
    list_filter = ["authority"]
    list_select_related = ["version__spec"]
    search_fields = ["key", "title"]
    readonly_fields = ["version", "parent", "key", "position", "level", "source_line", "text"]

    def version_of(self, obj: Clause) -> SpecVersion:
        return obj.version

    def save_model(self, request: HttpRequest, obj: Clause, form: Any, change: bool) -> None:
        # The text as read follows the body it is derived from (search and the diff read it).
        titles = dict(Clause.objects.filter(version=obj.version).values_list("key", "title"))
        obj.text = clause_text(obj.body, titles=titles)
        super().save_model(request, obj, form, change)


@admin.register(ClauseAlias)
class ClauseAliasAdmin(admin.ModelAdmin):
    list_display = ["spec", "old_key", "new_key", "status", "similarity", "decided_at"]
    list_filter = ["status"]
    readonly_fields = ["spec", "old_key", "new_key", "status", "similarity", "decided_by"]


@admin.register(EvalPrompt)
class EvalPromptAdmin(_FrozenWhenPublished):
    list_display = ["title", "footnote_id", "clause"]
    list_select_related = ["clause__version__spec"]
    search_fields = ["title", "footnote_id"]
    readonly_fields = ["clause", "footnote_id", "position"]

    def version_of(self, obj: EvalPrompt) -> SpecVersion:
        return obj.clause.version
