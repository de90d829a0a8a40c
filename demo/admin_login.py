"""The demo staff login: create or reset it (``seed_demo_data``, ``reset_admin_password``)."""

import secrets

from django.contrib.auth import get_user_model


def admin_set_password(*, username: str, password: str | None = None) -> tuple[str, bool]:
    """Make ``username`` a staff superuser with ``password`` (or a random one); return it and if generated."""
    generated = not password
    if generated:
        password = secrets.token_urlsafe(12)
    user, _ = get_user_model().objects.get_or_create(username=username)
    user.is_staff = user.is_superuser = user.is_active = True
    user.set_password(password)
    user.save()
    return password, generated
