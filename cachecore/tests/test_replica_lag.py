"""Read replicas against a real streaming replica with a known lag (docs/read-replicas.md).

A private primary and replica (tests/pg_replica.py, one per session) on free loopback ports; each
scenario runs in a process of the project configured with DATABASE_REPLICA_URLS
(replica_worker.py). Marked ``postgres`` so the suite runs them once, on the services half: the
private cluster needs no shared server, running them on both halves would only double the time.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.services import free_port

WORKER = Path(__file__).with_name("replica_worker.py")
LAG_SECONDS = 2

pytestmark = pytest.mark.postgres


def run_worker(cluster, scenario: str, *args: str, replica_url: str | None = None, **env: str) -> dict:
    done = subprocess.run(
        [sys.executable, str(WORKER), scenario, *args],
        env=cluster.django_env(replica_url=replica_url, **env),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture
def caught_up(replica_cluster):
    replica_cluster.set_apply_delay(0)
    return replica_cluster


@pytest.fixture
def lagging(replica_cluster):
    replica_cluster.set_apply_delay(LAG_SECONDS)
    yield replica_cluster
    replica_cluster.set_apply_delay(0)


def test_only_cache_computations_and_marked_reads_use_the_replica(caught_up):
    found = run_worker(caught_up, "routing")
    assert found["plain_read"] == "default"  # a request reads its own writes
    assert found["computed"]["db"] == "replica_1"
    assert found["marked"] == {
        "owner": "replica_1",
        "cache_generation": "default",  # the engine's tables
        "user": "default",  # logins and sessions
        "owner_in_transaction": "default",
    }
    assert found["write"] == "default"
    assert found["saved_on_primary"] is True
    assert found["computed_in_transaction"]["db"] == "default"
    assert found["migrate_on_replica"] is False
    assert found["outcomes"] == {"replica": 1, "transaction": 1}


def test_a_lagging_replica_never_refills_the_cache_with_the_value_before_the_write(lagging):
    seconds = LAG_SECONDS + 1.5
    found = run_worker(lagging, "lag", str(seconds))
    assert found["warmed"] == [found["before"]] * 2
    # The replica really lags: right after the invalidation was applied it still has the old name.
    assert found["replica_right_after_write"] == found["before"]
    assert found["stale_reads"] == 0, found
    # Computations fell back to the primary while the replica lagged, then used it again.
    assert found["outcomes"]["lag"] >= 2
    assert found["on_primary"] == found["outcomes"]["lag"]
    assert found["on_replica"] >= 2
    assert found["first_on_replica_at"] >= LAG_SECONDS - 0.5
    print(f"\nreplica lagging {LAG_SECONDS} s: {found['computations']} computations, {found['on_primary']} fell back")


def test_with_a_bounded_wait_computations_wait_for_the_replica_instead_of_falling_back(lagging):
    found = run_worker(lagging, "lag", "0.5", CACHECORE_REPLICA_MAX_WAIT=str(LAG_SECONDS + 2))
    assert found["stale_reads"] == 0
    assert found["on_replica"] == found["computations"] > 0
    assert "lag" not in found["outcomes"]


def test_a_write_then_a_cached_read_in_the_same_flow_sees_the_write(lagging):
    found = run_worker(lagging, "read-your-write")
    assert found["warmed"] == found["before"]
    assert found["replica_still"] == found["before"]  # the replica has none of the writes yet
    assert found["cached_key"] == {"name": found["after"], "db": "default", "tier": "miss"}
    assert found["new_key"] == {"name": found["after"], "db": "default", "tier": "miss"}
    assert found["in_transaction"] == {"name": found["pending"], "db": "default", "tier": "miss"}
    assert found["outcomes"] == {"lag": 2, "transaction": 1}


def test_without_the_rule_the_lagging_replica_serves_the_value_before_the_write(lagging):
    """Negative control: reading the replica whatever it has replayed caches the old name."""
    found = run_worker(lagging, "lag-unguarded", "1")
    assert found["stale_reads"] > 0
    assert "lag" not in found["outcomes"]


def test_a_caught_up_replica_computes_almost_everything(caught_up):
    found = run_worker(caught_up, "lag", "1")
    assert found["stale_reads"] == 0
    assert found["on_replica"] >= 0.8 * found["computations"], found


def test_a_replica_lost_during_a_computation_is_replaced_by_the_primary(caught_up):
    found = run_worker(caught_up, "error")
    assert found["runs"] == ["replica_1", "default"]
    assert found["value"] == {"name": found["expected"], "db": "default"}
    assert found["next"]["db"] == "replica_1"  # one failure does not open the breaker
    assert found["outcomes"] == {"replica": 2, "error": 1}


def test_an_unreachable_replica_leaves_computations_on_the_primary(replica_cluster):
    closed = f"postgres://postgres@127.0.0.1:{free_port()}/cw"
    found = run_worker(replica_cluster, "unavailable", replica_url=closed)
    assert found["dbs"] == ["default"]
    assert found["names"] == [found["expected"]]
