"""Access rights change on the next request: a membership moved to another user invalidates both users."""

import pytest

from cachecore.api import flush_pending
from cachecore.tests.invalidation_helpers import BumpSpy


@pytest.mark.django_db(transaction=True)
def test_a_membership_moved_to_another_user_invalidates_both_users(monkeypatch):
    from django.contrib.auth import get_user_model

    from trackers.caching import USER_SCOPE
    from trackers.models import Client, ClientMembership

    users = get_user_model()
    old, new = users.objects.create(username="old"), users.objects.create(username="new")
    membership = ClientMembership.objects.create(user=old, client=Client.objects.create(name="c"))
    flush_pending()
    bumps = BumpSpy(monkeypatch)
    membership = ClientMembership.objects.get(pk=membership.pk)
    membership.user = new
    membership.save()
    flush_pending()
    # The old user loses the client's data on the next request, not after a TTL.
    assert bumps.count(USER_SCOPE, f"user:{old.pk}") == 1
    assert bumps.count(USER_SCOPE, f"user:{new.pk}") == 1
