"""Revoking access in one process holds on the very next request served by another process."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client

from tests.factories import make_dataset, make_user
from trackers.models import ClientMembership

pytestmark = [pytest.mark.redis, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

WORKER = Path(__file__).with_name("peer_worker.py")
TRACKERS = "/api/trackers/?size=100"


class Peer:
    """Another server process sharing the database and Redis."""

    def __init__(self):
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.test_settings"}
        self.proc = subprocess.Popen(
            [sys.executable, str(WORKER), connection.settings_dict["NAME"]],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        line = self.proc.stdout.readline()
        assert line and json.loads(line) == {"ready": True}, self.proc.stderr.read()

    def get(self, url: str, session: str) -> dict:
        self.proc.stdin.write(json.dumps({"url": url, "session": session}) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        assert line, self.proc.stderr.read()
        return json.loads(line)

    def deafen(self) -> None:
        """Make the peer ignore every pub/sub eviction from now on."""
        self.proc.stdin.write(json.dumps({"deafen": True}) + "\n")
        self.proc.stdin.flush()
        assert json.loads(self.proc.stdout.readline()) == {"deaf": True}

    def close(self) -> None:
        self.proc.stdin.close()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


@pytest.fixture
def peer():
    p = Peer()
    yield p
    p.close()


@pytest.fixture
def world():
    ds = make_dataset(clients=2, brands_per_client=1, runs_per_brand=1, trackers_per_run=2, history_per_tracker=1)
    a, b = ds.clients
    return {"a": a, "b": b, "user": make_user("alice", clients=[a, b])}


def login(user) -> tuple[Client, str]:
    client = Client()
    client.force_login(user)  # django-axes refuses authenticate() without a request
    return client, client.cookies["sessionid"].value


def warm(peer: Peer, session: str) -> dict:
    """Serve the page twice in the peer; the second answer must have run no SQL at all."""
    peer.get(TRACKERS, session)
    answer = peer.get(TRACKERS, session)
    assert answer["status"] == 200, answer
    assert answer["queries"] == 0, answer
    return answer


def client_ids(answer) -> set[int]:
    return {item["client_id"] for item in answer["body"]["items"]}


def test_logout_here_ends_the_session_there(world, peer):
    client, session = login(world["user"])
    warm(peer, session)
    client.logout()
    assert peer.get(TRACKERS, session)["status"] == 403


def test_deactivation_here_refuses_the_user_there(world, peer):
    _, session = login(world["user"])
    warm(peer, session)
    user = get_user_model().objects.get(pk=world["user"].pk)
    user.is_active = False
    user.save()
    assert peer.get(TRACKERS, session)["status"] == 403


def test_password_change_here_ends_the_session_there(world, peer):
    _, session = login(world["user"])
    warm(peer, session)
    user = get_user_model().objects.get(pk=world["user"].pk)
    user.set_password("another password 456")
    user.save()
    assert peer.get(TRACKERS, session)["status"] == 403


def test_membership_removal_here_narrows_the_scope_there(world, peer):
    _, session = login(world["user"])
    assert client_ids(warm(peer, session)) == {world["a"].pk, world["b"].pk}
    ClientMembership.objects.filter(user=world["user"], client=world["b"]).delete()
    assert client_ids(peer.get(TRACKERS, session)) == {world["a"].pk}


def _log_out(world, client):
    client.logout()


def _deactivate(world, client):
    user = get_user_model().objects.get(pk=world["user"].pk)
    user.is_active = False
    user.save()


def _change_password(world, client):
    user = get_user_model().objects.get(pk=world["user"].pk)
    user.set_password("another password 456")
    user.save()


@pytest.mark.parametrize("revoke", [_log_out, _deactivate, _change_password])
def test_revocation_holds_there_before_any_pub_sub_message_reaches_it(world, peer, revoke):
    # The peer's L1 holds the session and the user; its pub/sub evictions never come. The checked
    # L1 copies are retired by the generations in Redis alone, on the very next request.
    client, session = login(world["user"])
    warm(peer, session)
    peer.deafen()
    assert peer.get(TRACKERS, session)["status"] == 200
    revoke(world, client)
    assert peer.get(TRACKERS, session)["status"] == 403


def test_membership_removal_holds_there_before_any_pub_sub_message_reaches_it(world, peer):
    _, session = login(world["user"])
    assert client_ids(warm(peer, session)) == {world["a"].pk, world["b"].pk}
    peer.deafen()
    ClientMembership.objects.filter(user=world["user"], client=world["b"]).delete()
    assert client_ids(peer.get(TRACKERS, session)) == {world["a"].pk}
