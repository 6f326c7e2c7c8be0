"""gateway/entity_profile.py: an entity found by code or name, and its records by type and source."""

from __future__ import annotations

from gateway.entity_profile import profile, records_page, search
from gateway.ingest import ingest_file
from gateway.schema import load_record_types
from gateway.settings import Settings
from tests.paths import REPO_ROOT

SAMPLES = REPO_ROOT / "samples" / "inbox"
# 忻州市晋北商贸有限公司: penalties from the market regulator; 定襄县宏达机械制造有限公司 has a
# registration number as well.
JINBEI = "91140902MA0K2B3C30"
HONGDA = "91140921MA0K4D5E9E"


def load(settings: Settings) -> None:
    ingest_file(settings, SAMPLES / "xz_amr" / "2026年10月行政处罚信息.csv", "xz_amr")
    ingest_file(settings, SAMPLES / "xz_transport" / "行政许可信息-2026年10月.xlsx", "xz_transport")


def test_found_by_any_code_as_people_write_it_or_by_part_of_its_name(settings: Settings) -> None:
    load(settings)
    by_uscc = search(settings, " 91140902-ma0k2b3c30 ")
    assert [e.uscc for e in by_uscc.items] == [JINBEI]
    assert by_uscc.items[0].records >= 1
    assert [e.uscc for e in search(settings, "140900200001233").items] == [HONGDA]  # registration number
    assert [e.uscc for e in search(settings, "MA0K4D5E-9").items] == [HONGDA]  # organisation code
    by_name = search(settings, "晋北 商贸")
    assert [e.name for e in by_name.items] == ["忻州市晋北商贸有限公司"]
    assert search(settings, "%").total == 0  # a LIKE wildcard is a character like any other
    everyone = search(settings, "有限公司", size=2)
    assert everyone.total > 2 and len(everyone.items) == 2 and everyone.pages == -(-everyone.total // 2)


def test_a_profile_counts_records_by_type_and_source_and_lists_them(settings: Settings) -> None:
    load(settings)
    record_types = load_record_types(settings.schemas_dir)
    entity_id = search(settings, JINBEI).items[0].id
    found = profile(settings, entity_id, record_types)
    assert found is not None and found.entity.name == "忻州市晋北商贸有限公司"
    groups = [(g.record_type_label, g.source_id, g.kind) for g in found.groups]
    assert ("行政处罚", "xz_amr", "file") in groups
    assert found.entity.records == sum(g.records for g in found.groups)
    everything = records_page(settings, entity_id, record_types)
    assert everything.total == found.entity.records
    penalties = records_page(settings, entity_id, record_types, "admin_penalty", size=1)
    assert penalties.total == next(g.records for g in found.groups if g.record_type == "admin_penalty")
    assert penalties.items[0].source_id == "xz_amr" and penalties.items[0].attach_method == "uscc"
    assert profile(settings, 999_999, record_types) is None
    assert records_page(settings, 999_999, record_types).total == 0
