"""Who is acting, and what their role lets them do. Use cases check permissions here.

Every permission and every role is documented in docs/access.md (a test checks).
"""

from __future__ import annotations

from dataclasses import dataclass

from unitrace.core.errors import Forbidden
from unitrace.core.lifecycle import EVENT_TYPES

PERMISSIONS: dict[str, str] = {
    "read": "see products, units and their events (a partner: only its own units)",
    "catalog.read": "see parties, locations and lots (lots name their suppliers)",
    "catalog.write": "create and change products, lots, parties and locations",
    "access.admin": "manage users, roles and API tokens of others",
    "audit.read": "read the audit trail",
    "trace": "trace genealogy forward and backward, read recalls and quality figures",
    "recall.manage": "open recall campaigns from a trace, mark their units, close them",
    "diversion.manage": "acknowledge and close diversion (窜货) alerts",
    "service.read": "see service cases, warranties and claim checks (a partner: of its own units)",
    "service.write": "open service cases and record their steps, parts, costs, notes and files",
    "warranty.manage": "set warranty policies by region or party, extend or void a unit's warranty",
    "warranty.unvoid": "lift the void of a unit's warranty",
    "claim.override": "open a warranty claim that a claim check refused, giving a reason",
    "spares.manage": "pick and ship spare-part requests to service locations",
    "labels.print": "print and reprint labels (print runs) of any unit",
    "verify.read": "see verification codes' checks, clone alerts and counterfeit reports",
    "verify.manage": "set products' verification, issue codes and PINs, handle clone alerts "
    "and counterfeit reports, mark codes compromised",
    "owners.read": "see buyers' registrations and owners (personal data; every read audited)",
    "import.run": "import Excel and CSV files (each row also needs the permission of what it "
    "writes)",
    "epcis.capture": "capture GS1 EPCIS 2.0 events (each one also needs the permission of the "
    "ledger event it becomes)",
    "webhooks.manage": "manage webhook subscriptions, read their delivery log, replay deliveries",
    **{f"event:{t}": f"record {t} events" for t in EVENT_TYPES},
}


def _events(*types: str) -> frozenset[str]:
    unknown = set(types) - set(EVENT_TYPES)
    assert not unknown, unknown
    return frozenset(f"event:{t}" for t in types)


_STAFF = frozenset({"read", "catalog.read", "trace", "service.read", "verify.read"})
_PRODUCTION = _events(
    "commission",
    "inspect",
    "assemble",
    "disassemble",
    "replace_part",
    "move",
    "receive",
    "scrap",
    "pack",
) | {"labels.print", "import.run", "epcis.capture"}
_WAREHOUSE = _events(
    "receive", "move", "ship", "deliver", "count", "return", "inspect", "pack", "unpack"
) | {"spares.manage", "labels.print", "import.run", "epcis.capture"}
_SALES = _events("ship", "deliver", "sell", "activate", "return") | {"diversion.manage"}
_SERVICE = _events(
    "return", "repair", "replace_part", "activate", "verify", "inspect", "receive", "ship", "move"
) | {"service.write", "warranty.manage", "owners.read"}
_QUALITY = _events("inspect", "recall", "scrap", "verify") | {"recall.manage", "verify.manage"}
_PARTNER = _events("deliver", "sell", "activate", "return", "verify", "count", "unpack") | {
    "service.read",
    "service.write",
}
ROLES: dict[str, frozenset[str]] = {
    "admin": frozenset(PERMISSIONS),
    "production": _STAFF | _PRODUCTION,
    "warehouse": _STAFF | _WAREHOUSE,
    "sales": _STAFF | _SALES,
    "service": _STAFF | _SERVICE,
    "quality": _STAFF | _QUALITY,
    "auditor": _STAFF | {"audit.read"},
    "readonly": _STAFF,
    "partner": frozenset({"read"}) | _PARTNER,
}
# The public pages' role: anyone verifying a code or a buyer registering. No user has it (it is
# not in ROLES), those pages record their verifications and activations as this role.
PUBLIC_ROLE = "public"
PUBLIC_PERMISSIONS = _events("verify", "activate")
ROLE_SUMMARY: dict[str, str] = {
    "admin": "everything",
    "production": "commission serials, record assembly, tests and production moves",
    "warehouse": "receive, put away, move, pack, count, ship and take back units",
    "sales": "ship to the channel, record deliveries, sales and activations",
    "service": "service cases, returns, repairs, part replacements, warranty, activations",
    "quality": "inspections, recalls, scrapping",
    "auditor": "read everything, including the audit trail; write nothing",
    "readonly": "read everything except the audit trail; write nothing",
    "partner": "a distributor's or retailer's user: only units it holds or held, and their "
    "service cases",
}


@dataclass(frozen=True)
class Actor:
    """The user (and token) a use case runs for. `user_id` is None for the system itself.

    `party_id` is set for partner users: they see and act on only units that party holds or
    held, and anything else is reported as not found. `token_trusted`: the token is one the
    administrator marked trusted (no API rate limit; it grants nothing else).
    """

    username: str
    role: str
    user_id: int | None = None
    token_id: int | None = None
    party_id: int | None = None
    token_trusted: bool = False

    @property
    def is_partner(self) -> bool:
        return self.role == "partner"

    def can(self, permission: str) -> bool:
        if self.role == PUBLIC_ROLE:
            return permission in PUBLIC_PERMISSIONS
        return permission in ROLES.get(self.role, frozenset())

    def require(self, permission: str) -> None:
        if not self.can(permission):
            what = PERMISSIONS.get(permission, permission)
            raise Forbidden(f"{self.username} (role {self.role}) may not {what}")


SYSTEM = Actor("system", "admin")
