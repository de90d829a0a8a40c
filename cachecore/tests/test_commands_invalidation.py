"""invalidate_cache and prewarm_cache: output, selection, errors and exit codes; system checks."""

from io import StringIO

import pytest
from django.core.management import CommandError, ManagementUtility, call_command
from django.test import override_settings

from cachecore import checks, invalidation, prewarm
from cachecore.invalidation import watch_model
from cachecore.management.commands import invalidate_cache
from cachecore.prewarm import prewarmer
from cachecore.service import get_or_compute
from cachecore.tests.invalidation_helpers import BumpSpy, temporary_namespace
from cachecore.tests.testapp.models import Item

pytestmark = pytest.mark.django_db


def run(*args, **kwargs) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO(), **kwargs)
    return out.getvalue()


def exit_code(argv, capsys) -> tuple[int, str]:
    """Run a command as manage.py would; return its exit code and stderr.

    The parsing and exit path of ``manage.py`` without its ``django.setup()``: that would configure
    logging again, binding the console handler to this test's captured stderr, which is closed when
    the test ends (every later log line then failed with "I/O operation on closed file").
    """
    argv = ["manage.py", *argv]
    try:
        ManagementUtility(argv).fetch_command(argv[1]).run_from_argv(argv)
    except SystemExit as exc:
        return exc.code, capsys.readouterr().err
    return 0, capsys.readouterr().err


@pytest.fixture
def bumps(monkeypatch):
    return BumpSpy(monkeypatch)


class TestInvalidateCache:
    def test_invalidates_a_namespace_on_every_tier(self, bumps):
        with temporary_namespace("test.cmd.ns", l1_ttl=60, l2_ttl=60):
            get_or_compute("test.cmd.ns", {}, lambda: "old")
            out = run("invalidate_cache", "test.cmd.ns")
            assert "Invalidated test.cmd.ns." in out
            assert bumps.count("test.cmd.ns") == 1
            assert get_or_compute("test.cmd.ns", {}, lambda: "new")[0] == "new"

    def test_scope(self, bumps):
        with temporary_namespace("test.cmd.ns", params=("user",), key_scope=lambda p: f"user:{p['user']}"):
            out = run("invalidate_cache", "test.cmd.ns", "--scope", "user:7")
        assert "(scope user:7)" in out
        assert bumps.calls == [("test.cmd.ns", "user:7")]

    def test_a_scope_of_a_namespace_kept_without_scopes_is_refused(self, bumps):
        # It used to print "Invalidated" and do nothing (readers and the bump used different keys).
        with temporary_namespace("test.cmd.ns"), pytest.raises(CommandError, match="--scope: .*declared without"):
            run("invalidate_cache", "test.cmd.ns", "--scope", "user:7")
        assert bumps.calls == []

    def test_all(self, bumps):
        with temporary_namespace("test.cmd.a"), temporary_namespace("test.cmd.b"):
            out = run("invalidate_cache", "--all")
        assert bumps.count("test.cmd.a") == 1 and bumps.count("test.cmd.b") == 1
        assert "test.cmd.a" in out and "namespace(s)" in out

    def test_unknown_namespace_names_the_known_ones(self):
        with (
            temporary_namespace("test.cmd.known"),
            pytest.raises(CommandError, match="Unknown namespace 'nope'.*test.cmd.known"),
        ):
            run("invalidate_cache", "nope")

    @pytest.mark.parametrize(
        ("args", "message"),
        [
            ((), invalidate_cache.NEED_TARGET),
            (("test.cmd.ns", "--all"), invalidate_cache.BOTH_TARGETS),
            (("--all", "--scope", "x"), invalidate_cache.SCOPE_WITH_ALL),
        ],
    )
    def test_bad_arguments(self, args, message):
        with temporary_namespace("test.cmd.ns"), pytest.raises(CommandError) as exc:
            run("invalidate_cache", *args)
        assert str(exc.value) == message

    def test_exit_code_for_an_unknown_namespace(self, capsys):
        code, err = exit_code(["invalidate_cache", "nope"], capsys)
        assert code == 1
        assert "Unknown namespace 'nope'" in err


@pytest.fixture
def registry(monkeypatch):
    monkeypatch.setattr(prewarm, "_registry", {})
    return prewarm._registry


