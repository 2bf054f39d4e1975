"""Celery tasks for specs: none yet.

Importing a version (270 KB of Markdown) takes well under a second inside the request, so it
runs in the request, in one transaction. A long-running spec job would live here, as a thin
task that takes ids and calls ``specs.services``.
"""
