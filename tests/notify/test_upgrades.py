"""Notify started on a database an older version wrote: indexes it no longer needs are dropped,
and duties whose every release rewrote them (``next_reminder_at``, ``released``) go on without
any reminder released twice or lost."""

from collections.abc import AsyncIterator
from datetime import date

import pytest
from liaison_notify.adapters.delivery_indexes import ensure_delivery_indexes
from liaison_notify.adapters.duties_store import DUTIES, OLD_RELEASE_INDEX, to_document, upgrade_release_state
from liaison_notify.adapters.messages_store import MESSAGES
from liaison_notify.domain.periods import month_window
from liaison_notify.service_layer.context import Notify
from liaison_notify.service_layer.scans import release_due_reminders

from tests.notify.duty_records import duty
from tests.notify.duty_support import local, own_notify


@pytest.fixture
async def notify(endpoints, keys, unique) -> AsyncIterator[Notify]:
    async with own_notify(endpoints, keys, unique) as notify:
        yield notify


def stored_by_older_version(subject_id: str, released: list[str]) -> dict[str, object]:
    """A November visit as the older version kept it, its reminders of ``released`` sent."""
    made = duty("monthly_visit", month_window(date(2026, 11, 1)), subject_id, station_id="st-1", deputy_id="dep-a")
    pending = [r.at for r in made.reminders if r.occurrence not in released]
    document = {k: v for k, v in to_document(made).items() if k != "catch_up_at"}
    return document | {"next_reminder_at": min(pending), "released": released, "version": 3}


async def test_older_duties_catch_up_where_they_were_and_release_nothing_twice(notify) -> None:
    duties = notify.db[DUTIES]
    await duties.insert_many(
        [
            stored_by_older_version("h-1", ["2026-11-01T09:00"]),  # the 1st sent, the 20th next
            stored_by_older_version("h-2", []),  # its reminder of the 1st still to be sent
        ]
    )
    await duties.create_index("next_reminder_at", sparse=True)

    await upgrade_release_state(notify.db, local(2026, 11, 10, 12))
    await upgrade_release_state(notify.db, local(2026, 11, 10, 12))  # a second start: nothing to do

    assert OLD_RELEASE_INDEX not in await duties.index_information()
    assert await duties.count_documents({"released": {"$exists": True}}) == 0
    assert await release_due_reminders(notify, local(2026, 11, 10, 13)) == 1
    assert await release_due_reminders(notify, local(2026, 11, 20, 10)) == 2
    assert await release_due_reminders(notify, local(2026, 11, 30, 10)) == 2
    released = sorted([(m["subject_id"], m["occurrence"]) async for m in notify.db[MESSAGES].find({})])
    assert released == [
        ("h-1", "2026-11-20T09:00"),
        ("h-1", "2026-11-30T09:00"),
        ("h-2", "2026-11-01T09:00"),
        ("h-2", "2026-11-20T09:00"),
        ("h-2", "2026-11-30T09:00"),
    ]


async def test_the_messages_district_index_an_older_version_kept_is_dropped(notify) -> None:
    await notify.db[MESSAGES].create_index("district_id")

    await ensure_delivery_indexes(notify.db)

    assert set(await notify.db[MESSAGES].index_information()) == {
        "_id_",
        "status_1_next_attempt_at_1",
        "station_id_1",
        "recipient_id_1",
    }
