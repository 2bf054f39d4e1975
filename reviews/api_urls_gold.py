"""API routes for gold, under ``/api/v1/workspaces/<workspace>/`` (included by ``reviews.api_urls``)."""

from django.urls import path  # noqa: F401

urlpatterns: list = []
