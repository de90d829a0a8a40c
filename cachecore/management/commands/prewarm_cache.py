"""manage.py prewarm_cache [--namespace N ...]"""

from django.core.management.base import BaseCommand, CommandError

from cachecore import prewarm
from cachecore.progress import StepProgress


class Command(BaseCommand):
    help = "Run the registered prewarmers (all, or the named namespaces) with progress and timings."

    def add_arguments(self, parser):
        parser.add_argument(
            "--namespace",
            "-n",
            action="append",
            dest="namespaces",
            metavar="N",
            help="prewarm only this namespace (repeatable); default: every registered prewarmer",
        )
        parser.add_argument("--list", action="store_true", help="list the registered prewarmers and exit")

    def handle(self, *args, namespaces=None, list=False, **options):
        if list:
            for name, fn in prewarm.registered().items():
                self.stdout.write(f"{name}  ({fn.__module__}.{fn.__qualname__})")
            return
        try:
            selected = prewarm.select(namespaces)
        except prewarm.UnknownPrewarmer as exc:
            raise CommandError(str(exc)) from None
        if not selected:
            self.stdout.write(self.style.WARNING("No prewarmers are registered; nothing to do."))
            return
        self.stdout.write(f"Prewarming {len(selected)} namespace(s)...")
        self._bars = StepProgress(self.stdout)
        try:
            results = prewarm.run_prewarmers(
                selected, progress=self._progress, on_start=self._start, on_result=self._result
            )
        finally:
            self._bars.finish()
        failed = [r.namespace for r in results if not r.ok]
        total = sum(r.entries for r in results)
        seconds = sum(r.seconds for r in results)
        if failed:
            raise CommandError(f"Prewarming failed for: {', '.join(failed)} ({total} entries warmed elsewhere).")
        summary = f"Prewarmed {len(results)} namespace(s): {total} entries in {seconds:.2f}s."
        self.stdout.write(self.style.SUCCESS(summary))

    def _start(self, namespace):
        self._bars.start(namespace)

    def _progress(self, namespace, done, total):
        self._bars.update(done, total)

    def _result(self, result):
        if result.ok:
            line = f"  OK      {result.namespace}: {result.entries} entries in {result.seconds:.3f}s"
            self.stdout.write(self.style.SUCCESS(line))
        else:
            line = f"  FAILED  {result.namespace} after {result.seconds:.3f}s: {result.error!r}"
            self.stderr.write(self.style.ERROR(line))
