"""Pages for agreement (included by ``reviews.urls``)."""

from django.urls import path  # noqa: F401

urlpatterns: list = []
