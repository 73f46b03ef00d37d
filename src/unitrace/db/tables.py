"""All tables, as SQLAlchemy Core. Alembic migrations are generated from this metadata.

Units and event links are keyed so that PostgreSQL can later distribute them by unit
(Citus-style); ids of units are allocated in blocks by the ledger (see ledger/ids.py).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
    text,
)

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = MetaData(naming_convention=NAMING)

Id = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware datetimes stored as UTC on both SQLite and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        moment: datetime = datetime.fromisoformat(value) if isinstance(value, str) else value
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _now_default() -> datetime:
    return datetime.now(UTC)


def _partial_index(name: str, *columns: str) -> Index:
    """An index of the rows whose first column is set (partial on both dialects)."""
    where = f"{columns[0]} IS NOT NULL"
    return Index(name, *columns, postgresql_where=text(where), sqlite_where=text(where))


# --- catalog ---------------------------------------------------------------------------

parties = Table(
    "parties",
    metadata,
    Column("id", Id, primary_key=True),
    Column("code", String(40), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("region", String(20)),
    Column("authorised_regions", JSON, nullable=False, default=list),
    Column("contact", String(400), nullable=False, default="", server_default=""),
    Column("created_at", UTCDateTime, nullable=False, default=_now_default),
)

locations = Table(
    "locations",
    metadata,
    Column("id", Id, primary_key=True),
    Column("code", String(40), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("parent_id", ForeignKey("locations.id")),
    Column("region", String(20)),
    Column("created_at", UTCDateTime, nullable=False, default=_now_default),
)

products = Table(
    "products",
    metadata,
    Column("id", Id, primary_key=True),
    Column("code", String(40), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("gtin", String(14), unique=True),
    # the GTIN as 14 digits: a GTIN-12/13 and its GTIN-14 form are one product (issue 15)
    Column("gtin14", String(14)),
    # digits of the GTIN (GTIN-13 form) that are the GS1 company prefix, for the SGTIN EPC
    Column("gs1_company_prefix_length", Integer),
    Column("tracking", String(10), nullable=False),
    Column("serial_rule", String(200)),
    Column("warranty_months", Integer, nullable=False, default=0),
    Column("warranty_start", String(20), nullable=False, default="sale"),
    # when the start event is missing: e.g. "shipment" + 90 days for "sale" (aftersales.warranty)
    Column("warranty_fallback", String(20)),
    Column("warranty_fallback_days", Integer, nullable=False, server_default="0"),
    Column("description", Text, nullable=False, default=""),
    Column("created_at", UTCDateTime, nullable=False, default=_now_default),
    Column("updated_at", UTCDateTime, nullable=False, default=_now_default),
    # what happens when an assembly breaks the bill of materials: refuse it or warn
    Column("bom_policy", String(10), nullable=False, server_default="refuse"),
)

# --- production: bill of materials, route of process steps --------------------------------

bom_lines = Table(
    "bom_lines",
    metadata,
    Column("product_id", ForeignKey("products.id"), primary_key=True),
    Column("component_id", ForeignKey("products.id"), primary_key=True),
    Column("quantity", Integer, nullable=False),
    Column("required", Boolean, nullable=False),
)

route_steps = Table(
    "route_steps",
    metadata,
    Column("product_id", ForeignKey("products.id"), primary_key=True),
    Column("code", String(40), primary_key=True),
    Column("position", Integer, nullable=False),
    Column("name", String(200), nullable=False),
    Column("required", Boolean, nullable=False),
)

serial_counters = Table(
    "serial_counters",
    metadata,
    Column("product_id", ForeignKey("products.id"), primary_key=True),
    Column("period", String(8), primary_key=True),
    Column("last_value", BigInteger, nullable=False),
)

lots = Table(
    "lots",
    metadata,
    Column("id", Id, primary_key=True),
    Column("product_id", ForeignKey("products.id"), nullable=False),
    Column("number", String(60), nullable=False),
    Column("production_date", Date),
    Column("expiry_date", Date),
    Column("supplier_id", ForeignKey("parties.id")),
    Column("created_at", UTCDateTime, nullable=False, default=_now_default),
    UniqueConstraint("product_id", "number", name="uq_lots_product_number"),
)

# --- access ----------------------------------------------------------------------------

users = Table(
    "users",
    metadata,
    Column("id", Id, primary_key=True),
    Column("username", String(80), nullable=False, unique=True),
    Column("password_hash", String(200), nullable=False),
    Column("role", String(20), nullable=False),
    Column("active", Boolean, nullable=False, default=True),
    Column("created_at", UTCDateTime, nullable=False, default=_now_default),
    Column("party_id", ForeignKey("parties.id")),
    Column("locale", String(10)),
    Column("failed_logins", Integer, nullable=False, default=0, server_default="0"),
    Column("locked_until", UTCDateTime),
)

sessions = Table(
    "sessions",
    metadata,
    Column("id_hash", String(64), primary_key=True),
    Column("user_id", ForeignKey("users.id"), nullable=False),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False, default=_now_default),
    Column("expires_at", UTCDateTime, nullable=False),
)

login_failures = Table(
    "login_failures",
    metadata,
    Column("address", String(64), primary_key=True),
    Column("window_start", UTCDateTime, nullable=False),
    Column("failures", Integer, nullable=False),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Id, primary_key=True),
    Column("at", UTCDateTime, nullable=False),
    Column("actor", String(80), nullable=False),
    Column("actor_user_id", ForeignKey("users.id")),
    Column("actor_token_id", ForeignKey("api_tokens.id")),
    Column("action", String(20), nullable=False),
    Column("entity", String(20), nullable=False),
    Column("entity_key", String(120), nullable=False),
    Column("before", JSON),
    Column("after", JSON),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Index("ix_audit_entity", "entity", "entity_key"),
    Index("ix_audit_at", "at"),
)

audit_head = Table(
    "audit_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("last_id", BigInteger, nullable=False),
    Column("last_hash", String(64), nullable=False),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Id, primary_key=True),
    Column("user_id", ForeignKey("users.id"), nullable=False),
    Column("name", String(80), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", UTCDateTime, nullable=False, default=_now_default),
    Column("expires_at", UTCDateTime),
    Column("revoked_at", UTCDateTime),
    Column("last_used_at", UTCDateTime),
    # an integration the administrator exempts from the API rate limit (docs/access.md)
    Column("trusted", Boolean, nullable=False, default=False, server_default=false()),
)

# --- ledger ----------------------------------------------------------------------------

units = Table(
    "units",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=False),
    Column("product_id", ForeignKey("products.id"), nullable=False),
    Column("serial", String(64), nullable=False),
    Column("lot_id", ForeignKey("lots.id")),
    Column("status", SmallInteger, nullable=False),
    Column("location_id", ForeignKey("locations.id")),
    Column("holder_id", ForeignKey("parties.id")),
    Column("parent_id", ForeignKey("units.id")),
    Column("attributes", JSON),
    Column("last_event_id", BigInteger, nullable=False),
    # the carton the unit is packed in (cartons sit on pallets: containers.parent_id)
    Column("container_id", ForeignKey("containers.id")),
    UniqueConstraint("product_id", "serial", name="uq_units_product_serial"),
    Index("ix_units_serial", "serial"),
    Index("ix_units_product_status", "product_id", "status"),
    _partial_index("ix_units_lot", "lot_id"),
    _partial_index("ix_units_location", "location_id"),
    _partial_index("ix_units_holder", "holder_id"),
    _partial_index("ix_units_parent", "parent_id"),
    _partial_index("ix_units_container", "container_id"),
)

unit_id_blocks = Table(
    "unit_id_blocks",
    metadata,
    Column("name", String(20), primary_key=True),
    Column("last_id", BigInteger, nullable=False),
)

events = Table(
    "events",
    metadata,
    Column("id", Id, primary_key=True),
    Column("event_id", String(80), nullable=False, unique=True),
    Column("payload_hash", String(64), nullable=False),
    Column("type", String(20), nullable=False),
    Column("event_time", UTCDateTime, nullable=False),
    Column("event_tz", String(6), nullable=False),
    Column("record_time", UTCDateTime, nullable=False),
    Column("location_id", ForeignKey("locations.id")),
    Column("party_id", ForeignKey("parties.id")),
    Column("parent_unit_id", ForeignKey("units.id")),
    Column("lot_id", ForeignKey("lots.id")),
    Column("read_point", String(80)),
    Column("operator", String(80)),
    Column("equipment", String(80)),
    # where the units were seen (a sale, activation, service case, verification): checked
    # against the region the distributor they were shipped to may sell in
    Column("region", String(20)),
    Column("actor_user_id", ForeignKey("users.id")),
    Column("biz_transactions", JSON, nullable=False),
    Column("data", JSON, nullable=False),
    Column("unit_count", Integer, nullable=False),
    Index("ix_events_type_time", "type", "event_time"),
    _partial_index("ix_events_equipment_time", "equipment", "event_time"),
    _partial_index("ix_events_operator_time", "operator", "event_time"),
    _partial_index("ix_events_location_time", "location_id", "event_time"),
    _partial_index("ix_events_party", "party_id"),
)

event_units = Table(
    "event_units",
    metadata,
    Column("unit_id", ForeignKey("units.id"), primary_key=True),
    Column("event_id", ForeignKey("events.id"), primary_key=True),
    Column("role", SmallInteger, nullable=False),
    Index("ix_event_units_event", "event_id"),
    sqlite_with_rowid=False,
)


# --- production records: step results and lot consumption (written with their event) -------

unit_steps = Table(
    "unit_steps",
    metadata,
    Column("id", Id, primary_key=True),
    Column("unit_id", ForeignKey("units.id"), nullable=False),
    Column("event_id", ForeignKey("events.id"), nullable=False),
    Column("product_id", ForeignKey("products.id"), nullable=False),
    Column("step", String(40), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("passed", Boolean, nullable=False),
    Column("defect_code", String(40)),
    Column("started_at", UTCDateTime),
    Column("ended_at", UTCDateTime, nullable=False),
    Index("ix_unit_steps_unit", "unit_id", "step"),
    Index("ix_unit_steps_product_time", "product_id", "ended_at"),
)

lot_uses = Table(
    "lot_uses",
    metadata,
    Column("event_id", ForeignKey("events.id"), primary_key=True),
    Column("lot_id", ForeignKey("lots.id"), primary_key=True),
    Column("unit_id", ForeignKey("units.id"), nullable=False),
    Column("quantity", Integer, nullable=False),
    Index("ix_lot_uses_lot", "lot_id"),
    Index("ix_lot_uses_unit", "unit_id"),
)

# --- recall campaigns ----------------------------------------------------------------------

recalls = Table(
    "recalls",
    metadata,
    Column("id", Id, primary_key=True),
    Column("code", String(40), nullable=False, unique=True),
    Column("title", String(200), nullable=False),
    Column("reason", Text, nullable=False),
    Column("status", String(10), nullable=False),
    Column("trace", JSON, nullable=False),
    # events up to this id were recorded before the campaign: later ones count as progress
    Column("after_event_id", BigInteger, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", String(80), nullable=False),
    Column("closed_at", UTCDateTime),
)

recall_units = Table(
    "recall_units",
    metadata,
    Column("recall_id", ForeignKey("recalls.id"), primary_key=True),
    Column("unit_id", ForeignKey("units.id"), primary_key=True),
    # the state the unit was in when the campaign froze its set
    Column("holder_id", ForeignKey("parties.id")),
    Column("region", String(20)),
    Column("status_at_start", SmallInteger, nullable=False),
    Index("ix_recall_units_unit", "unit_id"),
    sqlite_with_rowid=False,
)


# --- the channel: shipments and diversion (窜货) alerts --------------------------------------

shipments = Table(
    "shipments",
    metadata,
    Column("id", Id, primary_key=True),
    Column("number", String(60), nullable=False, unique=True),
    Column("party_id", ForeignKey("parties.id"), nullable=False),
    Column("region", String(20)),
    Column("event_id", ForeignKey("events.id"), nullable=False),
    Column("unit_count", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", String(80), nullable=False),
)

diversion_alerts = Table(
    "diversion_alerts",
    metadata,
    Column("id", Id, primary_key=True),
    Column("unit_id", ForeignKey("units.id"), nullable=False),
    Column("party_id", ForeignKey("parties.id"), nullable=False),  # the authorised distributor
    Column("ship_event_id", ForeignKey("events.id"), nullable=False),
    Column("expected", JSON, nullable=False),
    Column("seen_region", String(20), nullable=False),
    Column("source_event_id", ForeignKey("events.id"), nullable=False),
    Column("source_type", String(20), nullable=False),
    Column("status", String(12), nullable=False),
    Column("note", Text, nullable=False, default=""),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("updated_by", String(80)),
    UniqueConstraint("unit_id", "source_event_id", name="uq_diversion_alerts_unit_source"),
    Index("ix_diversion_alerts_status", "status", "created_at"),
    Index("ix_diversion_alerts_party", "party_id"),
)

# --- stocktake -------------------------------------------------------------------------------

stocktakes = Table(
    "stocktakes",
    metadata,
    Column("id", Id, primary_key=True),
    Column("code", String(40), nullable=False, unique=True),
    Column("status", String(12), nullable=False),  # open, closed, adjusted
    Column("location_ids", JSON, nullable=False),
    Column("opened_at", UTCDateTime, nullable=False),
    Column("opened_by", String(80), nullable=False),
    Column("closed_at", UTCDateTime),
    Column("report", JSON),
)

stocktake_expected = Table(
    "stocktake_expected",
    metadata,
    Column("stocktake_id", ForeignKey("stocktakes.id"), primary_key=True),
    Column("unit_id", ForeignKey("units.id"), primary_key=True),
    Column("location_id", ForeignKey("locations.id"), nullable=False),
    sqlite_with_rowid=False,
)

stocktake_scans = Table(
    "stocktake_scans",
    metadata,
    Column("id", Id, primary_key=True),
    Column("stocktake_id", ForeignKey("stocktakes.id"), nullable=False),
    Column("serial", String(64), nullable=False),
    Column("unit_id", ForeignKey("units.id")),
    Column("location_id", ForeignKey("locations.id"), nullable=False),
    Column("scanned_at", UTCDateTime, nullable=False),
    Column("scanned_by", String(80), nullable=False),
    UniqueConstraint("stocktake_id", "serial", name="uq_stocktake_scans_serial"),
)


# --- packing: cartons and pallets (aggregation) ----------------------------------------------

containers = Table(
    "containers",
    metadata,
    Column("id", Id, primary_key=True),
    # an SSCC (18 digits) or the site's own carton label
    Column("code", String(40), nullable=False, unique=True),
    Column("kind", String(10), nullable=False),  # carton, pallet
    Column("parent_id", ForeignKey("containers.id")),  # the pallet a carton is on
    Column("location_id", ForeignKey("locations.id")),
    Column("holder_id", ForeignKey("parties.id")),
    Column("created_event_id", BigInteger, nullable=False),
    Column("last_event_id", BigInteger, nullable=False),
    _partial_index("ix_containers_parent", "parent_id"),
)

event_containers = Table(
    "event_containers",
    metadata,
    Column("container_id", ForeignKey("containers.id"), primary_key=True),
    Column("event_id", ForeignKey("events.id"), primary_key=True),
    Column("role", SmallInteger, nullable=False),  # 0 scanned (moved whole), 1 packed into / out of
    Index("ix_event_containers_event", "event_id"),
    sqlite_with_rowid=False,
)


# --- after-sales: warranty, service cases, spare parts, claim checks (aftersales/) -----------

# a product's warranty in a region or through a channel party when it differs from its own
# (products.warranty_months, warranty_start, warranty_fallback, warranty_fallback_days)
warranty_overrides = Table(
    "warranty_overrides",
    metadata,
    Column("id", Id, primary_key=True),
    Column("product_id", ForeignKey("products.id"), nullable=False),
    Column("region", String(20)),  # one of region or party_id is set
    Column("party_id", ForeignKey("parties.id")),
    Column("months", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False, default=_now_default),
    Column("created_by", String(80), nullable=False),
    UniqueConstraint("product_id", "region", "party_id", name="uq_warranty_overrides_scope"),
)

# what was done to one unit's warranty: an extension (bought or goodwill), a void, an un-void
warranty_adjustments = Table(
    "warranty_adjustments",
    metadata,
    Column("id", Id, primary_key=True),
    Column("unit_id", ForeignKey("units.id"), nullable=False),
    Column("kind", String(12), nullable=False),  # extension, void, unvoid
    Column("months", Integer),  # extension
    Column("paid", String(12)),  # extension: bought, goodwill
    Column("reason", Text, nullable=False),  # void: tampering, misuse … in words
    Column("case_id", ForeignKey("service_cases.id")),
    Column("at", UTCDateTime, nullable=False),
    Column("by", String(80), nullable=False),
    Index("ix_warranty_adjustments_unit", "unit_id", "at"),
)

# the configurable list of symptom and defect codes, in both languages
service_codes = Table(
    "service_codes",
    metadata,
    Column("code", String(40), primary_key=True),
    Column("kind", String(10), nullable=False),  # symptom, defect
    Column("name_en", String(200), nullable=False),
    Column("name_zh", String(200), nullable=False),
    Column("active", Boolean, nullable=False, default=True),
)

service_cases = Table(
    "service_cases",
    metadata,
    Column("id", Id, primary_key=True),
    Column("number", String(20), nullable=False, unique=True),  # SC-000001
    Column("unit_id", ForeignKey("units.id"), nullable=False),
    Column("kind", String(20), nullable=False),  # repair, return, maintenance, installation, …
    Column("state", String(20), nullable=False),  # open … closed
    Column("outcome", String(20)),  # closed: resolved, rejected, no_fault_found
    Column("warranty_claim", Boolean, nullable=False),
    # the claim checks when the case was opened (and the override of a refusal, if any)
    Column("checks", JSON, nullable=False),
    Column("override_reason", Text),
    Column("override_by", String(80)),
    Column("reporter_party_id", ForeignKey("parties.id")),
    Column("reporter_contact", String(400), nullable=False, default=""),
    Column("symptom_code", ForeignKey("service_codes.code")),
    Column("defect_code", ForeignKey("service_codes.code")),
    Column("description", Text, nullable=False, default=""),
    Column("region", String(20)),  # where the claim comes from
    Column("location_id", ForeignKey("locations.id")),  # the service location
    Column("party_id", ForeignKey("parties.id")),  # the partner that opened it, if one did
    Column("opened_at", UTCDateTime, nullable=False),
    Column("opened_by", String(80), nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("closed_at", UTCDateTime),
    Index("ix_service_cases_unit", "unit_id", "state"),
    Index("ix_service_cases_state", "state", "opened_at"),
    _partial_index("ix_service_cases_party", "party_id"),
)

# every state change, note and step of a case, with who and when
case_history = Table(
    "case_history",
    metadata,
    Column("id", Id, primary_key=True),
    Column("case_id", ForeignKey("service_cases.id"), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("by", String(80), nullable=False),
    Column("kind", String(12), nullable=False),  # state, note, event, part, cost, attachment
    Column("from_state", String(20)),
    Column("to_state", String(20)),
    Column("text", Text, nullable=False, default=""),
    Column("event_id", ForeignKey("events.id")),  # the ledger event a step recorded
    Index("ix_case_history_case", "case_id", "at"),
)

case_attachments = Table(
    "case_attachments",
    metadata,
    Column("id", Id, primary_key=True),
    Column("case_id", ForeignKey("service_cases.id"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("content_type", String(100), nullable=False),
    Column("size", Integer, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("path", String(300), nullable=False),  # under UNITRACE_HOME
    Column("at", UTCDateTime, nullable=False),
    Column("by", String(80), nullable=False),
    Index("ix_case_attachments_case", "case_id"),
)

# parts replaced in a case (old serial → new serial) and lot-tracked consumables used
case_parts = Table(
    "case_parts",
    metadata,
    Column("id", Id, primary_key=True),
    Column("case_id", ForeignKey("service_cases.id"), nullable=False),
    Column("event_id", ForeignKey("events.id"), nullable=False),
    Column("product_id", ForeignKey("products.id"), nullable=False),
    Column("removed_unit_id", ForeignKey("units.id")),
    Column("installed_unit_id", ForeignKey("units.id")),
    Column("lot_id", ForeignKey("lots.id")),  # a consumable
    Column("quantity", Integer, nullable=False, default=1),
    Column("reason", Text, nullable=False, default=""),
    Index("ix_case_parts_case", "case_id"),
    _partial_index("ix_case_parts_removed", "removed_unit_id"),
)

case_costs = Table(
    "case_costs",
    metadata,
    Column("id", Id, primary_key=True),
    Column("case_id", ForeignKey("service_cases.id"), nullable=False),
    Column("kind", String(10), nullable=False),  # parts, labour, shipping
    Column("coverage", String(12), nullable=False),  # warranty, chargeable, goodwill
    Column("description", String(200), nullable=False, default=""),
    Column("amount_minor", BigInteger, nullable=False),  # in the currency's minor unit (fen)
    Column("currency", String(3), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("by", String(80), nullable=False),
    Index("ix_case_costs_case", "case_id"),
)

# 备件申请: a part a diagnosis needs that the service location does not have
spare_requests = Table(
    "spare_requests",
    metadata,
    Column("id", Id, primary_key=True),
    Column("case_id", ForeignKey("service_cases.id"), nullable=False),
    Column("product_id", ForeignKey("products.id"), nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("fulfilled", Integer, nullable=False, default=0),
    Column("location_id", ForeignKey("locations.id"), nullable=False),  # where it must go
    Column("status", String(12), nullable=False),  # open, shipped, fulfilled, cancelled
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Index("ix_spare_requests_status", "status", "created_at"),
    Index("ix_spare_requests_case", "case_id"),
)

# the serialised spares that fulfil a request, and the events that moved them
spare_request_units = Table(
    "spare_request_units",
    metadata,
    Column("request_id", ForeignKey("spare_requests.id"), primary_key=True),
    Column("unit_id", ForeignKey("units.id"), primary_key=True),
    Column("event_id", ForeignKey("events.id"), nullable=False),
    Column("state", String(12), nullable=False),  # shipped, arrived
    # is a unit reserved for an open case (aftersales.spares.reserved): one look per unit
    Index("ix_spare_request_units_unit", "unit_id"),
    sqlite_with_rowid=False,
)

# which claim checks refuse, only flag, or are off: per product, or for all (product_id NULL)
claim_rules = Table(
    "claim_rules",
    metadata,
    Column("id", Id, primary_key=True),
    Column("product_id", ForeignKey("products.id")),
    Column("check_name", String(30), nullable=False),
    Column("mode", String(8), nullable=False),  # refuse, flag, off
    Column("params", JSON, nullable=False),  # e.g. {"claims": 3, "days": 90}
    UniqueConstraint("product_id", "check_name", name="uq_claim_rules_product_check"),
    # the rule for all products: one a check (NULLs are distinct to the constraint above)
    Index(
        "uq_claim_rules_global",
        "check_name",
        unique=True,
        postgresql_where=text("product_id IS NULL"),
        sqlite_where=text("product_id IS NULL"),
    ),
)

# a unit reported stolen (claims refuse it; verification warns)
stolen_reports = Table(
    "stolen_reports",
    metadata,
    Column("id", Id, primary_key=True),
    Column("unit_id", ForeignKey("units.id"), nullable=False),
    Column("note", Text, nullable=False, default=""),
    Column("reported_at", UTCDateTime, nullable=False),
    Column("reported_by", String(80), nullable=False),
    Column("cleared_at", UTCDateTime),
    Column("cleared_by", String(80)),
    Index("ix_stolen_reports_unit", "unit_id"),
    # one report not cleared a unit: two clerks reporting it at once, one wins
    Index(
        "uq_stolen_reports_open",
        "unit_id",
        unique=True,
        postgresql_where=text("cleared_at IS NULL"),
        sqlite_where=text("cleared_at IS NULL"),
    ),
)

# the warranty report (aftersales/figures.py) reads the cases opened and the cost lines booked
# in a period
Index("ix_service_cases_opened", service_cases.c.opened_at)
Index("ix_case_costs_at", case_costs.c.at)
# A unit's dossier lists the parts taken out of it and its components (`ledger.genealogy`:
# replace_part and disassemble events by their parent unit); repairs make those events common,
# and without this index the lookup walks every one of them in the ledger (issue 14, bench)
Index(
    "ix_events_parent_unit",
    events.c.parent_unit_id,
    events.c.type,
    postgresql_where=text("parent_unit_id IS NOT NULL"),
    sqlite_where=text("parent_unit_id IS NOT NULL"),
)

# issue 15 (identifiers): one product per GTIN whatever its length
Index("uq_products_gtin14", products.c.gtin14, unique=True)
# --- labels: print runs (labels/runs.py) ---------------------------------------------------

# one print run: which units (its source), how (template, format), who asked, how far it got
label_runs = Table(
    "label_runs",
    metadata,
    Column("id", Id, primary_key=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", String(80), nullable=False),
    Column("template", String(60), nullable=False),
    Column("format", String(4), nullable=False),  # pdf, zpl
    Column("dpi", SmallInteger),  # zpl: 203 or 300
    Column("source_kind", String(12), nullable=False),  # lot, serials, container, commission
    Column("source", JSON, nullable=False),  # what names the units, e.g. {"lot": "L1", ...}
    Column("product_id", ForeignKey("products.id")),
    Column("total", Integer, nullable=False),  # labels the run prints
    Column("done", Integer, nullable=False, default=0),  # labels written so far
    Column("status", String(10), nullable=False),  # queued, running, done, failed
    Column("file", String(200), nullable=False),  # under UNITRACE_HOME
    Column("error", Text),
    Column("finished_at", UTCDateTime),
    Column("reprint_of", ForeignKey("label_runs.id")),
    Column("reason", Text),  # why a reprint was printed
    Index("ix_label_runs_created", "created_at"),
)

# the units of a run from a list of serials, in the order given (read back in chunks)
label_run_units = Table(
    "label_run_units",
    metadata,
    Column("run_id", ForeignKey("label_runs.id"), primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("unit_id", ForeignKey("units.id"), nullable=False),
    sqlite_with_rowid=False,
)

# --- labels (issue 15): label templates, one a product or the default (product_id NULL) ---
label_templates = Table(
    "label_templates",
    metadata,
    Column("id", Id, primary_key=True),
    Column("product_id", ForeignKey("products.id")),
    Column("name", String(100), nullable=False),
    Column("body", JSON, nullable=False),  # labels.schemas.Template, as JSON
    Column("updated_at", UTCDateTime, nullable=False),
    Column("updated_by", String(80), nullable=False),
    Column("is_default", Boolean, nullable=False),  # product_id IS NULL, for the index below
    UniqueConstraint("product_id", name="uq_label_templates_product"),
    # the default for all products: one (NULLs are distinct to the constraint above)
    Index(
        "uq_label_templates_default",
        "is_default",
        unique=True,
        postgresql_where=text("product_id IS NULL"),
        sqlite_where=text("product_id IS NULL"),
    ),
)

# --- verify (issue 16): authenticity codes, verifications (verify/) ------------------------

# a product's verification settings: codes on, PIN, ownership, clone thresholds, picture
verify_settings = Table(
    "verify_settings",
    metadata,
    Column("product_id", ForeignKey("products.id"), primary_key=True),
    Column("enabled", Boolean, nullable=False, default=False),
    Column("pin", Boolean, nullable=False, default=False),  # a scratch-off PIN (second factor)
    Column("ownership", Boolean, nullable=False, default=False),  # owner registration (luxury)
    Column("max_checks", Integer, nullable=False, default=20),  # clone: verified more often
    Column("max_devices", Integer, nullable=False, default=5),  # clone: by more devices
    Column("max_speed_kmh", Integer, nullable=False, default=800),  # clone: faster travel
    Column("picture", String(200)),  # the product's picture, a file under UNITRACE_HOME
    Column("updated_at", UTCDateTime, nullable=False),
    Column("updated_by", String(80), nullable=False),
)

# one unit's public verification code, and its counters (read by every verification)
verify_codes = Table(
    "verify_codes",
    metadata,
    Column("id", Id, primary_key=True),
    Column("unit_id", ForeignKey("units.id"), nullable=False, unique=True),
    Column("code", String(32), nullable=False, unique=True),
    Column("key_id", String(16), nullable=False),  # which key made it (rotation)
    Column("pin_hash", String(128)),  # the PIN's keyed hash; NULL: no PIN
    Column("created_at", UTCDateTime, nullable=False),
    Column("checks", Integer, nullable=False, default=0),
    Column("devices", Integer, nullable=False, default=0),
    Column("first_at", UTCDateTime),
    Column("first_region", String(20)),
    Column("last_at", UTCDateTime),
    Column("last_region", String(20)),
    Column("compromised_at", UTCDateTime),
    Column("compromised_by", String(80)),
    Column("compromised_reason", Text),
)

# every verification of a code: when, where (chosen or from the address), which device
verifications = Table(
    "verifications",
    metadata,
    Column("id", Id, primary_key=True),
    Column("code_id", ForeignKey("verify_codes.id"), nullable=False),
    Column("unit_id", ForeignKey("units.id"), nullable=False),
    Column("event_id", ForeignKey("events.id")),  # the `verify` event of the ledger
    Column("at", UTCDateTime, nullable=False),
    Column("region", String(20)),
    Column("region_source", String(8)),  # chosen, address, or NULL (unknown)
    Column("device", String(40), nullable=False),  # the cookie id of the device
    Column("address_hash", String(64), nullable=False),  # keyed hash of the address, not it
    Column("pin_ok", Boolean),  # NULL: no PIN asked
    Index("ix_verifications_code", "code_id", "at"),
    Index("ix_verifications_code_device", "code_id", "device"),
    Index("ix_verifications_at", "at"),
)

# clone alerts (verify/clones.py): one a code and rule (checks, devices, travel), updated by
# every later breach, never a second row
clone_alerts = Table(
    "clone_alerts",
    metadata,
    Column("id", Id, primary_key=True),
    Column("code_id", ForeignKey("verify_codes.id"), nullable=False),
    Column("unit_id", ForeignKey("units.id"), nullable=False),
    Column("product_id", ForeignKey("products.id"), nullable=False),
    Column("rule", String(12), nullable=False),  # checks, devices, travel
    Column("status", String(12), nullable=False),  # open, acknowledged, closed
    Column("first_at", UTCDateTime, nullable=False),
    Column("last_at", UTCDateTime, nullable=False),
    Column("count", Integer, nullable=False, default=1),  # breaches of the rule
    Column("region", String(20)),  # where the last breach was seen
    Column("detail", JSON, nullable=False),  # the last breach: regions, km, hours, …
    Column("acknowledged_by", String(80)),
    Column("acknowledged_at", UTCDateTime),
    Column("closed_by", String(80)),
    Column("closed_at", UTCDateTime),
    Column("note", Text, nullable=False, default=""),
    UniqueConstraint("code_id", "rule", name="uq_clone_alerts_code_rule"),
    Index("ix_clone_alerts_status", "status", "last_at"),
    Index("ix_clone_alerts_product", "product_id"),
)

# address ranges → region (verify/regions.py): where a verification was made, when not said;
# `lo`/`hi` are the range's ends as 32 hex digits of the IPv6 form (IPv4 mapped), so that both
# families sort and compare as text
ip_regions = Table(
    "ip_regions",
    metadata,
    Column("id", Id, primary_key=True),
    Column("lo", String(32), nullable=False),
    Column("hi", String(32), nullable=False),
    Column("region", String(20), nullable=False),
    Column("source", String(200), nullable=False),  # the file it was loaded from
    Index("ix_ip_regions_lo", "lo"),
)

# --- registration and ownership by the buyer (issue 16, verify/owners.py) ---------------------
# the buyer's warranty registration from the public page: one a unit; name, phone and email
# are personal data (read only with owners.read, every read audited)
buyer_registrations = Table(
    "buyer_registrations",
    metadata,
    Column("id", Id, primary_key=True),
    Column("unit_id", ForeignKey("units.id"), nullable=False, unique=True),
    Column("event_id", ForeignKey("events.id"), nullable=False),  # the `activate` event
    Column("purchase_date", Date, nullable=False),
    Column("region", String(20), nullable=False),
    Column("name", String(120), nullable=False, default=""),
    Column("phone", String(40)),
    Column("email", String(200)),
    Column("registered_at", UTCDateTime, nullable=False),
)

# a unit's owners (products with verify_settings.ownership): the current one has no `until`;
# the owner proves it with a secret key of which only a keyed hash is kept
owners = Table(
    "owners",
    metadata,
    Column("id", Id, primary_key=True),
    Column("unit_id", ForeignKey("units.id"), nullable=False),
    Column("since", UTCDateTime, nullable=False),
    Column("until", UTCDateTime),
    Column("key_id", String(16), nullable=False),  # the verification key the hash was made with
    Column("owner_key_hash", String(64), nullable=False),
    Index("ix_owners_unit", "unit_id"),
    # one current owner a unit: two claims at once, one wins
    Index(
        "uq_owners_current",
        "unit_id",
        unique=True,
        postgresql_where=text('"until" IS NULL'),
        sqlite_where=text('"until" IS NULL'),
    ),
)

# one-time transfer codes an owner hands to the next buyer (only their keyed hash is kept)
ownership_transfers = Table(
    "ownership_transfers",
    metadata,
    Column("id", Id, primary_key=True),
    Column("unit_id", ForeignKey("units.id"), nullable=False),
    Column("from_owner", ForeignKey("owners.id"), nullable=False),
    Column("key_id", String(16), nullable=False),
    Column("code_hash", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("used_at", UTCDateTime),
    Column("to_owner", ForeignKey("owners.id")),
    Index("ix_ownership_transfers_unit", "unit_id"),
)

# a consumer's report of where a product that was not found was bought (verify/reports.py);
# `contact` is personal data: shown only to verify.manage
counterfeit_reports = Table(
    "counterfeit_reports",
    metadata,
    Column("id", Id, primary_key=True),
    Column("reported_at", UTCDateTime, nullable=False),
    Column("shop", String(200), nullable=False),
    Column("place", String(300), nullable=False),
    Column("region", String(20), nullable=False),
    Column("bought_on", Date, nullable=False),
    Column("code", String(64)),  # as typed (no lookup: it is not a known code)
    Column("contact", String(200)),
    Column("address_hash", String(64), nullable=False),  # keyed hash of the address, not it
    Index("ix_counterfeit_reports_at", "reported_at"),
)

# --- interop/epcis (issue 17): EPCIS 2.0 capture jobs, the repository of captured events ------

# one capture of an EPCISDocument (or of one event): how it went, who sent it
epcis_captures = Table(
    "epcis_captures",
    metadata,
    Column("id", Id, primary_key=True),
    Column("status", String(12), nullable=False),  # done, partial, refused
    Column("behaviour", String(12), nullable=False),  # rollback (all or nothing), proceed
    Column("events_total", Integer, nullable=False),
    Column("captured", Integer, nullable=False),  # new events in the repository
    Column("duplicates", Integer, nullable=False),  # already held (same hash ID)
    Column("ledger_events", Integer, nullable=False),  # of them, events of the ledger
    Column("refused", Integer, nullable=False),
    Column("errors", JSON, nullable=False),  # [{path, message}]
    Column("context", JSON, nullable=False),  # the document's @context (its extension prefixes)
    Column("created_by", String(80), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime),
)

# every captured event, kept whole as it came (sensor data, ILMD, extensions, error
# declarations), found again by its CBV 2.0 hash ID; `ledger_event_id` when it became one
epcis_events = Table(
    "epcis_events",
    metadata,
    Column("id", Id, primary_key=True),
    Column("hash_id", String(120), nullable=False, unique=True),
    Column("event_id", String(400)),  # the EPCIS eventID as captured
    Column("event_type", String(30), nullable=False),
    Column("action", String(10)),
    Column("biz_step", String(400)),
    Column("disposition", String(400)),
    Column("read_point", String(400)),
    Column("biz_location", String(400)),
    Column("event_time", UTCDateTime, nullable=False),
    Column("record_time", UTCDateTime, nullable=False),
    Column("body", JSON, nullable=False),
    Column("ledger_event_id", ForeignKey("events.id")),
    Column("capture_id", ForeignKey("epcis_captures.id"), nullable=False),
    Index("ix_epcis_events_event_id", "event_id"),
    Index("ix_epcis_events_record", "record_time", "id"),
    Index("ix_epcis_events_time", "event_time"),
    Index("ix_epcis_events_type_time", "event_type", "event_time"),
    Index("ix_epcis_events_capture", "capture_id"),
    _partial_index("ix_epcis_events_ledger", "ledger_event_id"),
)

# what the MATCH_/EQ_ queries look up: kind epc, child, parent, input, output, quantity (the
# epcClass of a quantity list) and bt:<type> (a bizTransaction); EPCs in identifiers.canonical form
epcis_index = Table(
    "epcis_index",
    metadata,
    Column("kind", String(200), primary_key=True),
    Column("value", String(400), primary_key=True),
    Column("event_pk", ForeignKey("epcis_events.id"), primary_key=True),
    Index("ix_epcis_index_event", "event_pk"),
)
# --- interop: webhooks (issue 17) ------------------------------------------------------------

# who is told what: event types, products (none: every product), alert kinds, where, signed how
webhook_subscriptions = Table(
    "webhook_subscriptions",
    metadata,
    Column("id", Id, primary_key=True),
    Column("name", String(80), nullable=False),
    Column("url", String(500), nullable=False),
    Column("secret", String(128), nullable=False),
    Column("event_types", JSON, nullable=False),
    Column("products", JSON, nullable=False),
    Column("alert_kinds", JSON, nullable=False),
    Column("active", Boolean, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", String(80), nullable=False),
)

# the outbox: one delivery of one event or alert (`source`: "event:<id>", "diversion:<id>" …)
# to one subscription, written in the transaction of what it tells
webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", Id, primary_key=True),
    Column("subscription_id", ForeignKey("webhook_subscriptions.id"), nullable=False),
    Column("source", String(80), nullable=False),
    Column("kind", String(40), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("status", String(10), nullable=False),  # pending | delivered | dead
    Column("attempts", Integer, nullable=False),  # since it was (re)queued
    Column("created_at", UTCDateTime, nullable=False),
    Column("queued_at", UTCDateTime, nullable=False),
    Column("next_at", UTCDateTime, nullable=False),
    Column("claim", String(40)),  # the worker that holds it until next_at
    Column("done_at", UTCDateTime),
    UniqueConstraint("subscription_id", "source", name="uq_webhook_deliveries_source"),
    Index("ix_webhook_deliveries_due", "status", "next_at"),
    Index("ix_webhook_deliveries_subscription", "subscription_id", "created_at"),
)

# every try of a delivery: when, the HTTP status or the error, how long the receiver took
webhook_attempts = Table(
    "webhook_attempts",
    metadata,
    Column("id", Id, primary_key=True),
    Column("delivery_id", ForeignKey("webhook_deliveries.id"), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("http_status", Integer),
    Column("error", String(300)),
    Column("ms", Integer, nullable=False),
    Index("ix_webhook_attempts_delivery", "delivery_id"),
)
# --- interop: imports (issue 17) — import jobs and saved column mappings ----------------------

# one import of a file (dry run or real): its progress is written from a connection of its own
import_jobs = Table(
    "import_jobs",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("kind", String(20), nullable=False),
    Column("filename", String(255), nullable=False),
    Column("file_hash", String(64), nullable=False),  # sha256 of the file's bytes
    Column("actor", String(80), nullable=False),
    Column("status", String(10), nullable=False),  # queued running done failed refused repeat
    Column("dry_run", Boolean, nullable=False),
    Column("mode", String(4), nullable=False),  # all, good
    Column("options", JSON, nullable=False),
    Column("rows_total", Integer, nullable=False),
    Column("rows_done", Integer, nullable=False),
    Column("written", Integer, nullable=False),
    Column("error_count", Integer, nullable=False),
    Column("errors", JSON, nullable=False),  # the first bad rows: [{row, column, reason}]
    Column("message", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime),
    Index("ix_import_jobs_hash", "file_hash"),
)

# a column mapping saved by name: header in the file → field of the kind
import_mappings = Table(
    "import_mappings",
    metadata,
    Column("id", Id, primary_key=True),
    Column("name", String(80), nullable=False, unique=True),
    Column("kind", String(20), nullable=False),
    Column("mapping", JSON, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("updated_by", String(80), nullable=False),
)
