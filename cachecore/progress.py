"""Progress of long commands: a rich bar per step on a terminal, plain even lines otherwise.

``StepProgress(stream)`` is driven by ``start(label, total)``, ``update(done, total)`` and
``finish()``. On a terminal each step gets its own bar with counts, elapsed time and an ETA (rich);
when the output is a file or a pipe (CI logs, ``| tee``) it writes one line per tenth of the step,
with the same counts and ETA, and never a carriage return.
"""

import time

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


class StepProgress:
    """Report the progress of named steps to ``stream`` (a Django OutputWrapper or a file)."""

    clock = staticmethod(time.monotonic)

    def __init__(self, stream, *, tty: bool | None = None):
        self.out = getattr(stream, "_out", stream)  # the file under Django's OutputWrapper
        self.tty = self.out.isatty() if tty is None else tty
        self._bar: Progress | None = None
        self._task = None
        self._label = ""
        self._started = 0.0
        self._tenth = -1

    def start(self, label: str, total: int | None = None) -> None:
        """Begin a step of ``total`` units (None: unknown)."""
        self._label, self._started, self._tenth = label, self.clock(), 0  # lines at 10 %, 20 %, ... 100 %
        if self.tty:
            if self._bar is None:
                console = Console(file=self.out, force_terminal=True)
                self._bar = Progress(
                    TextColumn("{task.description:>28}"),
                    BarColumn(),
                    MofNCompleteColumn(),
                    TimeElapsedColumn(),
                    TextColumn("eta"),
                    TimeRemainingColumn(),
                    console=console,
                )
                self._bar.start()
            self._task = self._bar.add_task(label, total=total)

    def update(self, done: int, total: int | None = None) -> None:
        """Record that ``done`` units of the current step are finished."""
        if self.tty:
            self._bar.update(self._task, completed=done, total=total)
            return
        tenth = int(10 * done / total) if total else None
        if total and tenth == self._tenth:
            return
        self._tenth = tenth if tenth is not None else self._tenth
        self.out.write(self._line(done, total) + "\n")
        self.out.flush()

    def _line(self, done: int, total: int | None) -> str:
        elapsed = self.clock() - self._started
        if not total:
            return f"  {self._label}: {done} in {elapsed:.1f} s"
        line = f"  {self._label}: {done}/{total} ({100 * done // total}%) in {elapsed:.1f} s"
        if 0 < done < total:
            line += f", about {elapsed * (total - done) / done:.1f} s left"
        return line

    def finish(self) -> None:
        """Stop the bars (a terminal keeps the last state of every step on screen)."""
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
