"""Settings shared by every mode, read from the environment (12-factor).

Unset `DATABASE_URL` means a SQLite file under var/; unset `REDIS_URL` means the embedded
back ends (in-memory channel layer, filesystem Celery broker, file cache), so one machine
needs no server. Set them and the same code runs on PostgreSQL and Redis.
"""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path

import environ

from maskportal.private_files import PRIVATE_DIR, PRIVATE_FILE, private_dir, private_file, write_private

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(environ.Env().str("MASKPORTAL_VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

env = environ.Env()
env.read_env(BASE_DIR / ".env")


def _development_secret_key() -> str:
    """A random key generated once and kept under var/, so sessions survive restarts."""
    key_file = VAR_DIR / "secret_key"
    if not key_file.exists():
        write_private(key_file, secrets.token_urlsafe(50))
    private_file(key_file)
    return key_file.read_text().strip()


SECRET_KEY = env.str("SECRET_KEY", default="") or _development_secret_key()
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=["http://127.0.0.1:8000", "http://localhost:8000"])

INSTALLED_APPS = [
    "daphne",  # `manage.py runserver` over ASGI; `make run` and deployments serve with deploy/start-web
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "django_celery_beat",
    "django_celery_results",
    "axes",
    "csp",
    "accounts",
    "detection",
    "training",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "accounts.audit.AuditRequestMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "accounts.middleware.PasswordChangeRequiredMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "axes.middleware.AxesMiddleware",  # answers a locked-out login with the lockout page
    # innermost, so it sees a view's exception first: an outage becomes a clear 503 (maskportal.outages)
    "maskportal.outages.ServiceUnavailableMiddleware",
]

ROOT_URLCONF = "maskportal.urls"
ASGI_APPLICATION = "maskportal.asgi.application"
WSGI_APPLICATION = None

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
                "accounts.context_processors.roles",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
#: Seconds to wait for the database server to answer a connection, and at most for one statement:
#: while PostgreSQL is down a request answers 503 within seconds instead of hanging.
DATABASE_CONNECT_TIMEOUT = env.int("DATABASE_CONNECT_TIMEOUT", default=3)
DATABASE_STATEMENT_TIMEOUT = env.int("DATABASE_STATEMENT_TIMEOUT", default=60)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker and beat share the file: wait for locks instead of failing at once.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 30, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"}
    )
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test_db.sqlite3")}
    if DATABASES["default"]["NAME"] not in ("", ":memory:"):
        # SQLite gives its -wal and -shm files the database file's mode: 0600 for all three.
        private_file(Path(DATABASES["default"]["NAME"]))
else:
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "connect_timeout": DATABASE_CONNECT_TIMEOUT,
            "options": f"-c statement_timeout={DATABASE_STATEMENT_TIMEOUT * 1000}",
        }
    )
    # A kept connection is checked before use, so one broken by a database restart is replaced at
    # once instead of failing the next request (with the pool: psycopg's check at checkout).
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] != "django.db.backends.sqlite3" and env.bool("DATABASE_POOL", default=False):
    # psycopg's pool: a connection closed at the end of a request goes back to it, so the web
    # process's request threads (see asgi.py) share at most DATABASE_POOL_SIZE connections.
    # A request waits at most `timeout` for a connection (503 after), and a failed reconnection
    # gives up after `reconnect_timeout` instead of backing off for minutes, so the first request
    # after the database is back connects at once.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"]["pool"] = {
        "min_size": 2,
        "max_size": env.int("DATABASE_POOL_SIZE", default=10),
        "timeout": DATABASE_CONNECT_TIMEOUT,
        "reconnect_timeout": DATABASE_CONNECT_TIMEOUT,
    }
elif DATABASES["default"]["ENGINE"] != "django.db.backends.sqlite3":
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "accounts.lockout.LockoutBackend",  # refuses a locked-out user+IP before the password is checked
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "accounts:login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

# --- Brute-force lockout (django-axes) ------------------------------------------------------
#: Failed logins of one username from one IP address before that pair is locked out.
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
#: A lockout ends by itself after this long (0: only an Admin's unlock ends it).
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_LOCKOUT_MINUTES", default=15)) or None
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_CLIENT_IP_CALLABLE = "accounts.audit.client_ip"  # the same address the audit log records
AXES_SENSITIVE_PARAMETERS = ["password"]
AXES_VERBOSE = False  # the audit log records lockouts; no log line for every successful login

