"""manage.py cache_stats [--json]"""

import json

from django.core.management.base import BaseCommand
from django.db import DatabaseError

from cachecore import maintenance
from cachecore.report import deployment_stats


class Command(BaseCommand):
    help = (
        "Print the cache engine's counters summed over every process of the deployment (from the shared "
        "store the monitoring app keeps) and the L3 table's size."
    )

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", dest="as_json", help="print the stats() dict as JSON")

    def handle(self, *args, as_json: bool = False, **options):
        snapshot = deployment_stats()
        try:
            table = maintenance.table_status()
            snapshot["l3_table"] = {"exists": table.exists, "rows": table.rows, "expired": table.expired}
        except DatabaseError as exc:
            snapshot["l3_table"] = {"exists": None, "error": str(exc)}
        if as_json:
            self.stdout.write(json.dumps(snapshot, indent=2, sort_keys=True, default=str))
            return
        self._table(snapshot)

    def _table(self, s):
        rate = "-" if s["hit_rate"] is None else f"{s['hit_rate']}%"
        origin = s["deployment"]
        since = f" since {origin['since']}" if origin.get("since") else ""
        self.stdout.write(f"Counters of {origin['processes']} process(es){since} ({origin['source']})")
        self.stdout.write(f"Caching {'enabled' if s['enabled'] else 'DISABLED'}; hit rate {rate}")
        self.stdout.write(f"{'tier':<6}{'hits':>10}{'misses':>10}{'errors':>10}")
        for tier, t in s["tiers"].items():
            self.stdout.write(f"{tier:<6}{t['hits']:>10}{t['misses']:>10}{t['errors']:>10}")
        l1 = s["l1"]
        bounds = f"max {l1['max_entries']} entries / {l1['max_bytes']} bytes"
        self.stdout.write(f"L1 of this process: {l1['entries']} entries, {l1['bytes']} bytes ({bounds})")
        table = s["l3_table"]
        if table.get("exists"):
            self.stdout.write(f"L3 table: {table['rows']} rows, {table['expired']} expired")
        else:
            self.stdout.write(self.style.WARNING("L3 table: missing or unreachable"))
        for name, ns in s["namespaces"].items():
            ns_rate = "-" if ns["hit_rate"] is None else f"{ns['hit_rate']}%"
            counts = f"{ns['hits']} hits, {ns['misses']} misses, {ns_rate}, {ns['computes']} computes"
            self.stdout.write(f"  {name}: {counts}")
