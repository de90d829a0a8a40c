"""Print a performance summary: this process's, or one merged from snapshot files."""

import json

from django.core.management.base import BaseCommand, CommandError

from monitoring import deployment, reports, snapshots
from monitoring.performance import OPERATION, SQL


class Command(BaseCommand):
    help = (
        "Print count, total, mean, min, P50/P95/P99, max, slow/critical counts and rating per SQL fingerprint "
        "and tracked operation, as a table. Without --snapshot: the deployment's statistics (every process's "
        "counters from the shared store, plus this one's). With --snapshot FILE|DIR: the statistics "
        "written by processes running with MONITORING_SNAPSHOT_DIR (a directory merges every perf-*.json)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--snapshot", metavar="PATH", help="a snapshot file, or a directory of perf-*.json")
        parser.add_argument("--save", metavar="FILE", help="also write the statistics shown as a snapshot file")
        parser.add_argument("--top", type=int, default=20, help="rows to show (default 20)")
        parser.add_argument("--kind", choices=["sql", "operation", "all"], default="all")
        parser.add_argument("--sort", choices=sorted(reports.SORT_KEYS), default="p95")
        parser.add_argument("--json", action="store_true", help="print the health endpoint's performance JSON")

    def handle(self, *args, **options):
        if options["top"] < 1:
            raise CommandError("--top must be at least 1.")
        if options["snapshot"]:
            try:
                source, files = snapshots.load_snapshots(options["snapshot"])
            except (FileNotFoundError, ValueError, KeyError, json.JSONDecodeError) as exc:
                raise CommandError(f"--snapshot {options['snapshot']}: {exc}") from exc
            origin, shown_origin = f"{files} snapshot file(s) at {options['snapshot']}", {}
        else:
            source, found = deployment.performance()
            shown_origin = {"deployment": found}
            since = f" since {found['since']}" if found["since"] else ""
            origin = f"{found['processes']} process(es){since}, {found['source']}"
        if options["save"]:
            snapshots.write_snapshot(options["save"], source)
        if options["json"]:
            self.stdout.write(json.dumps({**source.report(top=options["top"]), **shown_origin}, indent=2))
            return
        kind = {"sql": SQL, "operation": OPERATION, "all": None}[options["kind"]]
        rows = reports.summary_rows(source, top=options["top"], kind=kind, sort=options["sort"])
        self.stdout.write(self.style.MIGRATE_HEADING(f"Performance report ({origin}; times in ms)"))
        self.stdout.write(reports.format_overview(source))
        if not rows:
            self.stdout.write(self.style.WARNING("No samples recorded."))
        else:
            self.stdout.write(reports.format_table(rows))
        for line in reports.format_regressions(source):
            self.stdout.write(self.style.ERROR(line))
        if options["save"]:
            self.stdout.write(self.style.SUCCESS(f"Snapshot written to {options['save']}"))
