"""Test settings: the real settings, with fast hashing and in-memory email."""

import os

os.environ.setdefault("DEBUG", "true")
# The test run and the worker it starts share a broker folder of their own, apart from the demo's.
os.environ.setdefault(
    "CLAUSEBOOK_BROKER_DIR",
    os.path.join(os.path.dirname(os.path.dirname(__file__)), "var", "test-broker"),
)

from clausebook.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # noqa: S105 - tests only
# In-process tests read django.core.mail.outbox. A worker process has its own memory, so the
# worker fixture names a folder (CLAUSEBOOK_TEST_OUTBOX) where that process writes each message.
if os.environ.get("CLAUSEBOOK_TEST_OUTBOX"):
    MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.filebased.EmailBackend",
            "OPTIONS": {"file_path": os.environ["CLAUSEBOOK_TEST_OUTBOX"]},
        }
    }
else:
    MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
LOGGING = {"version": 1, "disable_existing_loggers": False, "root": {"level": "WARNING"}}
REST_FRAMEWORK = {
    **REST_FRAMEWORK,
    "DEFAULT_THROTTLE_RATES": {"writes": "100000/min", "anon": "100000/min"},
}  # noqa: F405

# Several test runs may share one PostgreSQL server (the embedded one, or CI's); each names its
# own test database so they never drop each other's.
DATABASES["default"]["TEST"] = {"NAME": os.environ.get("TEST_DB_NAME", "test_clausebook")}  # noqa: F405
