"""A station's database upgraded in place: what an older version left behind is cleaned at start-up."""

from liaison_infra.mongo import OUTBOX, ensure_outbox_indexes
from pymongo import ASCENDING


async def test_the_outbox_loses_the_polling_relays_index_and_keeps_its_own(mongo, unique) -> None:
    db = mongo[f"upgrade_{unique}"]
    outbox = db[OUTBOX]
    await outbox.create_index([("pending", ASCENDING), ("created_at", ASCENDING), ("order", ASCENDING)])
    await outbox.create_index([("topic", ASCENDING)])  # not retired: left alone
    await ensure_outbox_indexes(db)
    assert set(await outbox.index_information()) == {"_id_", "created_at_1", "topic_1"}
    await ensure_outbox_indexes(db)  # a second start finds nothing to drop
    assert set(await outbox.index_information()) == {"_id_", "created_at_1", "topic_1"}
    await mongo.drop_database(db.name)
