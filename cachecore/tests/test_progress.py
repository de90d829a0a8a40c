"""StepProgress: a rich bar on a terminal, one even line per tenth with an ETA elsewhere."""

import re
from io import StringIO

from cachecore.progress import StepProgress


def drive(progress, total=20):
    ticks = iter(range(1000))
    progress.clock = lambda: float(next(ticks))  # one second per call: a deterministic ETA
    progress.start("reference", total)
    for done in range(1, total + 1):
        progress.update(done, total)
    progress.finish()


def test_plain_output_is_one_line_per_tenth_with_counts_and_an_eta():
    out = StringIO()
    drive(StepProgress(out, tty=False))

    lines = out.getvalue().splitlines()
    assert [re.search(r"(\d+)/20", line).group(1) for line in lines] == [str(n) for n in range(2, 21, 2)]
    assert lines[0].startswith("  reference: 2/20 (10%) in ") and "s left" in lines[0]
    assert lines[-1].startswith("  reference: 20/20 (100%) in ") and "left" not in lines[-1]
    assert "\r" not in out.getvalue()


def test_unknown_total_prints_the_count():
    out = StringIO()
    progress = StepProgress(out, tty=False)
    progress.start("users")
    progress.update(7)
    assert out.getvalue().startswith("  users: 7 in ")


def test_a_terminal_gets_a_rich_bar_with_counts_and_eta():
    out = StringIO()
    drive(StepProgress(out, tty=True))

    text = out.getvalue()
    assert "reference" in text and "20/20" in text and "eta" in text
    assert "━" in text  # rich's bar
