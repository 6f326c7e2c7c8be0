"""An objection's states, after 征信业管理条例 第二十五条: marked as disputed while it is checked (open), then
corrected (更正), upheld (维持: the record stands, the mark is removed) or unconfirmed (不能确认: what was
checked and the objection are kept on record, here as the note); and lapsed when the working-day deadline
passed without an answer. Every state but open is final."""

from __future__ import annotations

OPEN, CORRECTED, UPHELD, UNCONFIRMED, LAPSED = "open", "corrected", "upheld", "unconfirmed", "lapsed"
STATES = (OPEN, CORRECTED, UPHELD, UNCONFIRMED, LAPSED)
OUTCOMES = (CORRECTED, UPHELD, UNCONFIRMED)
"""What a person decides (`resolve --outcome`); lapsed is only ever the daily run's."""
RAISED = "raised"
"""The first event of every objection."""
DEADLINE_ACTOR = "deadline"
"""Who lapses an objection: its deadline, through the daily run."""

STATE_LABELS = {
    OPEN: "存在异议（核查中）",
    CORRECTED: "已更正",
    UPHELD: "维持",
    UNCONFIRMED: "不能确认",
    LAPSED: "逾期未答复",
}
ACTION_LABELS = {RAISED: "提出异议", **{state: STATE_LABELS[state] for state in STATES if state != OPEN}}

CHANNEL_LABELS = {"department": "部门提出", "credit_platform": "信用平台转来"}

WORDS_MAX = 64  # raised_by, resolved_by and an event's actor are String(64)
