"""What every cases handler works with: the runtime, the working calendar and a clock."""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from liaison_infra.mongo import Document
from liaison_infra.runtime import Runtime
from pymongo.asynchronous.database import AsyncDatabase

from liaison_cases.adapters.store import CALENDAR_YEARS
from liaison_cases.domain.working_days import WorkingCalendar, YearSchedule


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Cases:
    runtime: Runtime
    clock: Callable[[], datetime] = field(default=utc_now)

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
