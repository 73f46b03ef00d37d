"""Who is acting, and what their role lets them do. Use cases check permissions here."""

from __future__ import annotations

from dataclasses import dataclass

from unitrace.core.errors import Forbidden

PERMISSIONS = {
    "read": "see products, lots, parties, locations, units and events",
    "catalog.write": "create and change products, lots, parties and locations",
    "ledger.write": "record events and commission units",
    "access.admin": "manage users and API tokens",
}

ROLES: dict[str, frozenset[str]] = {
    "admin": frozenset(PERMISSIONS),
    "readonly": frozenset({"read"}),
}


@dataclass(frozen=True)
class Actor:
    """The user (and token) a use case runs for. `user_id` is None for the system itself."""

    username: str
    role: str
    user_id: int | None = None
    token_id: int | None = None

    def can(self, permission: str) -> bool:
        return permission in ROLES.get(self.role, frozenset())

    def require(self, permission: str) -> None:
        if not self.can(permission):
            raise Forbidden(f"{self.username} (role {self.role}) may not {PERMISSIONS[permission]}")


SYSTEM = Actor("system", "admin")
