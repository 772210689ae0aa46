"""Brygga settings. Every value comes from the environment; see README.md for the table."""

from __future__ import annotations

import base64
import hashlib
import re
import warnings
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="brygga-insecure-development-key-change-me")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["*"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# The public base URL of this installation; OAuth redirect URIs and the Norce
# order-receiver URL shown in admin are built from it.
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")

# Key for credentials at rest (Fernet, urlsafe base64 of 32 bytes). Without it a
# key is derived from SECRET_KEY so a development install works out of the box.
_derived = base64.urlsafe_b64encode(hashlib.sha256(("brygga-credentials:" + SECRET_KEY).encode()).digest()).decode()
CREDENTIALS_KEY = env.str("CREDENTIALS_KEY", default=_derived)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_q",
    "integrations",
    "bookkeeping",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Static files (the admin's CSS and JS) in every mode: demo, tests and production.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE transactions serialise writers, so row-lock based code (token
    # refresh, rate limiter, claiming records) stays correct on SQLite too.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "transaction_mode": "IMMEDIATE",
            "timeout": 30,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.str("REDIS_URL", default="")
# The cache is shared by every process (web, q clusters): django-q2 keeps cluster
# statistics there and /healthz reads them.
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "brygga_cache"}}

Q_BROKER = env.str("Q_BROKER", default="redis" if REDIS_URL else "orm")
Q_CLUSTER = {
    # The queue's name (its key in the broker, and the salt its messages are signed with); every
    # cluster of one deployment shares it. (django-q2's own Q_CLUSTER_NAME picks an ALT_CLUSTER.)
    "name": env.str("Q_NAME", default="brygga"),
    "workers": env.int("Q_WORKERS", default=2),
    # A task may run at most `timeout` seconds; the broker hands it out again only
    # after `retry` seconds, which must be larger. Brygga's own Task row owns retries,
    # so django-q2 tries a task at most `max_attempts` times.
    "timeout": env.int("Q_TIMEOUT", default=300),
    "retry": env.int("Q_RETRY", default=360),
    "max_attempts": env.int("Q_MAX_ATTEMPTS", default=2),
    "ack_failures": True,
    "save_limit": env.int("Q_SAVE_LIMIT", default=1000),
    "catch_up": False,
    "poll": env.float("Q_POLL", default=0.2),
    "label": "Task queue",
}
# A queue of its own, served by a second cluster (`Q_CLUSTER_NAME=<this name> manage.py qcluster`,
# with the same Q_NAME),
# for what must run on time however long the ordinary queue is: the sweeper, schedule rules and
# the fail-safe order polls they start. Empty: everything shares the one queue.
Q_PRIORITY_CLUSTER = env.str("Q_PRIORITY_CLUSTER", default="")
if Q_PRIORITY_CLUSTER:
    Q_CLUSTER["ALT_CLUSTERS"] = {Q_PRIORITY_CLUSTER: {"workers": env.int("Q_PRIORITY_WORKERS", default=1)}}
if Q_BROKER == "redis":
    Q_CLUSTER["redis"] = REDIS_URL or "redis://127.0.0.1:6379/0"
else:
    Q_CLUSTER["orm"] = "default"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en"
TIME_ZONE = env.str("TIME_ZONE", default="Europe/Stockholm")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
# WhiteNoise serves the static files. In production (STATIC_MANIFEST=true, and `collectstatic` on
# every deploy) they are served from STATIC_ROOT compressed, under content-hashed names, cacheable
# forever; `make demo` runs the same way.
# Without the manifest (tests, a plain runserver) they keep their own names and are found in the
# apps as well, so pages are styled even before `collectstatic` has run.
STATIC_MANIFEST = env.bool("STATIC_MANIFEST", default=False)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if STATIC_MANIFEST
        else "whitenoise.storage.CompressedStaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = not STATIC_MANIFEST
