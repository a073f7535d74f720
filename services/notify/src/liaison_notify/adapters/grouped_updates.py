"""Batched updates grouped by their change, and finds by id in parts, for the station's server.

There, a single update costs about a millisecond per index on the collection, while one
``update_many`` changes documents about twice as fast; and a batch's documents mostly get the very
same change (every message of the monthly fan-out sent alike, every claim settled alike).
"""

from collections.abc import Iterable, Sequence

from bson import encode
from liaison_infra.mongo import Document
from pymongo import UpdateMany
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection

# Past about 100 ids an ``$in`` costs the server more per id (measured: 100 at best, 400 half as fast).
IDS_PER_UPDATE = 100
# The server matches every document a find reads against the whole ``$in`` list, one id after
# another: reading 100 messages by id cost it 0.37 ms each in one find, 0.26 ms in four of 25.
IDS_PER_FIND = 25


async def find_by_ids(
    collection: AsyncCollection[Document],
    ids: Sequence[str],
    query: Document,
    projection: Document | None = None,
    session: AsyncClientSession | None = None,
) -> list[Document]:
    """Those of ``ids`` that match ``query``, read ``IDS_PER_FIND`` ids to a find."""
    found: list[Document] = []
    for start in range(0, len(ids), IDS_PER_FIND):
        part = {"_id": {"$in": list(ids[start : start + IDS_PER_FIND])}, **query}
        found += await collection.find(part, projection, session=session).to_list()
    return found


def grouped(updates: Iterable[tuple[str, Document, Document]]) -> list[UpdateMany]:
    """``(_id, further conditions, change)`` triples as ``UpdateMany`` requests: one for each
    distinct (conditions, change), over an ``$in`` of at most ``IDS_PER_UPDATE`` ids."""
    groups: dict[bytes, tuple[Document, Document, list[str]]] = {}
    for document_id, conditions, change in updates:
        key = encode({"conditions": conditions, "change": change})
        groups.setdefault(key, (conditions, change, []))[2].append(document_id)
    return [
        UpdateMany({"_id": {"$in": ids[start : start + IDS_PER_UPDATE]}, **conditions}, change)
        for conditions, change, ids in groups.values()
        for start in range(0, len(ids), IDS_PER_UPDATE)
    ]
