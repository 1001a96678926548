"""
Settings for Oneprofile, read from the environment with django-environ.

Every variable is listed and explained in .env.example. With no variable set
the project runs in development mode on a SQLite file, the django-q2 ORM
broker and the console email backend. With DEBUG=false (production mode) it
refuses to start until SECRET_KEY and ENCRYPTION_KEYS are set to real values.
"""

import base64
import hashlib
import os
import re
import sys
import tempfile
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# A .env file beside manage.py is read when present; real environment
# variables win over it.
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# A variable left empty, as copied from .env.example, means "use the
# default" rather than "set to nothing".
_EXAMPLE_FILE = BASE_DIR / ".env.example"
if _EXAMPLE_FILE.exists():
    for _name in re.findall(r"^([A-Z][A-Z0-9_]*)=", _EXAMPLE_FILE.read_text(), re.MULTILINE):
        if os.environ.get(_name) == "":
            del os.environ[_name]

DEBUG = env.bool("DEBUG", default=True)
# Under pytest, tasks run inline and passwords hash fast. pytest-django
# imports these settings before any conftest runs, so pytest's presence is
# the signal; ONEPROFILE_TESTING overrides it either way.
TESTING = env.bool("ONEPROFILE_TESTING", default="pytest" in sys.modules)

# Values that only development may fall back to. Production mode rejects them.
DEVELOPMENT_SECRET_KEY = "development-only-secret-key-do-not-use-in-production"
DEVELOPMENT_ENCRYPTION_KEY = base64.urlsafe_b64encode(
    hashlib.sha256(b"oneprofile development encryption key").digest()
).decode()


def _require_in_production(name, value, development_value):
    if not DEBUG and (not value or value == development_value):
        raise ImproperlyConfigured(
            f"{name} is missing: production mode (DEBUG=false) needs a real "
            f"value. Set {name} in the environment; .env.example explains how "
            f"to generate one."
        )


SECRET_KEY = env.str("SECRET_KEY", default=DEVELOPMENT_SECRET_KEY)
_require_in_production("SECRET_KEY", SECRET_KEY, DEVELOPMENT_SECRET_KEY)

# Fernet keys for credentials at rest, newest first. Encryption always uses
# the first key; decryption tries each, so an old key stays listed until
# `manage.py rotate_credentials` has re-encrypted every connection.
ENCRYPTION_KEYS = env.list("ENCRYPTION_KEYS", default=[])
_require_in_production(
    "ENCRYPTION_KEYS", ",".join(ENCRYPTION_KEYS), DEVELOPMENT_ENCRYPTION_KEY
)
if not ENCRYPTION_KEYS:
    ENCRYPTION_KEYS = [DEVELOPMENT_ENCRYPTION_KEY]
for _position, _key in enumerate(ENCRYPTION_KEYS, start=1):
    try:
        if len(base64.urlsafe_b64decode(_key.strip().encode())) != 32:
            raise ValueError
    except ValueError:
        raise ImproperlyConfigured(
            f"ENCRYPTION_KEYS entry {_position} is not a valid Fernet key: each key is "
            f"32 bytes in URL-safe base64 (44 characters). .env.example shows how to "
            f"generate one."
        ) from None

# Production has no default: the site serves only the hosts it is given.
ALLOWED_HOSTS = env.list(
    "ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"] if DEBUG else []
)
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# The public address of the site, used in invitation links, OAuth redirect
# URIs and alert emails.
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_q",
    "accounts",
    "connections",
    "syncs",
    "sandbox",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "oneprofile.urls"

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
                "accounts.context_processors.workspace",
            ],
        },
    },
]

WSGI_APPLICATION = "oneprofile.wsgi.application"

DATABASES = {
    "default": env.db(
        "DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"
    ),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Syncs commit from a worker process while the web server reads; WAL and
    # a busy timeout keep SQLite from failing with "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
    # Tests use a file too: an in-memory database shares one cache between
    # threads, which returns "table is locked" at once instead of waiting,
    # so concurrency tests would not see SQLite's real locking.
    # The process id keeps concurrent test sessions on one machine apart.
    DATABASES["default"]["TEST"] = {
        "NAME": str(Path(tempfile.gettempdir()) / f"oneprofile-test-{os.getpid()}.sqlite3")
    }
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", 60)
    DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend"]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "accounts:home"
LOGOUT_REDIRECT_URL = "accounts:login"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
if TESTING:
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG or TESTING
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# The admin lives at a path of the operator's choosing, so that it is not
# where scanners look first.
ADMIN_PATH = env.str("ADMIN_PATH", default="staff-admin/").strip("/") + "/"

EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Oneprofile <noreply@localhost>")

# Invitation links stop working after this many seconds.
INVITATION_MAX_AGE = env.int("INVITATION_MAX_AGE", default=7 * 24 * 3600)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["accounts.authentication.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["accounts.permissions.HasWorkspaceApiKey"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 50,
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Oneprofile API",
    "DESCRIPTION": (
        "Automate a Oneprofile workspace: connections, syncs, runs and record "
        "failures. Authenticate with a workspace API key in the "
        "Authorization header: `Authorization: Bearer op_...`."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # The schema and docs contain no workspace data, so they are public. A
    # bad key on a request for them is ignored rather than rejected with 401.
    "SERVE_AUTHENTICATION": [],
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    # Swagger UI's files come from the sidecar package, so the docs work
    # offline and load nothing from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SCHEMA_PATH_PREFIX": "/api/v1",
}

# OAuth client credentials per provider. A provider whose id is empty offers
# only API-key connections.
OAUTH_CLIENTS = {
    "hubspot": {
        "client_id": env.str("HUBSPOT_CLIENT_ID", default=""),
        "client_secret": env.str("HUBSPOT_CLIENT_SECRET", default=""),
    },
    "stripe": {
        "client_id": env.str("STRIPE_CLIENT_ID", default=""),
        "client_secret": env.str("STRIPE_CLIENT_SECRET", default=""),
    },
    "zendesk": {
        "client_id": env.str("ZENDESK_CLIENT_ID", default=""),
        "client_secret": env.str("ZENDESK_CLIENT_SECRET", default=""),
    },
    "mailchimp": {
        "client_id": env.str("MAILCHIMP_CLIENT_ID", default=""),
        "client_secret": env.str("MAILCHIMP_CLIENT_SECRET", default=""),
    },
}

# The API address new connections of each provider use. Empty means the
# tool's real API; the demo points these at the sandbox.
PROVIDER_BASE_URLS = {
    name: env.str(f"{name.upper()}_BASE_URL", default="")
    for name in ("hubspot", "stripe", "zendesk", "mailchimp")
}

# The sandbox serves local stand-ins for the tools' APIs. It is never served
# in production mode, whatever this variable is set to.
SANDBOX_ENABLED = DEBUG and env.bool("SANDBOX_ENABLED", default=True)

REDIS_URL = env.str("REDIS_URL", default="")

# django-q2 runs the syncs. `timeout` must stay below `retry`, or a broker
# hands a slow task to a second worker while the first is still running it.
Q_CLUSTER = {
    "name": "oneprofile",
    "workers": env.int("Q_WORKERS", default=2),
    "timeout": env.int("Q_TIMEOUT", default=1800),
    "retry": env.int("Q_RETRY", default=2100),
    "max_attempts": 1,
    "catch_up": False,
    "save_limit": 1000,
    "label": "Tasks",
    "sync": TESTING,
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"

CACHES = {
    "default": (
        env.cache_url_config(REDIS_URL)
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain"},
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
    },
}

if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
