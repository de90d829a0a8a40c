"""Measure the cache's consistency: P processes read and write through it, a checker judges."""

import argparse
import json
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from monitoring.torture import faults, preflight, runner

SUMMARY_FIELDS = (
    ("operations", "operations"),
    ("reads", "reads"),
    ("writes", "writes"),
    ("stale reads (within or beyond the bound)", "stale_reads"),
    ("stale beyond the bound", "stale_beyond_bound"),
    ("reads matching no committed state", "unmatched_reads"),
    ("lost invalidations", "lost_invalidations"),
    ("staleness p50 / p99 / max (s)", None),
    ("operation p50 / p99 (ms)", None),
    ("errors", "errors"),
    ("faults injected", "faults_injected"),
    ("verifier: verified / inconsistent / dropped", None),
)


class Command(BaseCommand):
    help = (
        "Torture the cache: P worker processes read through the cached services and endpoints and write their "
        "sources (saves, update(), bulk_create, deletes, raw SQL on PostgreSQL, membership moves) for S seconds, "
        "optionally under injected faults (a private redis-server stalled, restarted empty or full; a writer "
        "SIGKILLed after a commit; the relay killed and restarted). A checker compares every read with the "
        "committed history. Exit 1 when a read was stale beyond its namespace's bound, a read matched no "
        "committed state, or an invalidation was lost. The run's rows are created and deleted by the command."
    )

    def add_arguments(self, parser):
        parser.add_argument("--seconds", type=float, default=30.0, help="length of the read/write phase (default 30)")
        parser.add_argument("--processes", type=int, default=3, help="worker processes (default 3)")
        parser.add_argument(
            "--faults",
            default="none",
            help=f"all, none (default) or a comma-separated list of {','.join(faults.KINDS)}",
        )
        parser.add_argument("--json", action="store_true", help="print one JSON object as the last line")
        parser.add_argument("--seed", type=int, default=1, help="seed of the workers' random choices")
        parser.add_argument(
            "--no-invalidation",
            action="store_true",
            help="negative control: the workers' writes invalidate nothing (the checker must report stale reads)",
        )
        # The coordinator starts its children through this same command.
        parser.add_argument("--phase", choices=["setup", "worker", "teardown"], help=argparse.SUPPRESS)
        parser.add_argument("--run-dir", help=argparse.SUPPRESS)
        parser.add_argument("--tag", help=argparse.SUPPRESS)
        parser.add_argument("--slot", type=int, help=argparse.SUPPRESS)
        parser.add_argument("--generation", type=int, default=0, help=argparse.SUPPRESS)
        parser.add_argument("--until", type=float, help=argparse.SUPPRESS)
        parser.add_argument("--final-at", type=float, help=argparse.SUPPRESS)

    def handle(self, *args, **options):
        if options["phase"]:
            return self._phase(options)
        if options["seconds"] <= 0:
            raise CommandError("--seconds must be greater than 0.")
        if not 1 <= options["processes"] <= 32:
            raise CommandError("--processes must be between 1 and 32.")
        try:
            kinds = faults.parse_faults(options["faults"])
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        as_json = options["json"]
        run_options = runner.Options(
            seconds=options["seconds"],
            processes=options["processes"],
            faults=kinds,
            seed=options["seed"],
            invalidation=not options["no_invalidation"],
            progress=None if as_json else self._progress,
        )
        try:
            preflight.check_database(connection)
            summary = runner.run(run_options)
        except RuntimeError as exc:
            raise CommandError(str(exc)) from exc
        if as_json:
            self.stdout.write(json.dumps(summary, separators=(",", ":")))
        else:
            self._summary(summary)
        if summary["stale_beyond_bound"] or summary["lost_invalidations"] or summary["unmatched_reads"]:
            sys.exit(1)

    def _phase(self, options):
        from monitoring.torture import phases

        run_dir = Path(options["run_dir"])
        if options["phase"] == "setup":
            phases.setup(run_dir, tag=options["tag"], slots=options["processes"])
        elif options["phase"] == "teardown":
            phases.teardown(run_dir)
        else:
            phases.work(
                run_dir,
                slot=options["slot"],
                generation=options["generation"],
                until=options["until"],
                final_at=options["final_at"],
                seed=options["seed"],
                invalidation=not options["no_invalidation"],
            )

    def _progress(self, p: dict) -> None:
        line = (
            f"\r{p['phase']:>8}  {min(p['elapsed'], p['until']):5.0f}/{p['until']:.0f} s"
            f"  reads {p['reads']}  writes {p['writes']}  errors {p['errors']}"
            f"  faults {','.join(p['faults']) or '-'}"
        )
        if p["phase"] == "settling":
            line += f"  (final reads in {max(0.0, p['final_at'] - p['elapsed']):.0f} s)"
        self.stdout.write(line.ljust(100), ending="")
        self.stdout.flush()

    def _summary(self, s: dict) -> None:
        self.stdout.write("")
        ok = not (s["stale_beyond_bound"] or s["lost_invalidations"] or s["unmatched_reads"])
        self.stdout.write(
            f"cache_torture: {s['processes']} processes, {s['seconds']:g} s, {s['database']}, Redis {s['redis']}"
            + ("" if s["invalidation"] else " (negative control: invalidation off)")
        )
        for label, key in SUMMARY_FIELDS:
            if key == "faults_injected":
                value = ", ".join(s[key]) or "none"
            elif key is not None:
                value = s[key]
            elif label.startswith("staleness"):
                value = f"{s['staleness_p50_s']} / {s['staleness_p99_s']} / {s['max_staleness_s']}"
            elif label.startswith("verifier"):
                v = s["verifier"]
                value = f"{v['verified']} / {v['inconsistent']} / {v['dropped']} (CACHECORE_VERIFY_RATE of the workers)"
            else:
                value = f"{s['p50_ms']} / {s['p99_ms']}"
            self.stdout.write(f"  {label:<44} {value}")
        for example in s["stale_examples"][:5]:
            self.stdout.write(self.style.WARNING(f"  stale: {example}"))
        for example in s["error_examples"]:
            self.stdout.write(self.style.WARNING(f"  error: {example}"))
        message = "consistent: nothing stale beyond the bound, nothing lost" if ok else "INCONSISTENT"
        self.stdout.write((self.style.SUCCESS if ok else self.style.ERROR)(message))
