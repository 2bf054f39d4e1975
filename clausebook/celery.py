"""The Celery app. Settings come from CELERY_* in settings.py.

Unlike the official Django recipe, ``clausebook/__init__.py`` does not import this module (see
there why): start workers with ``-A clausebook.celery``; task modules import ``app`` from here.
"""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clausebook.settings")

app = Celery("clausebook", task_cls="celery.contrib.django.task:DjangoTask")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
