"""Draft and amendment pages under ``/w/<workspace>/specs/`` (included by ``specs.urls``)."""

from django.urls import path  # noqa: F401

urlpatterns: list = []
