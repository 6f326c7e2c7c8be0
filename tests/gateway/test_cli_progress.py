"""Progress bars (gateway/cli_progress.py over gateway/progress.py): drawn on a terminal's stderr while the
library reports, never anywhere else — so JSON on stdout and logs stay clean."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from gateway import progress
from gateway.cli import app
from gateway.cli_progress import progress_bars, stderr_is_terminal
from gateway.ingest import ingest_file
from gateway.settings import Settings
from tests.paths import REPO_ROOT

SAMPLE = REPO_ROOT / "samples" / "inbox" / "xz_amr" / "2026年10月行政处罚信息.csv"
CONTROL = re.compile(r"\x1b\[")


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, str, int | None]] = []

    def begin(self, stage: str, total: int | None) -> None:
        self.events.append(("begin", stage, total))

    def advance(self, stage: str, amount: int) -> None:
        self.events.append(("advance", stage, amount))

    def done(self, stage: str) -> int:
        return sum(n or 0 for kind, name, n in self.events if kind == "advance" and name == stage)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("GATEWAY_HOME", str(tmp_path / "var"))
    return Settings.from_env()


def test_the_pipeline_reports_its_rows_to_the_observer_of_its_context_only(home: Settings) -> None:
    recorder = Recorder()
    with progress.observed_by(recorder):
        receipt = ingest_file(home, SAMPLE, "check", dry_run=True).receipt
    assert recorder.done(progress.ROWS) == receipt.rows + receipt.skipped == 12
    ingest_file(home, SAMPLE, "other", dry_run=True)  # outside the block: reported to nobody
    assert recorder.done(progress.ROWS) == 12


def test_on_a_terminal_the_bars_count_the_rows_and_vanish(home: Settings) -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=120)
    with progress_bars(console, enabled=True) as bars, bars.phase("检查 样例.csv"):
        assert bars.shown
        ingest_file(home, SAMPLE, "check", dry_run=True)
    drawn = out.getvalue()
    assert "已检查数据行" in drawn and "12 行" in drawn
    assert drawn.endswith("\x1b[2K")  # transient: the last thing written erases the bars


def test_off_a_terminal_nothing_is_drawn_and_nothing_observes(
    home: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stderr", io.StringIO())
    assert not stderr_is_terminal()
    with progress_bars() as bars, bars.phase("迁移数据库"):
        assert not bars.shown
        progress.advance(progress.ROWS, 5)  # goes nowhere, fails nothing
    assert stderr_is_terminal(type("Tty", (), {"isatty": lambda self: True})())


def test_commands_keep_stdout_and_stderr_clean_when_not_on_a_terminal(home: Settings) -> None:
    runner = CliRunner()
    checked = runner.invoke(app, ["check", str(SAMPLE)])
    assert json.loads(checked.stdout)["rows"] == 12
    assert checked.stderr == ""
    upgraded = runner.invoke(app, ["db", "upgrade"])
    assert upgraded.exit_code == 0 and "is at revision" in upgraded.stdout and upgraded.stderr == ""
    status = runner.invoke(app, ["status", "--json"])
    assert status.exit_code == 0 and isinstance(json.loads(status.stdout), dict)
    for result in (checked, upgraded, status):
        assert not CONTROL.search(result.output)