class TestPrewarmCache:
    def test_success_prints_progress_counts_and_timing(self, registry):
        @prewarmer("test.cmd.a")
        def warm(progress):
            for i in range(1, 21):
                progress(i, 20)
            return 20

        prewarmer("test.cmd.b")(lambda progress=None: 3)
        out = run("prewarm_cache")
        assert "Prewarming 2 namespace(s)" in out
        assert "  test.cmd.a: 20/20 (100%) in " in out
        assert "OK      test.cmd.a: 20 entries in" in out
        assert "OK      test.cmd.b: 3 entries in" in out
        assert "Prewarmed 2 namespace(s): 23 entries in" in out

    def test_namespace_option_selects(self, registry):
        ran = []
        prewarmer("test.cmd.a")(lambda progress=None: ran.append("a") or 1)
        prewarmer("test.cmd.b")(lambda progress=None: ran.append("b") or 1)
        run("prewarm_cache", "--namespace", "test.cmd.b")
        assert ran == ["b"]

    def test_failure_exits_non_zero_and_names_the_namespace(self, registry, capsys):
        def broken(progress=None):
            raise RuntimeError("boom")

        ran = []
        prewarmer("test.cmd.broken")(broken)
        prewarmer("test.cmd.ok")(lambda progress=None: ran.append(1) or 1)
        # manage.py runs the system checks first: the namespaces must exist (cachecore.E002).
        with temporary_namespace("test.cmd.broken"), temporary_namespace("test.cmd.ok"):
            code, err = exit_code(["prewarm_cache"], capsys)
        assert code == 1
        assert "FAILED  test.cmd.broken" in err
        assert "Prewarming failed for: test.cmd.broken" in err
        assert ran == [1]  # the healthy namespace was still warmed

    def test_unknown_namespace_is_a_clear_error(self, registry, capsys):
        prewarmer("test.cmd.a")(lambda progress=None: 1)
        with temporary_namespace("test.cmd.a"):
            code, err = exit_code(["prewarm_cache", "--namespace", "test.cmd.nope"], capsys)
        assert code == 1
        assert "No prewarmer for namespace(s): test.cmd.nope. Known: test.cmd.a." in err

    def test_nothing_registered(self, registry):
        assert "No prewarmers are registered" in run("prewarm_cache")

    def test_list(self, registry):
        prewarmer("test.cmd.a")(lambda progress=None: 1)
        assert run("prewarm_cache", "--list").startswith("test.cmd.a")


class TestChecks:
    def ids(self, messages):
        return [m.id for m in messages]

    def test_watch_on_unregistered_namespace_is_e001(self):
        watch_model(Item, "test.chk.missing")
        try:
            errors = checks.check_watched_namespaces()
        finally:
            invalidation.unwatch_model(Item, "test.chk.missing")
        assert "cachecore.E001" in self.ids(errors)
        assert any("test.chk.missing" in e.msg and e.hint for e in errors)

    def test_registered_watches_pass(self):
        with temporary_namespace("test.chk.ok", watch=[Item]):
            assert not [e for e in checks.check_watched_namespaces() if "test.chk.ok" in e.msg]

    def test_a_scoped_watch_of_a_namespace_kept_without_scopes_is_e004(self):
        with temporary_namespace("test.chk.unscoped"):
            watch_model(Item, "test.chk.unscoped", scope=lambda brand: f"client:{brand.owner_id}")
            try:
                errors = [e for e in checks.check_watch_scopes() if "test.chk.unscoped" in e.msg]
            finally:
                invalidation.unwatch_model(Item, "test.chk.unscoped")
        assert self.ids(errors) == ["cachecore.E004"]
        assert "scope=" in errors[0].hint

    def test_a_matching_scoped_watch_passes(self):
        with temporary_namespace("test.chk.scoped", watch=[Item], scope=lambda brand: f"client:{brand.owner_id}"):
            assert not [e for e in checks.check_watch_scopes() if "test.chk.scoped" in e.msg]

    def test_a_watched_model_with_a_plain_manager_is_w003(self):
        from django.contrib.auth.models import Group

        with temporary_namespace("test.chk.groups", watch=[Group]):
            warnings = [w for w in checks.check_watched_managers() if w.obj is Group]
        assert self.ids(warnings) == ["cachecore.W003"]
        assert "InvalidatingManager" in warnings[0].hint

    def test_a_model_listed_as_unrecorded_is_not_w003(self, settings):
        from django.contrib.auth.models import Group

        settings.CACHECORE_UNRECORDED_BULK_WRITES = ("auth.Group",)
        with temporary_namespace("test.chk.groups", watch=[Group]):
            assert not [w for w in checks.check_watched_managers() if w.obj is Group]

    def test_the_projects_watched_models_record_their_queryset_writes(self):
        assert checks.check_watched_managers() == []

    def test_prewarmer_for_unknown_namespace_is_e002(self, registry):
        prewarmer("test.chk.nope")(lambda progress=None: 0)
        assert self.ids(checks.check_prewarmers()) == ["cachecore.E002"]

    @override_settings(CACHE_ENABLED=False)
    def test_cache_disabled_is_w001(self):
        assert "cachecore.W001" in self.ids(checks.check_settings())

    @override_settings(CACHECORE_DEBOUNCE_SECONDS=5, CACHECORE_MAX_WAIT_SECONDS=1)
    def test_max_wait_below_debounce_is_w002(self):
        assert self.ids(checks.check_settings()) == ["cachecore.W002"]

    @override_settings(CACHECORE_DEBOUNCE_SECONDS=-1)
    def test_negative_delay_is_e003(self):
        assert self.ids(checks.check_settings()) == ["cachecore.E003"]

    def test_default_settings_pass(self):
        assert checks.check_settings() == []
