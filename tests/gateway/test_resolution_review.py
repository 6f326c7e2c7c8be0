"""gateway/resolution_review.py: each waiting record with the entities it might be about."""

from __future__ import annotations

from datetime import UTC, datetime

from gateway.entities import ensure_entities, normalize_name
from gateway.ids.uscc import calc_check
from gateway.ingest import ingest_file
from gateway.resolution_review import waiting_page
from gateway.schema import load_record_types
from gateway.settings import Settings
from gateway.store.db import engine_for
from tests.paths import REPO_ROOT

ECOLOGY = REPO_ROOT / "samples" / "inbox" / "xz_ecology" / "环境行政处罚台账.csv"


def uscc(body: str) -> str:
    return body + calc_check(body)


def register(settings: Settings, entities: dict[str, tuple[str, str | None]]) -> None:
    """Entities as records register them: USCC → (name, registration number)."""
    rows = {
        code: {"name": name, "name_norm": normalize_name(name), "reg_no": reg_no}
        for code, (name, reg_no) in entities.items()
    }
    with engine_for(settings.database_url).begin() as conn:
        ensure_entities(conn, rows, datetime.now(UTC))


def test_waiting_records_show_their_subject_and_candidates(settings: Settings) -> None:
    ingest_file(settings, ECOLOGY, "xz_ecology")  # two rows name registration numbers nobody registered
    same_reg, same_name, similar, unrelated, tiny = (
        uscc("91140921MA0K4D5E9"),
        uscc("91140932MA0KAB1C4"),
        uscc("91140932MA0KP6GF1"),
        uscc("91140900MA0KQQ111"),
        uscc("91140900MA0KQQ222"),
    )
    register(
        settings,
        {
            same_reg: ("宏达机械", "140900200001233"),  # registered since, under the record's number
            same_name: ("偏关县 老牛湾石料厂", None),  # the same name, written with a space
            similar: ("偏关县老牛湾石料厂（普通合伙）", None),
            unrelated: ("忻州市晋北商贸有限公司", None),
            tiny: ("石料", None),  # contained in the name, but too short to suggest anything
        },
    )
    page = waiting_page(settings, load_record_types(settings.schemas_dir))
    assert page.total == 2
    machine, quarry = page.items
    assert (machine.record_type_label, machine.source, machine.source_row) == (
        "行政处罚",
        "xz_ecology/环境行政处罚台账.csv",
        2,
    )
    assert (machine.subject.name, machine.subject.reg_no) == ("定襄县宏达机械制造有限公司", "140900200001233")
    assert [(c.uscc, c.why[:5]) for c in machine.candidates] == [(same_reg, "注册号相同")]
    assert quarry.subject.name == "偏关县老牛湾石料厂" and quarry.natural_key.endswith("33号")
    assert [(c.uscc, c.why) for c in quarry.candidates] == [(same_name, "名称相同"), (similar, "名称相近")]


def test_the_queue_is_paged_oldest_first(settings: Settings) -> None:
    ingest_file(settings, ECOLOGY, "xz_ecology")
    record_types = load_record_types(settings.schemas_dir)
    first = waiting_page(settings, record_types, number=1, size=1)
    second = waiting_page(settings, record_types, number=2, size=1)
    assert (first.total, first.pages, second.number) == (2, 2, 2)
    assert first.items[0].queue_id < second.items[0].queue_id
    assert waiting_page(settings, record_types, number=5, size=1).items == second.items
