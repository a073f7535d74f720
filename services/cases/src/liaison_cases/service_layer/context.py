"""What every cases handler works with: the runtime, the working calendar, a clock and the
supervision thresholds."""

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from liaison_infra.clock import china_day, utc_now
from liaison_infra.mongo import Document
from liaison_infra.runtime import Runtime
from pymongo.asynchronous.database import AsyncDatabase

from liaison_cases.adapters.store import CALENDAR_YEARS
from liaison_cases.domain.supervision import SupervisionPolicy, Supervisor
from liaison_cases.domain.working_days import WorkingCalendar, YearSchedule

CALENDAR_KEPT_SECONDS = 60.0


@dataclass
class Cases:
    runtime: Runtime
    clock: Callable[[], datetime] = field(default=utc_now)
    policy: SupervisionPolicy = field(default_factory=SupervisionPolicy)
    _kept_calendar: tuple[float, WorkingCalendar] | None = field(default=None, init=False, repr=False)

    @property
    def db(self) -> AsyncDatabase[Document]:
        return self.runtime.db

    async def calendar(self) -> WorkingCalendar:
        """The library's years, overridden by official schedules an administrator loaded, as
        stored now: what a deadline is decided with."""
        official = {
            doc["year"]: YearSchedule.from_lists(doc["year"], doc["holidays"], doc["workdays"], doc["source"])
            async for doc in self.db[CALENDAR_YEARS].find({})
        }
        calendar = WorkingCalendar.with_library(official)
        self._kept_calendar = (time.monotonic(), calendar)
        return calendar

    async def recent_calendar(self) -> WorkingCalendar:
        """The calendar as stored at most ``CALENDAR_KEPT_SECONDS`` ago, for what is only shown
        (supervision colours): most transitions and every search then read no schedule, and one
        loaded in another process shows within that time."""
        kept = self._kept_calendar
        if kept is not None and time.monotonic() - kept[0] < CALENDAR_KEPT_SECONDS:
            return kept[1]
        return await self.calendar()

    async def supervisor(self, calendar: WorkingCalendar | None = None) -> Supervisor:
        """Supervision colours as of today in China."""
        return Supervisor(china_day(self.clock()), calendar or await self.recent_calendar(), self.policy)
