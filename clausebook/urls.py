from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularSwaggerView

from clausebook import api, views
from reviews.views import dashboard as reviews_dashboard

workspace_patterns = [
    path("", reviews_dashboard.dashboard, name="workspace-dashboard"),
    path("members/", views.members, name="workspace-members"),
    path("settings/", views.workspace_settings, name="workspace-settings"),
    path("members/<int:membership_id>/role/", views.member_role, name="workspace-member-role"),
    path(
        "members/<int:membership_id>/remove/", views.member_remove, name="workspace-member-remove"
    ),
    path("specs/", include("specs.urls")),
    path("", include("transcripts.urls")),
    path("", include("reviews.urls")),
]

api_workspace_patterns = [
    path("", api.WorkspaceDetailView.as_view(), name="api-workspace-detail"),
    path("members/", api.MemberListView.as_view(), name="api-member-list"),
    path("members/<int:membership_id>/", api.MemberDetailView.as_view(), name="api-member-detail"),
    path("", include("specs.api_urls")),
    path("", include("transcripts.api_urls")),
    path("", include("reviews.api_urls")),
]

api_patterns = [
    path("me/", api.MeView.as_view(), name="api-me"),
    path("workspaces/", api.WorkspaceListView.as_view(), name="api-workspace-list"),
    path("workspaces/<slug:workspace>/", include(api_workspace_patterns)),
]

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("accounts/", include("allauth.urls")),
    path("settings/tokens/", views.api_tokens, name="api-tokens"),
    path("settings/tokens/<int:token_id>/revoke/", views.api_token_revoke, name="api-token-revoke"),
    # The emailed link (its token is redacted from access logs: clausebook/logfilters.py), and
    # the page it moves on to, addressed by id.
    path("invitations/<str:token>/", views.invitation_link, name="invitation-accept"),
    path(
        "invitations/<int:invitation_id>/accept/",
        views.invitation_detail,
        name="invitation-detail",
    ),
    path("workspaces/new/", views.workspace_create, name="workspace-create"),
    path("w/<slug:workspace>/", include(workspace_patterns)),
    path("api/v1/", include(api_patterns)),
    path("api/schema/", api.SchemaView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("admin/", admin.site.urls),
]

handler404 = "clausebook.errors.not_found"
