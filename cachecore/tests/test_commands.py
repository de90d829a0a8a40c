"""create_cache_table, cleanup_cache and cache_stats: output, idempotence, --dry-run, exit codes."""

import json
import subprocess
import sys
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from cachecore import maintenance
from cachecore.models import CacheEntry
from cachecore.service import get_or_compute
from cachecore.tests.engine_helpers import Counter

ROOT = Path(__file__).resolve().parents[2]


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def make_row(key_hash, *, namespace="cmd", expired=False):
    now = timezone.now()
    return CacheEntry.objects.create(
        namespace=namespace,
        key_hash=key_hash,
        data_hash="d",
        payload={"v": 1},
        created_at=now,
        expires_at=now + (timedelta(seconds=-1) if expired else timedelta(hours=1)),
        last_accessed=now,
    )


@pytest.mark.django_db(transaction=True)
class TestCreateCacheTable:
    def test_status_create_drop_are_idempotent(self):
        make_row("a")
        make_row("b", expired=True)
        try:
            assert "exists, 2 row(s), 1 expired, 1 valid" in run("create_cache_table", "--action", "status")
            assert "already exists" in run("create_cache_table")
            assert "Dropped" in run("create_cache_table", "--action", "drop")
            assert "does not exist" in run("create_cache_table", "--action", "drop")
            assert "missing" in run("create_cache_table", "--action", "status")
            assert "Created" in run("create_cache_table", "--action", "create")
        finally:
            maintenance.create_table()
        assert "exists, 0 row(s)" in run("create_cache_table", "--action", "status")
        make_row("works-again")  # indexes and the unique constraint came back too
        with pytest.raises(Exception):  # noqa: B017 - IntegrityError class differs per backend
            make_row("works-again")

    def test_cleanup_without_table_fails_clearly(self):
        try:
            maintenance.drop_table()
            with pytest.raises(CommandError, match="create_cache_table"):
                run("cleanup_cache")
        finally:
            maintenance.create_table()


@pytest.mark.django_db
class TestCleanupCache:
    def test_dry_run_counts_and_deletes_nothing(self):
        make_row("valid")
        make_row("old1", expired=True)
        make_row("old2", expired=True)
        assert "Dry run: 2 expired row(s) would be deleted." in run("cleanup_cache", "--dry-run")
        assert CacheEntry.objects.count() == 3

    def test_deletes_only_expired_rows_in_batches(self, count_queries):
        make_row("valid")
        for i in range(5):
            make_row(f"old{i}", expired=True)
        out = run("cleanup_cache", "--batch-size", "2")
        assert "Deleted 5 expired row(s) in 3 batch(es)." in out
        assert list(CacheEntry.objects.values_list("key_hash", flat=True)) == ["valid"]

    def test_namespace_option(self):
        make_row("a", namespace="one", expired=True)
        make_row("b", namespace="two", expired=True)
        assert "Deleted 1 expired row(s) in namespace one" in run("cleanup_cache", "--namespace", "one")
        assert list(CacheEntry.objects.values_list("namespace", flat=True)) == ["two"]

    def test_bad_batch_size_is_an_error(self):
        with pytest.raises(CommandError, match="--batch-size"):
            run("cleanup_cache", "--batch-size", "0")

    def test_exit_codes_from_the_command_line(self):
        env_python = sys.executable
        bad = subprocess.run(
            [env_python, "manage.py", "cleanup_cache", "--batch-size", "0"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            env={**__import__("os").environ, "DJANGO_SETTINGS_MODULE": "config.test_settings"},
        )
        assert bad.returncode == 1 and "--batch-size must be at least 1" in bad.stderr
        unknown = subprocess.run(
            [env_python, "manage.py", "create_cache_table", "--action", "explode"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            env={**__import__("os").environ, "DJANGO_SETTINGS_MODULE": "config.test_settings"},
        )
        assert unknown.returncode == 2 and "invalid choice" in unknown.stderr


@pytest.mark.django_db
class TestCacheStats:
    def test_table_output(self, make_ns):
        ns = make_ns(l1_ttl=60, l2_ttl=60)
        get_or_compute(ns.name, {}, Counter())
        get_or_compute(ns.name, {}, Counter())
        out = run("cache_stats")
        assert "hit rate 50.0%" in out
        assert f"{ns.name}: 1 hits, 1 misses, 50.0%, 1 computes" in out
        assert "L3 table: 0 rows, 0 expired" in out

    def test_json_output(self, make_ns):
        make_row("old", expired=True)
        data = json.loads(run("cache_stats", "--json"))
        assert data["l3_table"] == {"exists": True, "rows": 1, "expired": 1}
        assert set(data["tiers"]) == {"l1", "l2", "l3"}
