"""The local read model of records' hierarchy (station → district → city → region): one document
per unit with its parent, as the last org_unit event said (``links_store.save_if_newer``)."""

from collections.abc import Iterable

from liaison_infra.mongo import Document
from pymongo.asynchronous.database import AsyncDatabase

ORG_UNITS = "org_units"


async def _parents(db: AsyncDatabase[Document], ids: Iterable[str]) -> dict[str, str | None]:
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    return {doc["_id"]: doc.get("parent_id") async for doc in db[ORG_UNITS].find({"_id": {"$in": wanted}})}


async def district_of(db: AsyncDatabase[Document], station_id: str) -> str | None:
    """The station's district, or None while records has not told us."""
    return (await _parents(db, [station_id])).get(station_id)


async def cities_of(db: AsyncDatabase[Document], station_ids: Iterable[str]) -> dict[str, str | None]:
    """Each station's city through its district, as they stand now; None where records has not
    (yet) told us a link of the chain. Two reads by id, whatever the number of stations."""
    districts = await _parents(db, station_ids)
    cities = await _parents(db, (district for district in districts.values() if district))
    return {station: cities.get(district) if district else None for station, district in districts.items()}