# --- Content-Security-Policy (django-csp): same-origin scripts, styles and images only -------
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:", "blob:"],
        "connect-src": ["'self'"],
        "media-src": ["'self'", "blob:"],
        "font-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

# --- Files ----------------------------------------------------------------------------
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(VAR_DIR / "staticfiles")))
STORAGES = {
    "default": {"BACKEND": "maskportal.storage.AtomicFileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
MEDIA_URL = "media/"
MEDIA_ROOT = private_dir(Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "media"))))
# Face photos, crops and uploads: readable by the platform's user only.
FILE_UPLOAD_PERMISSIONS = PRIVATE_FILE
FILE_UPLOAD_DIRECTORY_PERMISSIONS = PRIVATE_DIR

# Upload limits: per file, per request, and the decoded-pixel guard shared with the engine.
MAX_UPLOAD_BYTES = env.int("MAX_UPLOAD_BYTES", default=20 * 1024 * 1024)
#: Largest request body (the training-data ZIP import is the largest upload); bigger ones are refused
#: with 413 before the application buffers anything (maskportal/body_limit.py). Keep nginx's
#: client_max_body_size equal (deploy/nginx/maskportal.conf).
MAX_REQUEST_BYTES = env.int("MAX_REQUEST_BYTES", default=10 * MAX_UPLOAD_BYTES)
MAX_IMAGE_PIXELS = env.int("MAX_IMAGE_PIXELS", default=50_000_000)
MAX_ZIP_MEMBERS = env.int("MAX_ZIP_MEMBERS", default=2000)
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=10 * 1024 * 1024)
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_NUMBER_FILES = env.int("DATA_UPLOAD_MAX_NUMBER_FILES", default=500)

# --- Redis or embedded back ends ------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
#: Hard limit of any task (a training job is the longest; batch chunks have their own, shorter one).
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=4 * 3600)
#: A message a killed worker held goes back to the queue after this long. It is longer than any
#: task may run, so a slow task is never delivered twice while it still runs; lost work is
#: resumed much sooner by the recovery sweeps (batches, training jobs, imports).
CELERY_VISIBILITY_TIMEOUT = env.int("CELERY_VISIBILITY_TIMEOUT", default=CELERY_TASK_TIME_LIMIT + 3600)


def redis_channel_layer(url: str) -> dict:
    """The channel layer on the Redis at `url` (the fault tests point it at a Redis of their own)."""
    return {
        "BACKEND": "maskportal.channel_layer.SafeRedisChannelLayer",
        # redis-py 8 times reads out after 5 s by default, exactly the layer's blocking-receive
        # time, so idle sockets died with TimeoutError after ~5 s; the receive's own 5 s server-side
        # timeout bounds the reads instead (a finite socket timeout here hung task cancellation).
        "CONFIG": {"hosts": [{"address": url, "socket_timeout": None}], "capacity": 200, "expiry": 30},
    }


if REDIS_URL:
    CHANNEL_LAYERS = {"default": redis_channel_layer(REDIS_URL)}
    CACHES = {
        "default": {"BACKEND": "maskportal.cache.SharedPoolRedisCache", "LOCATION": REDIS_URL},
        "throttle": {
            "BACKEND": "maskportal.cache.SharedPoolRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "throttle",
        },
    }
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_VISIBILITY_TIMEOUT}
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    # A file cache is shared by web, worker and beat on one machine (locmem would not be).
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        },
        "throttle": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache-throttle"),
        },
    }
    BROKER_DIR = VAR_DIR / "broker"
    for _sub in ("out", "processed", "control"):
        (BROKER_DIR / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "out"),
        "data_folder_out": str(BROKER_DIR / "out"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
    }

#: Where processes without a shared channel layer leave realtime messages for the web process.
REALTIME_OUTBOX_DIR = VAR_DIR / "outbox"

# --- Celery ---------------------------------------------------------------------------
CELERY_RESULT_BACKEND = "django-db"
CELERY_RESULT_EXTENDED = True
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {
    "detection.tasks.run_batch*": {"queue": "batch"},
    "training.tasks.run_training_job": {"queue": "training"},
}
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
#: A batch chunk that started and shows no progress for this long is resumed (its worker died).
#: A running chunk beats every second from a side thread, so a few seconds suffice.
BATCH_STALL_SECONDS = env.int("BATCH_STALL_SECONDS", default=5)

