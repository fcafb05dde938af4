"""pytest: fast hashing and a private var/ (database file, media, broker); back ends from the environment."""

import os
from pathlib import Path

os.environ.setdefault("MASKPORTAL_VAR_DIR", str(Path(__file__).resolve().parents[2] / "var" / "test"))

from .base import *  # noqa: E402, F403
from .base import CACHES, DATABASES, STATIC_ROOT  # noqa: E402

# A worker process started by a test must open the test database, not the real one.
if os.environ.get("MASKPORTAL_TEST_DB_NAME"):
    DATABASES["default"]["NAME"] = os.environ["MASKPORTAL_TEST_DB_NAME"]

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
DEBUG = False

WHITENOISE_USE_FINDERS = True
# API throttle counts live in this process and are emptied before each test (tests/conftest.py), so
# one test's requests never count against the next one's user of the same id.
CACHES["throttle"] = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "throttle"}
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
# No persistent connections: a test database must be droppable when the run ends. Benchmarks keep
# the production setting (they stop their worker and server processes before dropping it).
if not os.environ.get("MASKPORTAL_BENCHMARK"):
    DATABASES["default"]["CONN_MAX_AGE"] = 0

# The tests train on tiny generated pools: the pool guardrail's own tests raise these again.
TRAINING_MIN_TRAIN_PER_CLASS = 1
TRAINING_MIN_EVAL_PER_CLASS = 1
