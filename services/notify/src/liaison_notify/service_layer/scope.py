"""What a caller may see, as flat MongoDB filters: the station's server serves no index for a
top-level ``$and`` or ``$or``, so a scope and a request's filters are merged field by field."""

from liaison_infra.auth import Principal
from liaison_infra.mongo import Document
from pymongo.asynchronous.database import AsyncDatabase

from liaison_notify.adapters.households_store import STATIONS


async def stations_in_scope(db: AsyncDatabase[Document], principal: Principal) -> list[str]:
    """The caller's stations, a district standing for its stations: one index on the station
    then serves every scope (each index makes every write dearer on the station's server)."""
    in_districts = db[STATIONS].find({"district_id": {"$in": sorted(principal.districts)}}, {"_id": 1})
    return sorted(principal.stations | {station["_id"] async for station in in_districts})