# --- REST framework -------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.CachedTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # One permission class for the whole API: model permissions of the user's role, reads included.
    "DEFAULT_PERMISSION_CLASSES": ["accounts.permissions.ModelPermissions"],
    "DEFAULT_THROTTLE_CLASSES": [
        "accounts.throttles.AnonThrottle",
        "accounts.throttles.UserThrottle",
        "accounts.throttles.ScopedThrottle",
    ],
    # Per user (per IP for anonymous requests); "analysis" is every endpoint that runs the engine.
    "DEFAULT_THROTTLE_RATES": {
        "anon": env.str("API_THROTTLE_ANON", default="60/minute"),
        "user": env.str("API_THROTTLE_USER", default="1200/minute"),
        "analysis": env.str("API_THROTTLE_ANALYSIS", default="60/minute"),
    },
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # The URL says /api/v1/; a client may also name the version it speaks (Accept: ...; version=1).
    "DEFAULT_VERSIONING_CLASS": "rest_framework.versioning.AcceptHeaderVersioning",
    "DEFAULT_VERSION": "1",
    "ALLOWED_VERSIONS": ["1"],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "MaskPortal API",
    "DESCRIPTION": "Face-mask detection, recognition and retraining.",
    "VERSION": "1.0.0",
    "ENUM_NAME_OVERRIDES": {
        "MaskLabelEnum": "detection.models.MaskLabel",
        "BatchItemStatusEnum": "detection.models.BatchItem.Status",
        "JobStatusEnum": "detection.models.BatchJob.Status",
    },
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
}

# --- Engine ---------------------------------------------------------------------------
#: Default engine mode for uploads ("accurate") and for live video ("fast").
ENGINE_UPLOAD_MODE = env.str("ENGINE_UPLOAD_MODE", default="accurate")
ENGINE_LIVE_MODE = env.str("ENGINE_LIVE_MODE", default="fast")
ENGINE_THREADS = env.int("ENGINE_THREADS", default=1)

# --- Live video (issue 7) ---------------------------------------------------------------
#: Frames per second one live socket may send; extra frames are dropped with an error message.
LIVE_MAX_FPS = env.float("LIVE_MAX_FPS", default=30.0)
#: Largest WebSocket message; the web server closes a socket that sends more (maskportal/gunicorn_conf.py).
WS_MAX_MESSAGE_BYTES = env.int("WS_MAX_MESSAGE_BYTES", default=1024 * 1024)
#: Larger frames get an error and the socket stays open; keep this below WS_MAX_MESSAGE_BYTES.
LIVE_MAX_FRAME_BYTES = env.int("LIVE_MAX_FRAME_BYTES", default=768 * 1024)
LIVE_MAX_FRAME_PIXELS = env.int("LIVE_MAX_FRAME_PIXELS", default=1920 * 1080)
#: Threads analysing live frames in one web process (shared by all its sockets).
LIVE_WORKERS = env.int("LIVE_WORKERS", default=0) or min(8, os.cpu_count() or 2)
#: Live identity (docs/live.md): a name is shown and logged only after this many consecutive frames
#: recognise the same person, and every face is recognised again at least every LIVE_RECHECK_S seconds.
LIVE_CONFIRM_FRAMES = env.int("LIVE_CONFIRM_FRAMES", default=3)
LIVE_RECHECK_S = env.float("LIVE_RECHECK_S", default=1.0)
if LIVE_CONFIRM_FRAMES < 1 or LIVE_RECHECK_S <= 0:
    raise ValueError("LIVE_CONFIRM_FRAMES must be at least 1 and LIVE_RECHECK_S above 0")

# --- First admin created by `manage.py ensure_admin` -----------------------------------
FIRST_ADMIN_USERNAME = env.str("MASKPORTAL_ADMIN_USERNAME", default="admin")
FIRST_ADMIN_EMAIL = env.str("MASKPORTAL_ADMIN_EMAIL", default="admin@localhost")
FIRST_ADMIN_PASSWORD = env.str("MASKPORTAL_ADMIN_PASSWORD", default="")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}, "axes": {"level": "WARNING"}},
}
