"""config/draw_ratios.yaml: the city's ratios per risk class, the overall floor, the scope and how many
inspectors go per object and department. Read once per draw; the values used are copied into the signed
draw record, so a later change of the file never changes how an old draw verifies."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from gateway.credit.draws.algorithm import DrawError, check_ratios

FILE_NAME = "draw_ratios.yaml"


@dataclass(frozen=True)
class DrawConfig:
    ratios: dict[str, float]
    floor: float
    unclassified_stratum: str
    uscc_prefixes: tuple[str, ...]
    exclude_states: tuple[str, ...]
    inspectors_per_department: int
    source: str  # the file it came from, for messages


def load_config(credit_dir: Path) -> DrawConfig:
    path = credit_dir / FILE_NAME
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise DrawError(f"{path}: 无法读取抽查比例配置（{exc}）") from exc
    if not isinstance(data, dict):
        raise DrawError(f"{path}: 内容应为映射（ratios、floor、scope ……）")
    try:
        ratios = {str(k): v for k, v in dict(data["ratios"]).items()}
        floor = data["floor"]
        check_ratios(ratios, floor)
        scope = data.get("scope") or {}
        config = DrawConfig(
            ratios=ratios,
            floor=floor,
            unclassified_stratum=str(data.get("unclassified_stratum", "B")),
            uscc_prefixes=tuple(str(p) for p in scope.get("uscc_prefixes") or ("91",)),
            exclude_states=tuple(str(s) for s in scope.get("exclude_states") or ()),
            inspectors_per_department=int(data.get("inspectors_per_department", 2)),
            source=str(path),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise DrawError(f"{path}: {exc}") from exc
    if config.unclassified_stratum not in ratios:
        raise DrawError(f"{path}: unclassified_stratum {config.unclassified_stratum!r} 不在 ratios 中")
    if config.inspectors_per_department < 2:
        raise DrawError(f"{path}: inspectors_per_department 至少为 2（行政处罚法第四十二条）")
    return config


__all__ = ["FILE_NAME", "DrawConfig", "load_config"]
