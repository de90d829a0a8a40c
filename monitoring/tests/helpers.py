"""Helpers of the monitoring tests."""

from tests.services import PrivateRedisServer, need_binary

STAFF_TOKEN = "monitoring-test-token-0123456789abcdef"

__all__ = ["STAFF_TOKEN", "PrivateRedisServer", "need_binary"]