if not STATIC_MANIFEST:
    # Before the first `collectstatic` there is no STATIC_ROOT; the apps' files are served meanwhile.
    warnings.filterwarnings("ignore", message=f"No directory at: {re.escape(str(STATIC_ROOT))}")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # Staff only until tokens are scoped to one merchant: the API shows every merchant's data.
    "DEFAULT_PERMISSION_CLASSES": ["integrations.api.permissions.IsStaff"],
    # Every answer, errors included, is JSON; people read the API at /api/docs/.
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # limit 1..500 (default 100) and offset, both validated.
    "DEFAULT_PAGINATION_CLASS": "integrations.api.pagination.StatusPagination",
    "PAGE_SIZE": 100,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Brygga status API",
    "DESCRIPTION": (
        "Read-only status of integrations, tasks, logs, references and Connect jobs, for staff users "
        "(a token of a staff user, or a staff session). Lists take `limit` (at most 500) and `offset`; "
        "an unknown parameter or a value the schema does not allow answers 400 naming the parameter."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI (/api/docs/) and Redoc (/api/redoc/) from Brygga's own static files, not a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Other systems use a token; the session (for staff trying the API in /api/docs/) is not documented.
    "AUTHENTICATION_WHITELIST": ["rest_framework.authentication.TokenAuthentication"],
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "integrations.api.schema.add_error_responses",
    ],
    "ENUM_NAME_OVERRIDES": {
        "IntegrationStatusEnum": "integrations.models.Integration.Status",
        "TaskStatusEnum": "integrations.models.Task.Status",
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.server": {"level": "WARNING"}},
}

# --- Brygga engine -----------------------------------------------------------
# The connector packages Brygga offers: each holds a `system` module declaring its SYSTEM
# (core.systems.SystemDeclaration). A new system is a package and a line here.
BRYGGA_CONNECTORS = env.list(
    "BRYGGA_CONNECTORS", default=["connectors.norce", "connectors.fortnox", "connectors.vismanet"]
)

BRYGGA = {
    # Task-level retries for transient errors: exponential backoff from BASE seconds.
    "TASK_MAX_ATTEMPTS": env.int("TASK_MAX_ATTEMPTS", default=8),
    "TASK_BACKOFF_BASE": env.float("TASK_BACKOFF_BASE", default=15.0),
    "TASK_BACKOFF_MAX": env.float("TASK_BACKOFF_MAX", default=3600.0),
    # A running task's worker beats its row (and renews its records' leases) this often...
    "TASK_HEARTBEAT_SECONDS": env.float("TASK_HEARTBEAT_SECONDS", default=10.0),
    # ...so a task whose heartbeat is older than this lost its worker: the sweeper queues it
    # again, and a record's lease (renewed by the heartbeat) lapses after as long.
    "TASK_STUCK_AFTER": env.int("TASK_STUCK_AFTER", default=60),
    "TASK_LOST_AFTER": env.int("TASK_LOST_AFTER", default=90),
    # HTTP timeouts (connect, read) for outbound API calls.
    "HTTP_TIMEOUT": env.float("HTTP_TIMEOUT", default=30.0),
    # Honour rate limits of the external APIs (switch off only for benchmarks).
    "RATE_LIMITS": env.bool("RATE_LIMITS", default=True),
    # Norce Connect requests a minute (of 60) kept for stock updates and order statuses,
    # so a long product or price import never starves them.
    "CONNECT_PRIORITY_RESERVE": env.int("CONNECT_PRIORITY_RESERVE", default=10),
    # A task that sends a backlog (master data, order statuses) works for at most this long,
    # then continues in a new task: well under the queue's timeout (Q_TIMEOUT), and queued
    # work of other flows (stock) gets a worker in between.
    "TASK_SLICE_SECONDS": env.float("TASK_SLICE_SECONDS", default=120.0),
    # How often each orders flow compares the ERP's recently changed invoices with its orders,
    # to find an order invoiced twice (e.g. a create that committed after its timeout); 0 = never.
    "ORDER_RECONCILE_MINUTES": env.float("ORDER_RECONCILE_MINUTES", default=10.0),
    # Where full-file resyncs spool the catalogue (gzip) between reading and sending.
    "SPOOL_DIR": env.str("SPOOL_DIR", default=str(BASE_DIR / "var" / "spool")),
    # The priority queue's cluster name (see Q_PRIORITY_CLUSTER above), or "" for none.
    "PRIORITY_CLUSTER": Q_PRIORITY_CLUSTER,
}
