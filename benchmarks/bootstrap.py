"""The start every benchmark script shares: the project on ``sys.path`` and environment defaults.

``ROOT = bootstrap.setup(NAME="value", ...)``, before ``django.setup()``, puts the project root on
``sys.path`` and sets, where the environment does not already, the settings module, a
benchmark-only ``SECRET_KEY``, ``SECURE_SSL=0`` (plain HTTP from the test client and gunicorn),
``LOG_LEVEL=WARNING`` and the script's own defaults. The environment always wins.
"""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULTS = {
    "DJANGO_SETTINGS_MODULE": "config.settings",
    "SECRET_KEY": "benchmark-only-secret-key-0123456789abcdefghijklmnop",
    "SECURE_SSL": "0",
    "LOG_LEVEL": "WARNING",
}


def setup(**defaults: str) -> Path:
    """Make the project importable and set the environment defaults; return the project root."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    for name, value in {**DEFAULTS, **defaults}.items():
        os.environ.setdefault(name, value)
    return ROOT
