"""Who is calling and what they may see: JWT verification (Ed25519) and station scope.

Tokens carry roles and scopes (stations, districts). Every read and write is filtered by
``Principal.scope_filter()``; a record outside the caller's scope is answered as not found,
so its existence is not revealed.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import jwt
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from liaison_infra.errors import ApiError


class Role(StrEnum):
    ADMIN = "admin"
    DISTRICT_SUPERVISOR = "district_supervisor"
    STATION_STAFF = "station_staff"
    DEPUTY = "deputy"
    DEPARTMENT_HANDLER = "department_handler"
    AUDITOR = "auditor"


@dataclass(frozen=True)
class Principal:
    subject: str
    roles: frozenset[Role]
    stations: frozenset[str]
    districts: frozenset[str]
    department: str | None = None

    @classmethod
    def from_claims(cls, claims: Mapping[str, Any]) -> "Principal":
        """The principal a token's claims name (or ``claims()`` kept to act later on its behalf)."""
        return cls(
            subject=str(claims["sub"]),
            roles=frozenset(Role(role) for role in claims.get("roles", [])),
            stations=frozenset(claims.get("stations", [])),
            districts=frozenset(claims.get("districts", [])),
            department=claims.get("department"),
        )

    def claims(self) -> dict[str, Any]:
        return {
            "sub": self.subject,
            "roles": sorted(self.roles),
            "stations": sorted(self.stations),
            "districts": sorted(self.districts),
            "department": self.department,
        }

    @property
    def is_admin(self) -> bool:
        return Role.ADMIN in self.roles

    def has_any(self, *roles: Role) -> bool:
        return self.is_admin or bool(self.roles.intersection(roles))

    def can_see(self, station_id: str | None, district_id: str | None) -> bool:
        return self.is_admin or station_id in self.stations or district_id in self.districts

    def scope_filter(self, station_field: str = "station_id", district_field: str = "district_id") -> dict[str, Any]:
        """A MongoDB filter that keeps only documents within this caller's scope.

        The fields may hold one id or a list of ids (a deputy serving several stations). The
        filter is flat unless the caller has both kinds of scope: the station's server serves a
        field condition from an index, but never a top-level ``$or``.
        """
        if self.is_admin:
            return {}
        if not self.districts:
            return {station_field: {"$in": sorted(self.stations)}}
        if not self.stations:
            return {district_field: {"$in": sorted(self.districts)}}
        return {
            "$or": [
                {station_field: {"$in": sorted(self.stations)}},
                {district_field: {"$in": sorted(self.districts)}},
            ]
        }


def within(scope: dict[str, Any], filters: Mapping[str, str | None]) -> dict[str, Any]:
    """``filters`` (equalities; None: not filtered) inside ``scope``, merged field by field (the
    station's server serves no index for a top-level ``$and``): a value the scope leaves out of
    its own field matches nothing, never widens the scope."""
    query = dict(scope)
    for name, value in filters.items():
        if value is None:
            continue
        limit = scope.get(name)
        inside = limit is None or value == limit or (isinstance(limit, dict) and value in limit.get("$in", ()))
        query[name] = value if inside else {"$in": []}
    return query


class Authenticator:
    def __init__(self, public_key_pem: bytes, *, issuer: str, audience: str) -> None:
        self.public_key = public_key_pem
        self.issuer = issuer
        self.audience = audience

    @classmethod
    def from_file(cls, path: Path, *, issuer: str, audience: str) -> "Authenticator":
        return cls(path.read_bytes(), issuer=issuer, audience=audience)

    def verify(self, token: str) -> Principal:
        try:
            claims = jwt.decode(
                token,
                self.public_key,
                algorithms=["EdDSA"],
                issuer=self.issuer,
                audience=self.audience,
                options={"require": ["exp", "iat", "sub", "iss", "aud"]},
            )
            principal = Principal.from_claims(claims)
        except jwt.ExpiredSignatureError as exc:
            raise ApiError(401, "token_expired", "the token has expired") from exc
        except (jwt.InvalidTokenError, ValueError) as exc:
            raise ApiError(401, "invalid_token", f"the token is not valid: {exc}") from exc
        if not principal.roles:
            raise ApiError(403, "no_role", "the token grants no role")
        return principal


_bearer = HTTPBearer(auto_error=False)


def current_principal(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal:
    """FastAPI dependency: the verified caller; 401 without a valid bearer token."""
    if credentials is None:
        raise ApiError(401, "missing_token", "an Authorization: Bearer token is required")
    authenticator: Authenticator = request.app.state.authenticator
    return authenticator.verify(credentials.credentials)


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def require_station(principal: Principal, station_id: str, district_id: str | None = None) -> None:
    """Answer as not found when the station lies outside the caller's scope."""
    if not principal.can_see(station_id, district_id):
        raise ApiError(404, "not_found", "no such station")
