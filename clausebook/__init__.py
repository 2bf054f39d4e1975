"""The project package: settings, URLs, the Celery app and the platform-wide app.

The Celery app is not imported here (the usual Django recipe does): importing Celery costs a
quarter of a second at every start, and management commands such as ``import_transcripts`` never
send a task. Task modules bind to the app themselves (``@app.task``), and the worker is started
with ``-A clausebook.celery``.
"""
