"""Draft and amendment API routes (included by ``specs.api_urls``)."""

from django.urls import path  # noqa: F401

urlpatterns: list = []
