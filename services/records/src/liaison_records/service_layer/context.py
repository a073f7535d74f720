"""What every records handler works with: the runtime, the PII codec, the people index and a clock."""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from liaison_infra import versioning
from liaison_infra.auth import Principal, Role
from liaison_infra.clock import utc_now
from liaison_infra.domain_errors import Forbidden, NotFound
from liaison_infra.mongo import Document
from liaison_infra.runtime import Runtime
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from liaison_records.adapters.people_index import PeopleIndex
from liaison_records.adapters.people_store import PeopleCodec

STATIONS = "org_units"
AUDIT = "audit"

WRITERS = (Role.STATION_STAFF,)
READERS = (Role.STATION_STAFF, Role.DISTRICT_SUPERVISOR, Role.DEPUTY, Role.AUDITOR)
# Roles that may ask for unmasked personal data (each such read is audited).
REVEALERS = (Role.STATION_STAFF,)
ADMIN_ONLY: tuple[Role, ...] = ()  # administrators pass every check


@dataclass
class Records:
    runtime: Runtime
    codec: PeopleCodec
    people_index: PeopleIndex
    clock: Callable[[], datetime] = field(default=utc_now)

    @property
    def db(self) -> AsyncDatabase[Document]:
        return self.runtime.db

    async def station_in_scope(self, principal: Principal, station_id: str) -> Document:
        """The station document, or not found when it is missing or outside the caller's scope."""
        station = await self.db[STATIONS].find_one({"_id": station_id, "level": "station"})
        if station is None or not principal.can_see(station["_id"], station.get("district_id")):
            raise NotFound("station_not_found", f"no station {station_id}", field="station_id")
        return station

    async def audit(
        self,
        principal: Principal,
        action: str,
        subject: str,
        station_id: str,
        district_id: str | None,
        session: AsyncClientSession | None = None,
    ) -> None:
        """Who did what to whom: kept for every unmasked read and every bulk change."""
        await self.audit_each(principal, action, [(subject, station_id, district_id)], session)

    async def audit_each(
        self,
        principal: Principal,
        action: str,
        subjects: Sequence[tuple[str, str, str | None]],
        session: AsyncClientSession | None = None,
    ) -> None:
        """One entry per (subject, station, district) in one write, so that every person an
        export showed unmasked can be asked about."""
        who = {"at": self.clock(), "by": principal.subject, "roles": sorted(principal.roles), "action": action}
        entries = [
            {**who, "subject": subject, "station_id": station, "district_id": district}
            for subject, station, district in subjects
        ]
        if entries:
            await self.db[AUDIT].insert_many(entries, session=session)

    async def audit_told_elsewhere(self, principal: Principal, files: Sequence[Document]) -> None:
        """A refusal that tells the caller an ID number they gave is on file at a station they
        cannot see confirms that person is a registered returnee: audited on that file. ``files``
        may hold any found: those the caller may see are left out here."""
        hidden = [placed(d) for d in files if not principal.can_see(d["station_id"], d.get("district_id"))]
        await self.audit_each(principal, "told_on_file_elsewhere", hidden)


def placed(document: Document) -> tuple[str, str, str | None]:
    """A stored document as an audit entry names its subject: id, station, district."""
    return document["_id"], document["station_id"], document.get("district_id")


def document_view(document: Document) -> Document:
    """A stored document as the API shows it: ``_id`` becomes ``id``."""
    return {"id": document["_id"], **{key: value for key, value in document.items() if key != "_id"}}


def check_version(document: Document, expected_version: int) -> None:
    """Refuse a change based on an old read (If-Match); nothing is written."""
    versioning.check_version(document["_id"], document["version"], expected_version)


def require(principal: Principal, roles: tuple[Role, ...], action: str) -> None:
    if not principal.has_any(*roles):
        raise Forbidden("forbidden", f"your role may not {action}")
