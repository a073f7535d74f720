"""Households announced again once a member turns ``ELDERLY_AGE``: household.changed carries an
elderly flag (festival condolence visits go first to such households), which no change of a file
would otherwise set.

After each midnight in China, and at each start for the days the service was down, the
households of the members born in the days since the last pass (70 years back) are announced, a
few hundred to a transaction; then the pass is recorded (``DAILY_STATE``). The first pass
announces every household with an elderly member. A pass stopped half-way is done again, and
two processes may both announce a day: consumers keep the latest view, so an event twice is
harmless.
"""

import asyncio
import logging
from datetime import date, datetime, time, timedelta
from functools import partial

from liaison_infra.clock import CHINA, china_day

from liaison_records.adapters.people_store import IN_HOUSEHOLD, PEOPLE
from liaison_records.service_layer.context import Records
from liaison_records.service_layer.households import announce, elderly_born_by

DAILY_STATE = "daily_state"
ELDERLY = "elderly_announced"
HOUSEHOLDS_PER_TRANSACTION = 200
RETRY_AFTER = timedelta(minutes=5)
log = logging.getLogger(__name__)


async def follow_birthdays(records: Records) -> None:
    """Announce the households whose member turned elderly: at start, then after each midnight."""
    while True:
        try:
            await announce_new_elderly(records)
        except Exception as exc:  # tried again shortly; the days stay unrecorded until a pass ends
            log.warning("households turning elderly not announced", extra={"fields": {"error": repr(exc)}})
            await asyncio.sleep(RETRY_AFTER.total_seconds())
            continue
        midnight = datetime.combine(china_day(records.clock()) + timedelta(days=1), time(0, 1), CHINA)
        await asyncio.sleep(max(60.0, (midnight - records.clock()).total_seconds()))


async def announce_new_elderly(records: Records) -> None:
    today = china_day(records.clock())
    state = await records.db[DAILY_STATE].find_one({"_id": ELDERLY})
    if state is not None and state["through"] >= today.isoformat():
        return
    born: dict[str, str] = {"$lte": elderly_born_by(today)}
    if state is not None:
        born["$gt"] = elderly_born_by(date.fromisoformat(state["through"]))
    households = sorted(await records.db[PEOPLE].distinct("household_id", {"birth_date": born, **IN_HOUSEHOLD}))
    for start in range(0, len(households), HOUSEHOLDS_PER_TRANSACTION):
        batch = households[start : start + HOUSEHOLDS_PER_TRANSACTION]
        await records.runtime.transaction(partial(announce, household_ids=batch, today=today))
    passed = {"$max": {"through": today.isoformat()}}  # a process whose clock lags never moves it back
    await records.db[DAILY_STATE].update_one({"_id": ELDERLY}, passed, upsert=True)
