"""Settings, read from the environment.

No variable set means the embedded default: SQLite in a data directory, e-mail and
SMS written to a local outbox, jobs run in-process. Each integration switches on
when its variable is set; `.env.example` documents every variable.
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url

PACKAGE_DIR = Path(__file__).resolve().parent.parent

#: Where the embedded default keeps its SQLite database, secret key and static files.
DATA_DIR = Path(os.environ.get("PEERCOACH_DATA_DIR", "var")).resolve()

#: The secret key used when none is configured. `peercoach serve` refuses to run with it.
INSECURE_DEFAULT_SECRET_KEY = "peercoach-insecure-development-key-do-not-deploy"  # noqa: S105


def _env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


#: "demo" (peercoach demo), "serve" (peercoach serve) or "" (tests, manage commands).
RUN_MODE = os.environ.get("PEERCOACH_MODE", "")

SECRET_KEY = os.environ.get("SECRET_KEY", INSECURE_DEFAULT_SECRET_KEY)
DEBUG = _env_bool("DEBUG", default=False)
ALLOWED_HOSTS = _env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
CSRF_TRUSTED_ORIGINS = _env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "axes",
    "peercoach.core",
    "peercoach.programs",
    "peercoach.people",
    "peercoach.training",
    "peercoach.matching",
    "peercoach.coaching",
    "peercoach.curriculum",
    "peercoach.supervision",
    "peercoach.notifications",
    "peercoach.research",
    "peercoach.assessments",
    "peercoach.demo",
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
    "django_htmx.middleware.HtmxMiddleware",
    "peercoach.core.middleware.RequestContextMiddleware",
    # Axes last so that it sees the authenticated user and can lock out failures.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "peercoach.config.urls"
WSGI_APPLICATION = "peercoach.config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [PACKAGE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "peercoach.core.context_processors.navigation",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------------
# DATABASE_URL selects PostgreSQL (or anything dj-database-url reads); without it the
# embedded default is a SQLite file in DATA_DIR.
_default_sqlite = f"sqlite:///{DATA_DIR / 'peercoach.sqlite3'}"
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", _default_sqlite), conn_max_age=60
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web server read while a write is in progress; a busy timeout keeps
    # two writers from failing at once instead of waiting their turn.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["TEST"] = {"NAME": ":memory:"}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Authentication and security -----------------------------------------------------
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Lock an account/address pair out for 15 minutes after 5 failed logins (django-axes).
AXES_FAILURE_LIMIT = int(os.environ.get("PEERCOACH_LOGIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = float(os.environ.get("PEERCOACH_LOGIN_COOLOFF_HOURS", "0.25"))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = int(os.environ.get("PEERCOACH_SESSION_SECONDS", str(8 * 3600)))
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
CSRF_COOKIE_HTTPONLY = False  # HTMX reads the token from the page, not the cookie.
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"

#: Behind HTTPS (every real deployment) cookies must never travel in clear text.
HTTPS = _env_bool("PEERCOACH_HTTPS", default=RUN_MODE == "serve")
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_SSL_REDIRECT = HTTPS and _env_bool("SECURE_SSL_REDIRECT", default=False)
if HTTPS:
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "31536000"))
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# --- Internationalisation ------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("TIME_ZONE", "America/New_York")
USE_I18N = True
USE_TZ = True

# --- Static files (vendored; never a CDN) --------------------------------------------
STATIC_URL = "/static/"
STATICFILES_DIRS = [PACKAGE_DIR / "static"]
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", DATA_DIR / "static"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Serve straight from the package when collectstatic has not run (tests, first start).
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

# --- REST API ------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["peercoach.core.policy.PolicyPermission"],
    "DEFAULT_PAGINATION_CLASS": "peercoach.core.api.StandardPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_THROTTLE_CLASSES": ["rest_framework.throttling.UserRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"user": os.environ.get("PEERCOACH_API_RATE", "6000/hour")},
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "PeerCoach API",
    "DESCRIPTION": (
        "Peer-supported chronic pain self-management programs. Every endpoint is scoped by "
        "the same authorization policy as the web pages."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI from the installed sidecar package: never from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- Cache ---------------------------------------------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "")
# The cache is separate from the job queue on purpose: with Redis down, pages must keep
# working (issue 5, faults), so the cache is in-process unless CACHE_URL names a server.
CACHE_URL = os.environ.get("CACHE_URL", "")
if CACHE_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                          "LOCATION": CACHE_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- E-mail ------------------------------------------------------------------------
# EMAIL_HOST switches on SMTP; without it mail goes to a local outbox folder (one file per
# message), which is what the embedded default and tests read.
EMAIL_HOST = os.environ.get("EMAIL_HOST", "")
if EMAIL_HOST:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "587"))
    EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
    EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
    EMAIL_USE_TLS = _env_bool("EMAIL_USE_TLS", default=True)
else:
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = str(DATA_DIR / "outbox")
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "PeerCoach <no-reply@localhost>")

# --- Background jobs (Celery) ------------------------------------------------------
# With REDIS_URL, jobs go to Redis and `peercoach worker` / `peercoach beat` run them;
# without it they run in-process (task_always_eager), so the embedded default needs no
# Redis. See peercoach/config/celery.py.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", REDIS_URL) or "memory://localhost/"
CELERY_TASK_ALWAYS_EAGER = not (os.environ.get("CELERY_BROKER_URL") or REDIS_URL)
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = TIME_ZONE
# Fail fast when Redis is down: the web request goes on and the row stays in the outbox.
CELERY_BROKER_CONNECTION_TIMEOUT = float(os.environ.get("CELERY_BROKER_TIMEOUT", "2"))
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "socket_connect_timeout": CELERY_BROKER_CONNECTION_TIMEOUT,
    "socket_timeout": 5,
    # Longer than any countdown we use; a job not acknowledged by then is redelivered.
    "visibility_timeout": 3600,
}

# --- Notifications -------------------------------------------------------------------
#: "local" (JSON files in SMS_OUTBOX_DIR), "memory" (tests) or "twilio" (needs the
#: `sms` extra and the TWILIO_* variables).
SMS_PROVIDER = os.environ.get("SMS_PROVIDER", "local")
SMS_OUTBOX_DIR = os.environ.get("SMS_OUTBOX_DIR", str(DATA_DIR / "sms-outbox"))
TWILIO_ACCOUNT_SID = os.environ.get("TWILIO_ACCOUNT_SID", "")
TWILIO_AUTH_TOKEN = os.environ.get("TWILIO_AUTH_TOKEN", "")
TWILIO_FROM_NUMBER = os.environ.get("TWILIO_FROM_NUMBER", "")
TWILIO_MESSAGING_SERVICE_SID = os.environ.get("TWILIO_MESSAGING_SERVICE_SID", "")
#: The address put in messages so people know where to sign in (no details, ever).
PEERCOACH_SITE_URL = os.environ.get("PEERCOACH_SITE_URL", "")
#: Hours before a planned contact's due time that the coach and the patient are reminded.
NOTIFY_COACH_REMINDER_HOURS = float(os.environ.get("NOTIFY_COACH_REMINDER_HOURS", "24"))
NOTIFY_PATIENT_REMINDER_HOURS = float(os.environ.get("NOTIFY_PATIENT_REMINDER_HOURS", "24"))
#: The local time of day a planned contact counts as due (its date has no time).
NOTIFY_DUE_TIME = os.environ.get("NOTIFY_DUE_TIME", "09:00")
# Exports: the secret behind each participant's date shift (falls back to one derived from
# SECRET_KEY; set it so shifts stay the same when SECRET_KEY is rotated).
EXPORT_DATE_SHIFT_SECRET = os.environ.get("EXPORT_DATE_SHIFT_SECRET", "")
# Quiet hours for patients reminded through their record (no login), site-local time.
NOTIFY_PATIENT_QUIET_START = os.environ.get("NOTIFY_PATIENT_QUIET_START", "20:00")
NOTIFY_PATIENT_QUIET_END = os.environ.get("NOTIFY_PATIENT_QUIET_END", "09:00")
#: Failed hand-overs are retried after 1, 2, 4 ... minutes (at most an hour apart).
NOTIFY_MAX_ATTEMPTS = int(os.environ.get("NOTIFY_MAX_ATTEMPTS", "6"))
NOTIFY_RETRY_BASE_SECONDS = float(os.environ.get("NOTIFY_RETRY_BASE_SECONDS", "60"))
NOTIFY_RETRY_MAX_SECONDS = float(os.environ.get("NOTIFY_RETRY_MAX_SECONDS", "3600"))

# --- Logging -------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "WARNING")},
    "loggers": {
        "axes": {"level": "WARNING"},
        # 403s and 404s are the policy working, not errors worth a traceback each.
        "django.request": {"level": "ERROR"},
    },
}

# --- PeerCoach -----------------------------------------------------------------------
#: Rows per page on every list page.
PEERCOACH_PAGE_SIZE = int(os.environ.get("PEERCOACH_PAGE_SIZE", "25"))
#: Largest referral CSV accepted by the upload page, in bytes.
PEERCOACH_MAX_IMPORT_BYTES = int(os.environ.get("PEERCOACH_MAX_IMPORT_BYTES", str(5 * 2**20)))
