"""Model endpoint pages (included by ``reviews.urls``): admins only."""

from django.urls import path

from reviews.views import endpoints as views

urlpatterns = [
    path("endpoints/", views.endpoint_list, name="endpoint-list"),
    path("endpoints/new/", views.endpoint_create, name="endpoint-create"),
    path("endpoints/<int:endpoint_id>/", views.endpoint_update, name="endpoint-update"),
    path("endpoints/<int:endpoint_id>/delete/", views.endpoint_delete, name="endpoint-delete"),
]
