"""Model endpoint API routes, under ``/api/v1/workspaces/<workspace>/`` (included by
``reviews.api_urls``): admins only."""

from django.urls import path

from reviews.api.endpoints import EndpointDetailView, EndpointListView

urlpatterns = [
    path("endpoints/", EndpointListView.as_view(), name="api-endpoint-list"),
    path("endpoints/<int:endpoint_id>/", EndpointDetailView.as_view(), name="api-endpoint-detail"),
]
