"""Read typed values from the environment, once, with clear errors.

A git-ignored ``.env`` file in the project (written by ``make run``/``make venv``: ``DEBUG=1`` and a
generated ``SECRET_KEY``) is read first by python-dotenv; a variable set in the environment always
wins over the file. ``ENV_FILE`` names another file, and ``ENV_FILE=`` (empty) reads none.
"""

import os
import secrets
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured
from dotenv import load_dotenv


class SettingsError(ImproperlyConfigured):
    """A missing or malformed setting: ``manage.py`` prints its message as one line."""


def load_env_file(default: Path) -> Path | None:
    """Load ``$ENV_FILE`` (else ``default``) into os.environ without overriding; return the file read."""
    name = os.environ.get("ENV_FILE", str(default))
    if not name:
        return None
    path = Path(name)
    if not path.is_file():
        return None
    load_dotenv(path, override=False)
    return path


def write_local_env(path: Path) -> bool:
    """Write a local-development ``.env`` (DEBUG=1, a random SECRET_KEY) unless it exists."""
    if path.exists():
        return False
    path.write_text(
        "# Local development settings, written once by `make`; git-ignored. The environment wins.\n"
        "DEBUG=1\n"
        f"SECRET_KEY={secrets.token_urlsafe(50)}\n"
    )
    return True


TRUE = {"1", "true", "yes", "on"}
FALSE = {"0", "false", "no", "off", ""}


def env_bool(name: str, default: bool) -> bool:
    """Return the boolean value of an environment variable."""
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in TRUE:
        return True
    if value in FALSE:
        return False
    raise SettingsError(f"{name} must be one of 1/0, true/false, yes/no, on/off (got {raw!r}).")


def env_int(name: str, default: int) -> int:
    """Return the integer value of an environment variable."""
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise SettingsError(f"{name} must be an integer (got {raw!r}).") from exc


def env_float(name: str, default: float) -> float:
    """Return the float value of an environment variable."""
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise SettingsError(f"{name} must be a number (got {raw!r}).") from exc


def env_list(name: str, default: list[str]) -> list[str]:
    """Return a comma-separated environment variable as a list of non-empty strings."""
    raw = os.environ.get(name)
    if raw is None:
        return list(default)
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_str(name: str, default: str = "") -> str:
    """Return the string value of an environment variable."""
    return os.environ.get(name, default)


if __name__ == "__main__":  # `python -m config.env` (the Makefile's .env target)
    target = Path(__file__).resolve().parent.parent / ".env"
    print(f"wrote {target.name}" if write_local_env(target) else f"{target.name} already exists; kept")
