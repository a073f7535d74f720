"""Beat's schedule: the four tasks, at their times in Asia/Shanghai."""

from datetime import UTC, datetime
from typing import Any

import pytest
from liaison_infra.clock import CHINA
from liaison_notify.config import Settings
from liaison_notify.entrypoints.celery_app import (
    CLOSE_WINDOWS,
    GENERATE,
    SCAN_DUE,
    WEEKLY_DIGEST,
    create_celery_app,
    queue_names,
)

SATURDAY_MORNING = datetime(2026, 11, 28, 10, 7, 30, tzinfo=CHINA)


@pytest.fixture(scope="module")
def schedule() -> dict[str, Any]:
    app = create_celery_app(Settings(mongodb_database="notify_schedule"))
    assert app.conf.timezone == "Asia/Shanghai"
    return {entry["task"]: entry for entry in app.conf.beat_schedule.values()}


def next_run(entry: dict[str, Any], after: datetime) -> datetime:
    last, delta, _ = entry["schedule"].remaining_delta(after)
    moment: datetime = last + delta
    return moment.astimezone(CHINA)


def test_beat_triggers_the_four_tasks(schedule) -> None:
    assert set(schedule) == {SCAN_DUE, GENERATE, CLOSE_WINDOWS, WEEKLY_DIGEST}


def test_due_reminders_are_scanned_every_minute_and_a_late_scan_is_dropped(schedule) -> None:
    assert next_run(schedule[SCAN_DUE], SATURDAY_MORNING) == datetime(2026, 11, 28, 10, 8, tzinfo=CHINA)
    assert next_run(schedule[SCAN_DUE], datetime(2026, 11, 28, 23, 59, 1, tzinfo=CHINA)) == datetime(
        2026, 11, 29, 0, 0, tzinfo=CHINA
    )
    assert schedule[SCAN_DUE]["options"]["expires"] < 60


def test_duties_are_generated_hourly_and_windows_closed_every_quarter_hour(schedule) -> None:
    assert next_run(schedule[GENERATE], SATURDAY_MORNING) == datetime(2026, 11, 28, 11, 5, tzinfo=CHINA)
    assert next_run(schedule[CLOSE_WINDOWS], SATURDAY_MORNING) == datetime(2026, 11, 28, 10, 15, tzinfo=CHINA)
    assert next_run(schedule[CLOSE_WINDOWS], datetime(2026, 11, 28, 10, 15, tzinfo=CHINA)) == datetime(
        2026, 11, 28, 10, 30, tzinfo=CHINA
    )


def test_the_weekly_digest_goes_on_monday_at_nine_in_shanghai(schedule) -> None:
    monday = next_run(schedule[WEEKLY_DIGEST], SATURDAY_MORNING)
    assert monday == datetime(2026, 11, 30, 9, 0, tzinfo=CHINA)
    assert monday.astimezone(UTC) == datetime(2026, 11, 30, 1, 0, tzinfo=UTC)  # not 09:00 UTC
    assert next_run(schedule[WEEKLY_DIGEST], monday) == datetime(2026, 12, 7, 9, 0, tzinfo=CHINA)


def test_queues_are_named_after_the_database_so_stations_sharing_redis_stay_apart() -> None:
    assert queue_names(Settings(mongodb_database="liaison_notify")) == (
        "liaison_notify.scans",
        "liaison_notify.deliveries",
    )
