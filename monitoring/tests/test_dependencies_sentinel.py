"""The health check's Redis probe under Sentinel: it PINGs the master the Sentinels name, across a failover."""

import time

from monitoring import dependencies
from tests.sentinel_topology import SentinelTopology


def test_the_redis_check_follows_a_failover(tmp_path, settings):
    topology = SentinelTopology(tmp_path).start()
    try:
        settings.REDIS_URL = topology.url(0)
        settings.REDIS_SENTINELS = topology.sentinels
        assert dependencies.check_redis()["status"] == "ok"
        old_port = topology.kill_master()
        assert dependencies.check_redis()["status"] == "down"  # no master until the Sentinels agree
        topology.wait_for_failover(old_port)
        deadline = time.monotonic() + 5
        while (result := dependencies.check_redis())["status"] != "ok" and time.monotonic() < deadline:
            time.sleep(0.1)
        assert result["status"] == "ok", result
    finally:
        topology.stop()
