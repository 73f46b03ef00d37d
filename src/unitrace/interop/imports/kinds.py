"""What can be imported: each kind's fields and the headers (Chinese and English) that name
them. Headers are matched case- and space-insensitively (`normal`)."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Field:
    name: str
    headers_zh: tuple[str, ...]
    headers_en: tuple[str, ...]
    required: bool = False

    def public(self) -> dict[str, object]:
        return {
            "name": self.name,
            "headers_zh": list(self.headers_zh),
            "headers_en": list(self.headers_en),
            "required": self.required,
        }


def _f(name: str, zh: str, en: str, required: bool = False) -> Field:
    return Field(name, tuple(zh.split("|")), tuple(en.split("|")), required)


_SERIAL = _f("serial", "序列号|产品序列号|机身号|条码", "serial|sn|serial number|serial no", True)
_PRODUCT_ZH, _PRODUCT_EN = "物料编码|产品编码|物料号|型号编码|产品", "product|product code|sku|item"
_PRODUCT = _f("product", _PRODUCT_ZH, _PRODUCT_EN)
_DATE = _f("date", "日期|出库日期|发货日期|销售日期|维修日期", "date|event date|ship date|sold at")

KINDS: dict[str, tuple[Field, ...]] = {
    "products": (
        _f("code", "物料编码|产品编码|编码", "code|product|product code|sku", True),
        _f("name", "名称|产品名称|物料名称", "name|product name", True),
        _f("gtin", "商品条码|GTIN", "gtin|ean|upc"),
        _f("tracking", "追溯方式", "tracking"),
        _f("serial_rule", "序列号规则", "serial rule"),
        _f("warranty_months", "保修月数|保修期", "warranty months|warranty"),
        _f("description", "描述|说明", "description"),
    ),
    "lots": (
        _f("product", "物料编码|产品编码|产品", "product|product code|sku", True),
        _f("number", "批次号|批号|批次", "lot|lot number|batch", True),
        _f("production_date", "生产日期", "production date|produced"),
        _f("expiry_date", "有效期|到期日|失效日期", "expiry date|expiry|best before"),
        _f("supplier", "供应商", "supplier"),
    ),
    "parties": (
        _f("code", "编码|客户编码|经销商编码", "code|party|party code", True),
        _f("name", "名称|客户名称|经销商名称", "name", True),
        _f("kind", "类型|类别", "kind|type", True),
        _f("region", "地区|区域", "region"),
        _f("contact", "联系人|联系方式", "contact"),
    ),
    "locations": (
        _f("code", "编码|库位编码|仓库编码", "code|location|location code", True),
        _f("name", "名称", "name", True),
        _f("kind", "类型|类别", "kind|type", True),
        _f("parent", "上级|上级编码|所属仓库", "parent|parent code"),
        _f("region", "地区|区域", "region"),
    ),
    "units": (
        _SERIAL,
        _f("product", _PRODUCT_ZH, _PRODUCT_EN, True),
        _f("lot", "批次号|批号|批次", "lot|lot number|batch"),
        _f("warehouse", "仓库|仓库编码", "warehouse|location"),
        _f("bin", "库位|货位", "bin|shelf"),
        _f("status", "状态", "status"),
        _f("production_date", "生产日期", "production date|produced|made"),
    ),
    "shipments": (
        _SERIAL,
        _PRODUCT,
        _f("party", "客户|经销商|收货方|客户编码", "customer|distributor|party", True),
        _f("date", "出库日期|发货日期|日期", "ship date|date|shipped"),
        _f("number", "出库单号|发货单号|单号", "delivery note|shipment|number|document"),
    ),
    "sellthrough": (
        _SERIAL,
        _PRODUCT,
        _f("date", "销售日期|日期", "sold at|sale date|date"),
        _f("region", "地区|销售地区", "region"),
        _f("customer", "客户|顾客|消费者", "customer|buyer"),
    ),
    "repairs": (
        _SERIAL,
        _PRODUCT,
        _f("date", "维修日期|日期", "repair date|date|repaired"),
        _f("note", "维修内容|故障|故障描述|备注", "repair|fault|note|notes"),
    ),
    "bindings": (
        _f("parent", "父序列号|整机序列号|主机序列号", "parent|parent serial", True),
        _f("component", "子序列号|部件序列号|组件序列号", "component|component serial", True),
        _f("parent_product", "整机物料编码|父物料编码", "parent product"),
        _f("product", "部件物料编码|物料编码|产品编码", "component product|product"),
        _f("date", "装配日期|日期", "assembly date|date"),
    ),
}
KIND_NAMES = tuple(KINDS)
EVENT_KINDS = frozenset({"shipments", "sellthrough", "repairs", "bindings"})
MASTER_KINDS = frozenset({"products", "lots", "parties", "locations"})

_SPACE = re.compile(r"[\s_\-:：.()（）]+")


def normal(header: object) -> str:
    """A header as matched: case-folded, without spaces, underscores, dashes, colons, dots
    and brackets."""
    return _SPACE.sub("", str(header or "")).casefold()


def synonyms(kind: str) -> dict[str, str]:
    """Normal header → field, for the kind (the field's own name included); the first field
    that names a header wins."""
    found: dict[str, str] = {}
    for field in KINDS[kind]:
        for header in (field.name, *field.headers_zh, *field.headers_en):
            found.setdefault(normal(header), field.name)
    return found


def kinds() -> list[dict[str, object]]:
    return [{"kind": k, "fields": [f.public() for f in fields]} for k, fields in KINDS.items()]
