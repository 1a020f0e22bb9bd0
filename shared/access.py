"""Who may do what: officers work the tips of their own areas; supervisors all areas; admins also read the audit.

Roles and areas come from the officer's Cognito groups (shared/tokens.py). Every refusal is a ForbiddenError,
raised before anything is read or changed.
"""

from __future__ import annotations

from shared.errors import ForbiddenError, InvalidRequestError
from shared.storage.models import NO_AREA
from shared.tokens import Principal

OFFICER, SUPERVISOR, ADMIN = "officer", "supervisor", "admin"


def sees_all_areas(principal: Principal) -> bool:
    return bool(principal.roles & {SUPERVISOR, ADMIN})


def require_officer(principal: Principal) -> None:
    """Any of the three roles; a signed-in user in none of them has no business here."""
    if not principal.roles & {OFFICER, SUPERVISOR, ADMIN}:
        raise ForbiddenError("your account has no Sampark role (officer, supervisor or admin)")
    if not sees_all_areas(principal) and not principal.areas:
        raise ForbiddenError("your account has no police area: ask an admin to add you to an area:<id> group")


def require_supervisor(principal: Principal) -> None:
    if not sees_all_areas(principal):
        raise ForbiddenError("only supervisors may do this")


def require_admin(principal: Principal) -> None:
    if ADMIN not in principal.roles:
        raise ForbiddenError("only admins may do this")


def require_area(principal: Principal, area_id: str | None) -> None:
    """The tip's area must be one of the officer's; tips without an area are for supervisors."""
    require_officer(principal)
    if sees_all_areas(principal):
        return
    if area_id is None or area_id == NO_AREA:
        raise ForbiddenError("tips without a police area are triaged by supervisors")
    if area_id not in principal.areas:
        raise ForbiddenError("this tip belongs to a police area that is not yours")


def default_area(principal: Principal, requested: str | None) -> str | None:
    """The area a list is limited to: what was asked for (if allowed), or an officer's only area."""
    require_officer(principal)
    if requested is not None:
        require_area(principal, requested)
        return requested
    if sees_all_areas(principal):
        return None
    if len(principal.areas) == 1:
        return next(iter(principal.areas))
    raise InvalidRequestError(f"you work several areas: choose one with area_id ({', '.join(sorted(principal.areas))})")
