"""Households announced again on the day a member turns ``ELDERLY_AGE``: household.changed
carries an elderly flag (festival condolence visits go first to such households), which no
change of a file would otherwise set.

Each day in China, and at each start for the days the service was down, one process claims the
days since the last pass (``DAILY_STATE``, in the same transaction as the events, so a day is
announced exactly once) and announces the households of the members born in them, 70 years back.
"""

import asyncio
import logging
from datetime import date, datetime, time, timedelta

from liaison_infra.clock import CHINA, china_day
from liaison_infra.mongo import Transaction
from pymongo.errors import PyMongoError

from liaison_records.adapters.people_store import PEOPLE
from liaison_records.service_layer.context import Records
from liaison_records.service_layer.households import announce, elderly_born_by

DAILY_STATE = "daily_state"
ELDERLY = "elderly_announced"
log = logging.getLogger(__name__)


async def follow_birthdays(records: Records) -> None:
    """Announce the households whose member turned elderly, at start and then after each midnight in China."""
    while True:
        try:
            await announce_new_elderly(records)
        except PyMongoError as exc:  # the next pass covers the days this one missed
            log.warning("households turning elderly not announced", extra={"fields": {"error": str(exc)}})
        midnight = datetime.combine(china_day(records.clock()) + timedelta(days=1), time(0, 1), CHINA)
        await asyncio.sleep(max(60.0, (midnight - records.clock()).total_seconds()))


async def announce_new_elderly(records: Records) -> None:
    """The days since the last pass, up to today, claimed and announced in one transaction. The
    first pass only marks today: the households announced before it carried the flag of their day."""
    today = china_day(records.clock())

    async def write(tx: Transaction) -> None:
        state = tx.db[DAILY_STATE]
        last = await state.find_one({"_id": ELDERLY}, session=tx.session)
        through = today.isoformat()
        await state.update_one({"_id": ELDERLY}, {"$set": {"through": through}}, upsert=True, session=tx.session)
        if last is None or last["through"] >= through:
            return
        born = {"$gt": elderly_born_by(date.fromisoformat(last["through"])), "$lte": elderly_born_by(today)}
        query = {"birth_date": born, "household_id": {"$ne": None}}
        found = tx.db[PEOPLE].find(query, {"household_id": 1}, session=tx.session)  # a scan, once a day
        await announce(tx, [person["household_id"] async for person in found], today)

    await records.runtime.transaction(write)
