"""`make demo` three times in a row, as a new user would try it: each run succeeds, the first delivers
everything, and the second and third change nothing at the hub and say so. The credit step grades the
entities, raises warnings and draws once, verified; later runs raise nothing new and re-verify that draw."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.settings import Settings
from samples.demo import REPO_ROOT as REPO
from samples.demo import hub_report

pytestmark = pytest.mark.e2e


def test_the_demo_three_times_in_a_row(tmp_path: Path) -> None:
    home = tmp_path / "var"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "GATEWAY_"))}
    env.update({"GATEWAY_HOME": str(home), "COLUMNS": "160"})
    reports, outputs = [], []
    for _ in range(3):
        run = subprocess.run(
            [sys.executable, "-m", "samples.demo"],
            env=env,
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
        outputs.append(run.stdout)
        reports.append(hub_report(Settings.from_env({"GATEWAY_HOME": str(home)})))
    first, second, third = reports
    assert first["batches"]["accepted"] >= 10 and first["batches"]["rejected"] == 0
    assert first["records"]["total"] > 250
    assert second == first and third == first
    assert "credit risk classes (信用风险分类, internal)" in outputs[0]
    assert "task XZ-2026-SJ-001 drawn now" in outputs[0]
    assert "信用风险分类下降" not in outputs[0]  # the first classification has no earlier run to move from
    # Issue 14: an expiry and a repair withdrawn and delivered, an objection holding a record, then released.
    assert "公示期满: admin_penalty 忻市监罚〔2023〕17号" in outputs[0]
    assert "信用修复: admin_penalty 忻交罚〔2026〕18号" in outputs[0]
    assert "hub: acknowledged in batch" in outputs[0]
    assert "the correction is held" in outputs[0]
    assert "resolved as corrected, the hold lifted; delivery: 1 batch acknowledged" in outputs[0]
    assert first["withdrawal_reasons"] == {"credit_repaired": 2, "publicity_expired": 3}
    for text in outputs:  # the lookup, by each kind of code, and the codes that are not answers
        for kind in ("统一社会信用代码", "工商注册号", "组织机构代码"):
            assert f"by {kind} " in text and "定襄县宏达机械制造有限公司\n    red lists" in text
        assert "422 bad_check_character" in text and "400 malformed_code" in text
        assert "404 unknown_entity" in text
        assert "risk class: not for a department" in text
        assert re.search(r"supervisor \(internal role\): risk class [ABCD] ", text)
        assert "printable report LK-" in text
    for text in outputs:
        assert "verified: the draw re-runs to the same result and its signature holds" in text
    for text in outputs[1:]:
        assert "early warnings (风险预警): 0 raised today" in text
        assert "moved since the previous run: 0" in text
        assert "task XZ-2026-SJ-001 was drawn before" in text
        assert "nothing new to send" in text
        assert "nothing new from" in text  # every pulled source: no unit landed
        assert "重复" in text  # the dropped samples are answered as duplicates
        assert "was raised and resolved by an earlier run" in text
