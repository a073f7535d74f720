"""What every cases handler works with: the runtime, the working calendar, a clock and the
supervision thresholds."""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from liaison_infra.mongo import Document
from liaison_infra.runtime import Runtime
from pymongo.asynchronous.database import AsyncDatabase

from liaison_cases.adapters.store import CALENDAR_YEARS
from liaison_cases.domain.supervision import SupervisionPolicy, Supervisor
from liaison_cases.domain.working_days import WorkingCalendar, YearSchedule, china_day


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Cases:
    runtime: Runtime
    clock: Callable[[], datetime] = field(default=utc_now)
    policy: SupervisionPolicy = field(default_factory=SupervisionPolicy)

    @property
    def db(self) -> AsyncDatabase[Document]:
        return self.runtime.db

    async def calendar(self) -> WorkingCalendar:
        """The library's years, overridden by official schedules an administrator loaded."""
        official = {
            doc["year"]: YearSchedule.from_lists(doc["year"], doc["holidays"], doc["workdays"], doc["source"])
            async for doc in self.db[CALENDAR_YEARS].find({})
        }
        return WorkingCalendar.with_library(official)

    async def supervisor(self, calendar: WorkingCalendar | None = None) -> Supervisor:
        """Supervision colours as of today in China."""
        return Supervisor(china_day(self.clock()), calendar or await self.calendar(), self.policy)
