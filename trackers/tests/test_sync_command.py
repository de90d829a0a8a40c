"""manage.py sync_tracker_state (once, --watch, signals, one per database) and the admin "sync now"."""

import os
import signal
import threading
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.urls import reverse

from tests.factories import BASE_TIME, make_dataset, make_user
from trackers import sync
from trackers.management.commands import sync_tracker_state as command_module
from trackers.models import LocationHistory, SyncWatermark, Tracker
from trackers.sync import AdaptiveInterval, SyncResult, sync_lock, watch

pytestmark = pytest.mark.django_db


@pytest.fixture
def data(db):
    return make_dataset(clients=1, brands_per_client=1, runs_per_brand=1, trackers_per_run=3, history_per_tracker=2)


def run(*args) -> str:
    out = StringIO()
    call_command("sync_tracker_state", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


class TestOnce:
    def test_a_run_then_no_changes(self, data):
        first = run("--batch-size", "2")
        assert "6 history rows in 3 batches, 3 trackers updated" in first
        assert run().startswith("no changes")

    def test_verbose_runs_report_each_batch(self, data):
        out = StringIO()
        call_command("sync_tracker_state", "--batch-size", "4", verbosity=2, stdout=out)
        assert "  batch 1: 4 rows" in out.getvalue()
        assert "  batch 2: 6 rows" in out.getvalue()

    @pytest.mark.parametrize(
        "args", [("--batch-size", "0"), ("--interval", "0"), ("--interval", "10", "--max-interval", "5")]
    )
    def test_bad_arguments(self, data, args):
        with pytest.raises(CommandError):
            run(*args)

    def test_a_second_sync_is_refused_with_a_clear_message(self, data):
        entered, release = threading.Event(), threading.Event()

        def holder():
            with sync_lock():
                entered.set()
                release.wait(5)

        if connection.vendor == "postgresql":
            import psycopg

            db = connection.settings_dict
            other = psycopg.connect(host=db["HOST"], port=db["PORT"] or 5432, user=db["USER"], dbname=db["NAME"])
            other.autocommit = True
            other.execute("SELECT pg_advisory_lock(%s)", [sync.ADVISORY_LOCK_KEY])
            try:
                with pytest.raises(CommandError, match="already running"):
                    run()
            finally:
                # Unlock explicitly: a closed session's locks go away only when its backend exits.
                other.execute("SELECT pg_advisory_unlock(%s)", [sync.ADVISORY_LOCK_KEY])
                other.close()
        else:
            thread = threading.Thread(target=holder)
            thread.start()
            entered.wait(5)
            try:
                with pytest.raises(CommandError, match="already running"):
                    run()
            finally:
                release.set()
                thread.join()
        assert "6 history rows" in run()


class TestWatch:
    def test_the_interval_backs_off_while_idle_and_snaps_back_on_change(self):
        interval = AdaptiveInterval(minimum=2, maximum=20)
        pauses = [interval.next(changed=c) for c in (False, False, False, False, False, True, False)]
        assert pauses == [4, 8, 16, 20, 20, 2, 4]

    def test_watch_pauses_between_runs_and_stops_when_asked(self):
        stop = threading.Event()
        waits = []
        outcomes = iter([SyncResult(rows=5, trackers=2), SyncResult(), SyncResult()])

        class RecordingStop:
            def is_set(self):
                return stop.is_set()

            def wait(self, seconds):
                waits.append(seconds)
                if len(waits) == 3:
                    stop.set()

        runs = watch(interval=AdaptiveInterval(1, 60), stop=RecordingStop(), run=lambda: next(outcomes))
        assert (runs, waits) == (3, [1, 2, 4])

    def test_the_command_watches_until_sigterm_and_finishes_the_batch(self, data, monkeypatch):
        if threading.current_thread() is not threading.main_thread():
            pytest.skip("signals are delivered to the main thread")
        real_apply = sync.apply_batch
        batches = []

        def apply_and_get_terminated(cursor, size, **kwargs):
            os.kill(os.getpid(), signal.SIGTERM)  # arrives in the middle of the first batch
            batch = real_apply(cursor, size, **kwargs)
            batches.append(batch.rows)
            return batch

        monkeypatch.setattr(sync, "apply_batch", apply_and_get_terminated)
        previous = signal.getsignal(signal.SIGTERM)
        out, err = StringIO(), StringIO()
        call_command("sync_tracker_state", "--watch", "--batch-size", "2", stdout=out, stderr=err)
        assert batches == [2]  # that batch finished; no further batch and no further run started
        assert "Received SIGTERM" in err.getvalue()
        assert "Stopped after 1 runs." in out.getvalue()
        assert signal.getsignal(signal.SIGTERM) is previous  # handlers restored
        second_id = LocationHistory.objects.order_by("pk").values_list("pk", flat=True)[1]
        assert SyncWatermark.objects.get().last_history_id == second_id  # committed with its batch

    def test_the_command_prints_runs_that_changed_something(self, data, monkeypatch):
        runs = []

        def fake_watch(*, interval, stop, run, on_result):
            runs.append(run())
            on_result(runs[-1], 5.0)
            runs.append(run())
            on_result(runs[-1], 10.0)
            return 2

        monkeypatch.setattr(command_module, "watch", fake_watch)
        out = StringIO()
        call_command("sync_tracker_state", "--watch", stdout=out)
        text = out.getvalue()
        assert "6 history rows" in text and "next run in 5 s" in text
        assert "next run in 10 s" not in text  # an idle run is silent at verbosity 1
        assert "Stopped after 2 runs." in text


class TestAdmin:
    @pytest.fixture
    def admin_client(self, client):
        client.force_login(_superuser())
        return client

    def test_the_page_and_the_button_run_the_sync(self, data, admin_client):
        url = reverse("admin:trackers_syncwatermark_sync_now")
        changelist = admin_client.get(reverse("admin:trackers_syncwatermark_changelist"))
        assert url in changelist.content.decode()
        page = admin_client.get(url)
        assert page.status_code == 200 and b"Sync now" in page.content
        response = admin_client.post(url, follow=True)
        assert response.redirect_chain[-1][0] == reverse("admin:trackers_syncwatermark_changelist")
        messages = [str(m) for m in response.context["messages"]]
        assert any("6 history rows" in m for m in messages), messages
        assert Tracker.objects.filter(latest_history_id__isnull=False).count() == 3

    def test_the_tracker_action_runs_the_sync(self, data, admin_client):
        tracker = data.trackers[0]
        response = admin_client.post(
            reverse("admin:trackers_tracker_changelist"),
            {"action": "sync_state_now", "_selected_action": [tracker.pk]},
            follow=True,
        )
        assert any("6 history rows" in str(m) for m in response.context["messages"])
        assert Tracker.objects.filter(latest_history_id__isnull=False).count() == 3

    def test_staff_without_the_permission_is_refused(self, data, client):
        client.force_login(make_user("clerk", staff=True))
        assert client.post(reverse("admin:trackers_syncwatermark_sync_now")).status_code == 403
        assert not Tracker.objects.filter(latest_history_id__isnull=False).exists()

    def test_a_running_sync_is_reported_not_doubled(self, data, admin_client, monkeypatch):
        def refuse(**kwargs):
            raise sync.SyncAlreadyRunning(sync.ALREADY_RUNNING)

        monkeypatch.setattr(sync, "sync_tracker_state", refuse)
        response = admin_client.post(reverse("admin:trackers_syncwatermark_sync_now"), follow=True)
        assert [str(m) for m in response.context["messages"]] == [sync.ALREADY_RUNNING]

    def test_a_bounded_run_says_more_may_be_pending(self, data, admin_client, monkeypatch, settings):
        from trackers import admin as trackers_admin

        monkeypatch.setattr(trackers_admin, "ADMIN_SYNC_MAX_BATCHES", 1)
        settings.TRACKERS_SYNC_BATCH_SIZE = settings.TRACKERS_SYNC_SET_BATCH_SIZE = 2
        response = admin_client.post(reverse("admin:trackers_syncwatermark_sync_now"), follow=True)
        messages = [str(m) for m in response.context["messages"]]
        assert any("Stopped after 1 batches" in m for m in messages), messages


def _superuser():
    from django.contrib.auth import get_user_model

    return get_user_model().objects.create_superuser("root", "root@example.com", "pw-root-12345")


def test_late_reports_do_not_move_state_back_through_the_command(data):
    run()
    tracker = data.trackers[0]
    LocationHistory.objects.create(tracker=tracker, timestamp=BASE_TIME - timedelta(days=3), latitude=0, longitude=0)
    assert "0 trackers updated" in run()
