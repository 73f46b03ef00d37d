"""Demo data: an air-conditioner plant with two distributors, 10,000 units and their history.

Everything goes through the same use cases as the API, so the demo is also a smoke test of
the write path. Event times are spread over the last 120 days.
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from typing import Any, Literal

from rich.console import Console
from rich.progress import Progress

from unitrace.access.principal import SYSTEM
from unitrace.aftersales import cases, casework
from unitrace.aftersales.schemas import (
    CaseIn,
    CaseStepIn,
    CostIn,
    DiagnosisIn,
    PartIn,
    PartNeed,
    StateIn,
)
from unitrace.catalog import service as catalog
from unitrace.catalog.schemas import LocationCreate, LotCreate, PartyCreate, ProductCreate
from unitrace.core.checkdigits import check_character
from unitrace.core.errors import Conflict, invalid
from unitrace.db.engine import Database
from unitrace.ledger import figures
from unitrace.ledger import service as ledger
from unitrace.ledger.schemas import (
    BizTransaction,
    CommissionIn,
    EventIn,
    LotUseIn,
    StepIn,
    UnitRef,
)
from unitrace.production import recall
from unitrace.production import service as production
from unitrace.production.schemas import (
    BomIn,
    BomLineIn,
    RecallIn,
    RouteIn,
    StepDefIn,
    TraceQuery,
)

FINISHED = "AC-9000"


def _gtin(base12: str) -> str:
    return base12 + check_character("gs1", base12)


def _catalog(db: Database) -> None:
    for party in (
        PartyCreate(
            code="SUP-COMP",
            name="宁波压缩机有限公司",
            kind="supplier",
            region="CN-33",
        ),
        PartyCreate(code="SUP-PCB", name="深圳电路板有限公司", kind="supplier", region="CN-44"),
        PartyCreate(code="SUP-FAST", name="苏州紧固件有限公司", kind="supplier", region="CN-32"),
        PartyCreate(
            code="D-EAST",
            name="华东分销有限公司",
            kind="distributor",
            region="CN-31",
            authorised_regions=["CN-31", "CN-32", "CN-33"],
        ),
        PartyCreate(
            code="D-SOUTH",
            name="华南分销有限公司",
            kind="distributor",
            region="CN-44",
            authorised_regions=["CN-44", "CN-45", "CN-46"],
        ),
        PartyCreate(
            code="C-HOTEL",
            name="上海酒店集团",
            kind="customer",
            region="CN-31",
        ),
    ):
        catalog.create_party(db, SYSTEM, party)
    for location in (
        LocationCreate(code="SZ", name="深圳工厂", kind="site", region="CN-44"),
        LocationCreate(
            code="SZ-ASSY",
            name="总装一线",
            kind="station",
            parent="SZ",
            region="CN-44",
        ),
        LocationCreate(code="SZ-QC", name="终检工位", kind="station", parent="SZ", region="CN-44"),
        LocationCreate(
            code="SZ-FG",
            name="成品仓",
            kind="warehouse",
            parent="SZ",
            region="CN-44",
        ),
        LocationCreate(
            code="SZ-FG-A01", name="A区01货位", kind="bin", parent="SZ-FG", region="CN-44"
        ),
        LocationCreate(code="SZ-RMA", name="返修区", kind="warehouse", parent="SZ", region="CN-44"),
        LocationCreate(code="SZ-SVC", name="维修站", kind="service", parent="SZ", region="CN-44"),
        LocationCreate(code="SZ-RET", name="旧件区", kind="returns", parent="SZ", region="CN-44"),
    ):
        catalog.create_location(db, SYSTEM, location)
    for new_product in (
        ProductCreate(
            code=FINISHED,
            name="AC-9000 分体空调",
            gtin=_gtin("069500000001"),
            serial_rule="AC{yy}{mm}{seq:6}{check:luhn}",
            warranty_months=36,
            warranty_start="activation",
        ),
        ProductCreate(
            code="CMP-R32",
            name="R32 压缩机",
            gtin=_gtin("069500000002"),
            serial_rule="CP{yyyy}-{seq:7}",
            warranty_months=60,
            warranty_start="manufacture",
        ),
        ProductCreate(
            code="MB-V2",
            name="主控板 V2",
            serial_rule="MB{random:10}{check:mod37-36}",
            warranty_months=24,
        ),
        ProductCreate(code="SCREW-M4", name="M4 螺丝包", tracking="lot"),
    ):
        catalog.create_product(db, SYSTEM, new_product)
    today = date.today()
    for product, number, supplier, age in (
        ("CMP-R32", "CMPL-A", "SUP-COMP", 130),
        ("CMP-R32", "CMPL-B", "SUP-COMP", 100),
        ("MB-V2", "PCB-2607", "SUP-PCB", 125),
        ("MB-V2", "PCB-2608", "SUP-PCB", 95),
        ("SCREW-M4", "SCR-01", "SUP-FAST", 140),
        ("SCREW-M4", "SCR-02", "SUP-FAST", 110),
        (FINISHED, "AC-L1", None, 120),
        (FINISHED, "AC-L2", None, 90),
    ):
        expiry = (today + timedelta(days=700)) if product == "SCREW-M4" else None
        produced = today - timedelta(days=age)
        lot = LotCreate(
            product=product,
            number=number,
            supplier=supplier,
            production_date=produced,
            expiry_date=expiry,
        )
        catalog.create_lot(db, SYSTEM, lot)


def _at(start: datetime, day: float) -> datetime:
    return start + timedelta(days=day)


def load_demo(
    db: Database, units: int = 10_000, console: Console | None = None, seed: int = 2026
) -> dict[str, Any]:
    """Create the demo catalog and `units` finished units with a plausible history."""
    if units < 200:
        raise invalid("units", "the demo needs at least 200 units for its history", units)
    if catalog.list_products(db, SYSTEM, limit=1)["total"]:
        raise Conflict("demo data goes into an empty database; this one has products already")
    rng = random.Random(seed)
    start = datetime.now().astimezone().replace(microsecond=0) - timedelta(days=120)
    with Progress(console=console, transient=True, disable=console is None) as progress:
        task = progress.add_task("demo data", total=10)
        _catalog(db)
        progress.advance(task)
        half = units // 2
        made: dict[str, list[str]] = {}
        for product, lot_a, lot_b, day in (
            ("CMP-R32", "CMPL-A", "CMPL-B", 0),
            ("MB-V2", "PCB-2607", "PCB-2608", 1),
            (FINISHED, "AC-L1", "AC-L2", 3),
        ):
            made[product] = []
            for lot, count in ((lot_a, half), (lot_b, units - half)):
                request = CommissionIn(
                    product=product,
                    lot=lot,
                    count=count,
                    location="SZ-ASSY",
                    event_time=_at(start, day),
                )
                made[product] += ledger.commission_units(db, SYSTEM, request).serials
            progress.advance(task)
        finished = made[FINISHED]
        bom = [
            BomLineIn(component="CMP-R32"),
            BomLineIn(component="MB-V2"),
            BomLineIn(component="SCREW-M4", quantity=12),
        ]
        production.set_bom(db, SYSTEM, FINISHED, BomIn(lines=bom))
        route = [
            StepDefIn(code="ASSY", name="总装", required=False),
            StepDefIn(code="LEAK", name="检漏"),
            StepDefIn(code="FQC", name="终检"),
        ]
        production.set_route(db, SYSTEM, FINISHED, RouteIn(steps=route))
        parts = zip(finished, made["CMP-R32"], made["MB-V2"], strict=True)
        assemblies = [
            EventIn(
                type="assemble",
                product=FINISHED,
                parent=UnitRef(serial=unit),
                units=[
                    UnitRef(product="CMP-R32", serial=cmp),
                    UnitRef(product="MB-V2", serial=board),
                ],
                consumed=[
                    LotUseIn(product="SCREW-M4", lot="SCR-01" if i % 3 else "SCR-02", quantity=12)
                ],
                location="SZ-ASSY",
                operator=f"OP{rng.randint(1, 12):02d}",
                event_time=_at(start, 5 + i / units * 10),
            )
            for i, (unit, cmp, board) in enumerate(parts)
        ]
        ledger.record_events(db, SYSTEM, assemblies)
        progress.advance(task)
        failed = set(rng.sample(finished, max(1, units // 200)))
        passed = [u for u in finished if u not in failed]
        reworked = sorted(rng.sample(passed, max(1, units // 50)))
        defects = ["LEAK-01", "LEAK-01", "LEAK-01", "NOISE-02", "NOISE-02", "PCB-CAP-03"]

        def step(
            code: str,
            serials: list[str],
            day: float,
            result: Literal["pass", "fail"] = "pass",
            defect: str | None = None,
            rig: str = "QC-RIG-2",
        ) -> EventIn:
            station = "SZ-ASSY" if code == "LEAK" else "SZ-QC"
            return EventIn(
                type="inspect",
                product=FINISHED,
                serials=serials,
                location=station,
                equipment=rig,
                operator=f"QC{rng.randint(1, 4):02d}",
                event_time=_at(start, day),
                step=StepIn(code=code, result=result, defect_code=defect),
                data={"pressure_kpa": 4150} if code == "LEAK" else {},
            )

        batch = [step("LEAK", [u for u in finished if u not in reworked], 15.5, rig="LEAK-1")]
        batch += [
            step("LEAK", [u], 15.5, "fail", defects[i % len(defects)], "LEAK-1")
            for i, u in enumerate(reworked)
        ]
        batch += [step("LEAK", reworked, 15.8, rig="LEAK-1"), step("FQC", passed, 16)]
        batch += [
            step("FQC", [u], 16, "fail", defects[i % len(defects)])
            for i, u in enumerate(sorted(failed))
        ]
        batch += [
            EventIn(
                type="scrap",
                product=FINISHED,
                serials=sorted(failed),
                location="SZ-QC",
                event_time=_at(start, 17),
                data={"reason": "终检不合格"},
            ),
            EventIn(
                type="receive",
                product=FINISHED,
                serials=passed,
                location="SZ-FG-A01",
                event_time=_at(start, 18),
            ),
        ]
        ledger.record_events(db, SYSTEM, batch)
        progress.advance(task)
        rng.shuffle(passed)
        kept = passed[: len(passed) // 10]
        shipped = {"D-EAST": passed[len(kept) :: 2], "D-SOUTH": passed[len(kept) + 1 :: 2]}
        batch = []
        for number, (party, serials) in enumerate(shipped.items()):
            for part in range(4):
                chunk = serials[part::4]
                day = 20 + part * 10 + number
                note = BizTransaction(type="desadv", id=f"DN-{party}-{part + 1}")
                batch.append(
                    EventIn(
                        type="ship",
                        product=FINISHED,
                        serials=chunk,
                        party=party,
                        location=None,
                        event_time=_at(start, day),
                        biz_transactions=[note],
                    )
                )
                batch.append(
                    EventIn(
                        type="deliver",
                        product=FINISHED,
                        serials=chunk,
                        event_time=_at(start, day + 2),
                    )
                )
        ledger.record_events(db, SYSTEM, batch)
        progress.advance(task)
        delivered = shipped["D-EAST"] + shipped["D-SOUTH"]
        sold = rng.sample(delivered, int(len(delivered) * 0.6))
        east = set(shipped["D-EAST"])
        # sales are reported with the region they happen in; one batch of D-EAST's units turns
        # up in Guangdong (CN-44), outside D-EAST's regions: diversion (窜货) alerts in the demo
        batch = [
            EventIn(
                type="sell",
                product=FINISHED,
                serials=chunk,
                region=region,
                event_time=_at(start, 60 + i * 1.5),
            )
            for i in range(30)
            for chunk, region in (
                ([s for s in sold[i::30] if s in east], "CN-44" if i == 7 else "CN-31"),
                ([s for s in sold[i::30] if s not in east], "CN-44"),
            )
            if chunk
        ]
        activated = sold[: int(len(sold) * 0.7)]
        batch += [
            EventIn(
                type="activate",
                product=FINISHED,
                serials=activated[i::10],
                event_time=_at(start, 106 + i),
            )
            for i in range(10)
        ]
        ledger.record_events(db, SYSTEM, batch)
        progress.advance(task)
        returned = activated[: max(2, units // 200)]
        request = CommissionIn(
            product="MB-V2",
            lot="PCB-2608",
            count=len(returned),
            location="SZ-RMA",
            event_time=_at(start, 110),
        )
        spares = ledger.commission_units(db, SYSTEM, request).serials
        batch = [
            EventIn(
                type="receive",
                product="MB-V2",
                serials=spares,
                location="SZ-RMA",
                event_time=_at(start, 110),
            ),
            EventIn(
                type="return",
                product=FINISHED,
                serials=returned,
                location="SZ-RMA",
                event_time=_at(start, 112),
                biz_transactions=[BizTransaction(type="rma", id="RMA-0001")],
            ),
        ]
        boards = _boards_of(db, returned)
        for i, (unit, spare) in enumerate(zip(returned, spares, strict=True)):
            batch.append(
                EventIn(
                    type="replace_part",
                    product="MB-V2",
                    serials=[spare],
                    parent=UnitRef(product=FINISHED, serial=unit),
                    removed=[UnitRef(product="MB-V2", serial=boards[unit])],
                    location="SZ-RMA",
                    operator="SVC01",
                    event_time=_at(start, 113 + i / 100),
                    data={"defect_code": "PCB-CAP-03", "note": "电容鼓包"},
                )
            )
        batch.append(
            EventIn(
                type="repair",
                product=FINISHED,
                serials=returned,
                location="SZ-RMA",
                event_time=_at(start, 114),
                data={"result": "pass"},
            )
        )
        ledger.record_events(db, SYSTEM, batch)
        progress.advance(task)
        opened = RecallIn(
            code="RC-2026-01",
            title="主控板电容鼓包",
            reason="主控板批次 PCB-2607 的电容过早老化（PCB-CAP-03）。",
            trace=TraceQuery(product="MB-V2", lot="PCB-2607"),
        )
        campaign = recall.create_recall(db, SYSTEM, opened)
        recall.mark_recalled(db, SYSTEM, "RC-2026-01")
        progress.advance(task)
        # after-sales: units of lot AC-L2 (boards of PCB-2608, not recalled) that D-SOUTH sold
        # in its own region, so that their claims pass every check
        south, second = set(shipped["D-SOUTH"]), set(finished[half:])
        again = set(returned)
        claimable = [u for u in activated if u in south and u in second and u not in again]
        service = _aftersales(db, start, claimable)
        _verification(db, [u for u in activated if u not in again and u not in claimable])
        progress.advance(task)
    # the figures the home page shows, from the same definitions (ledger.figures)
    sold_units = figures.units_in_events(db, SYSTEM, "sell")
    now = figures.unit_statuses(db, SYSTEM)
    counts = {
        "finished": units + len(service["expired"]),
        "components": 2 * units + len(spares) + service["spares"],
        "shipped": figures.units_in_events(db, SYSTEM, "ship"),
        "sold": sold_units,
        "returned": len(returned),
        "recalled": campaign["units"],
        "cases": service["cases"],
        "statuses": dict(now["statuses"]),
    }
    if console is not None:
        by_status = ", ".join(f"{n:,} {label}" for label, n in now["statuses"] if n)
        console.print(
            f"demo data: {units:,} {FINISHED} units with compressors and boards, "
            f"{counts['shipped']:,} shipped to D-EAST/D-SOUTH, {sold_units:,} sold to end "
            f"customers, {len(returned)} repaired (e.g. unit {returned[0]}); units by status "
            f"now, as on the home page: {by_status}",
            highlight=False,
        )
    return counts


def _verification(db: Database, sold: list[str]) -> None:
    """Verification codes for every AC-9000 (issue 16), and one sold unit reported stolen, so
    that the public page has a genuine and a warning answer to show."""
    from unitrace.aftersales import claims
    from unitrace.aftersales.schemas import StolenIn
    from unitrace.verify import reports, settings

    settings.put(db, SYSTEM, FINISHED, {"enabled": True})
    settings.issue(db, SYSTEM, FINISHED)
    claims.report_stolen(db, SYSTEM, sold[-1], StolenIn(product=FINISHED, note="车库被盗"))
    bought = (datetime.now().astimezone() - timedelta(days=9)).date().isoformat()
    report = reports.Report(
        "优选家电专营店（网店）", "https://shop.example.cn/ac9000", "CN-44", bought
    )
    reports.submit(db, report, "192.0.2.10")
    _clone(db, sold[-2])


def _clone(db: Database, serial: str) -> None:
    """One code verified in Harbin, then 40 minutes later in Guangzhou on another phone: the
    clone alerts page has a travel alert to show."""
    import asyncio

    from unitrace.verify import check, links

    with db.read() as conn:
        code = links.code_of_unit(conn, _gtin("069500000001").zfill(14), serial)
    assert code is not None  # the demo's AC-9000 all have codes
    first = datetime.now().astimezone() - timedelta(hours=3)
    for device, region, at in (
        ("harbin-phone-01", "CN-2301", first),
        ("canton-phone-02", "CN-4401", first + timedelta(minutes=40)),
    ):
        context = check.Context("192.0.2.20", device, region=region, at=at)
        asyncio.run(check.verify(db, code, context))


def _aftersales(db: Database, start: datetime, claimable: list[str]) -> dict[str, Any]:
    """The service desk's demo: symptom and defect codes, spare boards at the service station
    SZ-SVC, three units sold four years ago (out of warranty now), and cases in different
    states — open; waiting for a compressor (a spare-part request); repaired with a new board,
    cost lines and closed; an out-of-warranty repair charged to the customer — all through the
    after-sales use cases."""
    casework.seed_codes(db, SYSTEM)
    spares = ledger.commission_units(
        db,
        SYSTEM,
        CommissionIn(
            product="MB-V2", lot="PCB-2608", count=3, location="SZ-SVC", event_time=_at(start, 111)
        ),
    ).serials
    ledger.record_events(
        db,
        SYSTEM,
        [
            EventIn(
                type="receive",
                product="MB-V2",
                serials=spares,
                location="SZ-SVC",
                event_time=_at(start, 111),
            )
        ],
    )
    long_ago = start - timedelta(days=1010)  # about 3 years and 4 months before today
    catalog.create_lot(
        db,
        SYSTEM,
        LotCreate(product=FINISHED, number="AC-L0", production_date=long_ago.date()),
    )
    old = ledger.commission_units(
        db,
        SYSTEM,
        CommissionIn(
            product=FINISHED, lot="AC-L0", count=3, location="SZ-ASSY", event_time=long_ago
        ),
    ).serials
    parts = {
        product: ledger.commission_units(
            db,
            SYSTEM,
            CommissionIn(product=product, count=3, location="SZ-ASSY", event_time=long_ago),
        ).serials
        for product in ("CMP-R32", "MB-V2")
    }
    ledger.record_events(
        db,
        SYSTEM,
        [
            *(
                EventIn(
                    type="assemble",
                    product=FINISHED,
                    parent=UnitRef(serial=unit),
                    units=[
                        UnitRef(product="CMP-R32", serial=compressor),
                        UnitRef(product="MB-V2", serial=board),
                    ],
                    consumed=[LotUseIn(product="SCREW-M4", lot="SCR-01", quantity=12)],
                    location="SZ-ASSY",
                    event_time=_at(long_ago, 0.5),
                )
                for unit, compressor, board in zip(
                    old, parts["CMP-R32"], parts["MB-V2"], strict=True
                )
            ),
            *(
                EventIn(
                    type="inspect",
                    product=FINISHED,
                    serials=old,
                    location=station,
                    event_time=_at(long_ago, 1),
                    step=StepIn(code=code, result="pass"),
                )
                for code, station in (("LEAK", "SZ-ASSY"), ("FQC", "SZ-QC"))
            ),
            EventIn(
                type="receive",
                product=FINISHED,
                serials=old,
                location="SZ-FG-A01",
                event_time=_at(long_ago, 2),
            ),
            EventIn(
                type="ship",
                product=FINISHED,
                serials=old,
                party="D-SOUTH",
                event_time=_at(long_ago, 5),
            ),
            EventIn(type="deliver", product=FINISHED, serials=old, event_time=_at(long_ago, 7)),
            EventIn(
                type="sell",
                product=FINISHED,
                serials=old,
                region="CN-44",
                event_time=_at(long_ago, 20),
            ),
            EventIn(type="activate", product=FINISHED, serials=old, event_time=_at(long_ago, 25)),
        ],
    )

    def opened(serial: str, symptom: str, contact: str, **more: Any) -> str:
        data = CaseIn(
            serial=serial,
            product=FINISHED,
            reporter_party="D-SOUTH",
            reporter_contact=contact,
            symptom_code=symptom,
            region="CN-44",
            location="SZ-SVC",
            **more,
        )
        number: str = cases.open_case(db, SYSTEM, data)["number"]
        return number

    def cost(number: str, kind: Any, coverage: Any, amount: str, what: str) -> None:
        line = CostIn(kind=kind, coverage=coverage, amount=amount, description=what)
        casework.add_cost(db, SYSTEM, number, line)

    made = [opened(claimable[0], "S-NOCOOL", "李女士 139-0000-0001", description="空调不制冷")]
    waiting = opened(claimable[1], "S-NOISE", "张先生 138-0000-0002", description="外机异响")
    cases.diagnose(
        db,
        SYSTEM,
        waiting,
        DiagnosisIn(
            defect_code="D-COMPRESSOR",
            parts_needed=[PartNeed(product="CMP-R32")],
            note="压缩机异响，需更换",
        ),
    )
    repaired = opened(claimable[2], "S-NOPOWER", "王先生 137-0000-0003", description="无法开机")
    board = next(c["serial"] for c in _components(db, claimable[2]) if c["product"] == "MB-V2")
    cases.record_step(db, SYSTEM, repaired, CaseStepIn(action="receive_return"))
    cases.diagnose(db, SYSTEM, repaired, DiagnosisIn(defect_code="D-PCB", note="主控板烧毁"))
    cases.change_state(db, SYSTEM, repaired, StateIn(to="in_repair"))
    cases.replace_part(
        db,
        SYSTEM,
        repaired,
        PartIn(removed=board, installed=spares[0], reason="主控板烧毁", returns_location="SZ-RET"),
    )
    cost(repaired, "parts", "warranty", "320.00", "主控板 V2")
    cost(repaired, "labour", "warranty", "80.00", "更换主控板")
    cases.change_state(db, SYSTEM, repaired, StateIn(to="testing"))
    cases.record_step(db, SYSTEM, repaired, CaseStepIn(action="inspect", result="pass"))
    cases.change_state(db, SYSTEM, repaired, StateIn(to="closed", outcome="resolved"))
    charged = opened(
        old[0], "S-LEAK", "赵女士 136-0000-0004", warranty_claim=False, description="已过保，漏水"
    )
    cost(charged, "labour", "chargeable", "150.00", "清洗排水管")
    cases.change_state(db, SYSTEM, charged, StateIn(to="closed", outcome="resolved"))
    made += [waiting, repaired, charged]
    return {"spares": len(spares) + 2 * len(old), "cases": len(made), "expired": old}


def _components(db: Database, serial: str) -> list[dict[str, Any]]:
    from unitrace.ledger import queries

    found: list[dict[str, Any]] = queries.dossier(db, SYSTEM, serial, FINISHED)["components"]
    return found


def _boards_of(db: Database, serials: list[str]) -> dict[str, str]:
    from unitrace.ledger import queries

    out = {}
    for serial in serials:
        found = queries.dossier(db, SYSTEM, serial, FINISHED)
        out[serial] = next(c["serial"] for c in found["components"] if c["product"] == "MB-V2")
    return out
