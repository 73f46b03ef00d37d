"""Names of region codes (ISO 3166-2 style: country, dash, subdivision), for pages and the CLI.

China's provinces are written with their GB/T 2260 number (`CN-31`, as the demo and most ERPs
do) or their ISO 3166-2:CN letters (`CN-SH`); both have a name here. A code without a known
name is still a valid region (a region code is checked by its form only); it is shown as is.
"""

from __future__ import annotations

# (number, letters, Chinese name, English name)
_CHINA = [
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
]
NAMES: dict[str, tuple[str, str]] = {}
for _number, _letters, _zh, _en in _CHINA:
    NAMES[f"CN-{_number}"] = NAMES[f"CN-{_letters}"] = (_zh, _en)
NAMES["CN"] = ("中国", "China")

# the codes offered when choosing regions (one per province, by number)
CHOICES = [f"CN-{number}" for number, *_rest in _CHINA]


def region_name(code: str | None, locale: str = "en") -> str:
    """The region's name in the locale (`zh…` or else English), or "" when none is known."""
    if not code:
        return ""
    upper = code.strip().upper()
    names = NAMES.get(upper)
    if names is None and upper.startswith("CN-") and len(upper) > 5 and upper[3:].isdigit():
        names = NAMES.get(upper[:5])  # a city or county (CN-4403) is named by its province
    if names is None:
        return ""
    return names[0] if locale.lower().startswith("zh") else names[1]


def region_label(code: str | None, locale: str = "en") -> str:
    """`CN-31 上海` — the code with its name when one is known, else the code alone."""
    if not code:
        return ""
    name = region_name(code, locale)
    return f"{code} {name}" if name else code
