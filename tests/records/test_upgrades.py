"""A station's records database upgraded in place keeps no index only older versions read."""

from liaison_records.adapters.people_store import PEOPLE, ensure_people_indexes
from pymongo import ASCENDING, DESCENDING


async def test_the_indexes_searches_read_before_the_people_index_are_dropped(mongo, unique) -> None:
    db = mongo[f"records_upgrade_{unique}"]
    people = db[PEOPLE]
    for fields in (
        [("station_id", ASCENDING), ("name_tokens", ASCENDING), ("status", ASCENDING)],
        [("station_id", ASCENDING), ("sort_name", ASCENDING), ("_id", ASCENDING)],
        [("district_id", ASCENDING), ("sort_name", ASCENDING), ("_id", ASCENDING)],
        [("station_id", ASCENDING), ("updated_at", DESCENDING), ("_id", ASCENDING)],
        [("household_id", ASCENDING)],
    ):
        await people.create_index(fields)
    await ensure_people_indexes(db)
    assert set(await people.index_information()) == {
        "_id_",
        "id_number_index_1",
        "phone_index_1",
        "station_id_1_name_birth_1",
        "household_members_by_birth_date",
    }
    await mongo.drop_database(db.name)


async def test_the_partial_id_number_index_of_an_older_version_becomes_sparse(mongo, unique) -> None:
    db = mongo[f"records_upgrade_{unique}"]
    people = db[PEOPLE]
    partial = {"id_number_index": {"$type": "string"}}
    await people.create_index("id_number_index", unique=True, partialFilterExpression=partial)

    await ensure_people_indexes(db)

    index = (await people.index_information())["id_number_index_1"]
    assert index.get("sparse") is True and "partialFilterExpression" not in index
    await mongo.drop_database(db.name)
