"""Duties stored as the duties engine stores them, for tests of what reads them (digest, calendar)."""

from dataclasses import replace
from datetime import datetime

from liaison_infra.mongo import Document
from liaison_notify.adapters.duties_store import DUTIES, to_document
from liaison_notify.adapters.households_store import STATIONS
from liaison_notify.domain.duties import Duty, DutyStatus, new_duty
from liaison_notify.domain.periods import Window
from liaison_notify.domain.rules import DEFAULT_RULES
from pymongo.asynchronous.database import AsyncDatabase


def duty(
    rule_id: str,
    window: Window,
    subject_id: str,
    *,
    station_id: str,
    deputy_id: str | None = None,
    status: DutyStatus = DutyStatus.OPEN,
    closed_at: datetime | None = None,
) -> Duty:
    made = new_duty(
        DEFAULT_RULES[rule_id],
        window,
        subject_id=subject_id,
        station_id=station_id,
        district_id="d-yufeng",
        deputy_id=deputy_id,
        made_at=window.start,
    )
    if status == DutyStatus.MISSED:
        closed_at = closed_at or made.window_end
    return replace(made, status=status, closed_at=closed_at)


async def store(db: AsyncDatabase[Document], *duties: Duty, stations: tuple[str, ...] = ()) -> None:
    await db[DUTIES].insert_many([{**to_document(d), "version": 1} for d in duties])
    if stations:
        await db[STATIONS].insert_many([{"_id": s, "district_id": "d-yufeng"} for s in stations])
