"""Names of the regions that events and parties name by code: China's provinces, autonomous
regions, municipalities and special administrative regions, coded as in ISO 3166-2:CN — the
numeric codes of GB/T 2260 (`CN-44`, as unitrace's demo and most ERPs write them) and the
letter codes ISO 3166-2:CN has used since 2017 (`CN-GD`) — in Chinese and English."""

from __future__ import annotations

# (GB/T 2260 code, ISO 3166-2:CN letters, 中文, English)
_PROVINCES = (
    ("11", "BJ", "北京", "Beijing"),
    ("12", "TJ", "天津", "Tianjin"),
    ("13", "HE", "河北", "Hebei"),
    ("14", "SX", "山西", "Shanxi"),
    ("15", "NM", "内蒙古", "Inner Mongolia"),
    ("21", "LN", "辽宁", "Liaoning"),
    ("22", "JL", "吉林", "Jilin"),
    ("23", "HL", "黑龙江", "Heilongjiang"),
    ("31", "SH", "上海", "Shanghai"),
    ("32", "JS", "江苏", "Jiangsu"),
    ("33", "ZJ", "浙江", "Zhejiang"),
    ("34", "AH", "安徽", "Anhui"),
    ("35", "FJ", "福建", "Fujian"),
    ("36", "JX", "江西", "Jiangxi"),
    ("37", "SD", "山东", "Shandong"),
    ("41", "HA", "河南", "Henan"),
    ("42", "HB", "湖北", "Hubei"),
    ("43", "HN", "湖南", "Hunan"),
    ("44", "GD", "广东", "Guangdong"),
    ("45", "GX", "广西", "Guangxi"),
    ("46", "HI", "海南", "Hainan"),
    ("50", "CQ", "重庆", "Chongqing"),
    ("51", "SC", "四川", "Sichuan"),
    ("52", "GZ", "贵州", "Guizhou"),
    ("53", "YN", "云南", "Yunnan"),
    ("54", "XZ", "西藏", "Tibet"),
    ("61", "SN", "陕西", "Shaanxi"),
    ("62", "GS", "甘肃", "Gansu"),
    ("63", "QH", "青海", "Qinghai"),
    ("64", "NX", "宁夏", "Ningxia"),
    ("65", "XJ", "新疆", "Xinjiang"),
    ("71", "TW", "台湾", "Taiwan"),
    ("91", "HK", "香港", "Hong Kong"),
    ("92", "MO", "澳门", "Macao"),
)

NAMES: dict[str, tuple[str, str]] = {"CN": ("中国", "China")}
for _number, _letters, _zh, _en in _PROVINCES:
    NAMES[f"CN-{_number}"] = NAMES[f"CN-{_letters}"] = (_zh, _en)


def region_name(code: str | None, locale: str = "en") -> str:
    """The region's name in the locale (`zh-CN` or English), or "" for a code not in the
    table (a city code such as CN-4403 is named by its province)."""
    if not code:
        return ""
    upper = code.strip().upper()
    found = NAMES.get(upper)
    if found is None and upper.startswith("CN-") and len(upper) > 5 and upper[3:].isdigit():
        found = NAMES.get(upper[:5])
    if found is None:
        return ""
    return found[0] if locale.lower().startswith("zh") else found[1]


def label(code: str | None, locale: str = "en") -> str:
    """`CN-44 广东` (`CN-44 Guangdong`): the code and its name, or the code alone."""
    name = region_name(code, locale)
    return f"{code} {name}" if name else (code or "")
