"""The tracker API with a read replica lagging 2 s (docs/read-replicas.md).

Runs the API in a process configured with DATABASE_REPLICA_URLS against the session's private
primary + replica (tests/pg_replica.py). Marked ``postgres``: run once, on the services half.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

WORKER = Path(__file__).with_name("replica_worker.py")
LAG_SECONDS = 2

pytestmark = pytest.mark.postgres


@pytest.fixture
def lagging(replica_cluster):
    replica_cluster.set_apply_delay(LAG_SECONDS)
    yield replica_cluster
    replica_cluster.set_apply_delay(0)


def test_a_renamed_tracker_is_never_served_by_its_old_name_once_invalidated(lagging):
    done = subprocess.run(
        [sys.executable, str(WORKER), str(LAG_SECONDS + 1.5)],
        env=lagging.django_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["warmed"] == [found["before"]] * 2
    assert found["replica_right_after_write"] == found["before"]  # the lag is real
    assert found["statuses"] == [200]
    assert found["stale_reads"] == 0, found
    assert found["names"] == [found["after"]]
    # While the replica lagged the list was computed on the primary; afterwards on the replica.
    assert found["outcomes"]["trackers.list:lag"] >= 1
    assert found["outcomes"]["trackers.list:replica"] >= 1
