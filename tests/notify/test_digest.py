"""The weekly digest: one message per station head per ISO week, counted from the duties."""

from dataclasses import replace
from datetime import date, datetime
from functools import partial

from liaison_infra.clock import CHINA
from liaison_infra.envelope import Envelope
from liaison_infra.runtime import Runtime
from liaison_notify.adapters.households_store import STATIONS
from liaison_notify.adapters.messages_store import MESSAGES
from liaison_notify.bootstrap import SPEC
from liaison_notify.domain.digest import reported_week
from liaison_notify.domain.duties import DutyStatus
from liaison_notify.domain.periods import Window, month_window, quarter_window
from liaison_notify.domain.templates import render
from liaison_notify.service_layer.context import Notify
from liaison_notify.service_layer.digest import produce_weekly_digests

from tests.apps import service_settings
from tests.notify.duty_records import duty, store

MONDAY_MORNING = datetime(2026, 11, 30, 9, 0, tzinfo=CHINA)  # W49 begins; the digest is of W48
IN_THE_WEEK = datetime(2026, 11, 25, 15, 0, tzinfo=CHINA)
WEEK_BEFORE = datetime(2026, 11, 20, 15, 0, tzinfo=CHINA)
NOVEMBER = month_window(date(2026, 11, 5))
OCTOBER = month_window(date(2026, 10, 5))
ENDS_SATURDAY = Window("2026-mid", date(2026, 11, 14), date(2026, 11, 28))
DONE = DutyStatus.FULFILLED
MISSED = DutyStatus.MISSED


def test_the_digest_reports_the_iso_week_before_the_one_it_is_sent_in() -> None:
    assert reported_week(MONDAY_MORNING).label == "2026-W48"
    assert reported_week(datetime(2026, 11, 30, 0, 30, tzinfo=CHINA)).label == "2026-W48"
    assert reported_week(datetime(2026, 11, 29, 23, 30, tzinfo=CHINA)).label == "2026-W47"
    assert reported_week(datetime(2027, 1, 4, 9, tzinfo=CHINA)).label == "2026-W53"
    week = reported_week(MONDAY_MORNING)
    assert week.start == datetime(2026, 11, 23, tzinfo=CHINA) and week.end == datetime(2026, 11, 30, tzinfo=CHINA)


async def test_one_digest_per_station_head_counts_the_week(endpoints, keys, unique, mongo) -> None:
    db = mongo[f"notify_{unique}"]
    at_a = partial(duty, station_id="st-a")
    await store(
        db,
        at_a("monthly_visit", NOVEMBER, "hh-1", deputy_id="d-1", status=DONE, closed_at=IN_THE_WEEK),
        at_a("festival_mid_autumn", ENDS_SATURDAY, "hh-2", deputy_id="d-1", status=DONE, closed_at=IN_THE_WEEK),
        at_a("monthly_visit", NOVEMBER, "hh-3", deputy_id="d-1", status=DONE, closed_at=WEEK_BEFORE),
        at_a("monthly_visit", ENDS_SATURDAY, "hh-4", deputy_id="d-2", status=MISSED),
        at_a("monthly_visit", OCTOBER, "hh-5", deputy_id="d-2", status=MISSED),  # missed weeks before
        at_a("monthly_visit", NOVEMBER, "hh-6", deputy_id="d-2"),  # open, its window ends this week
        at_a("quarterly_lecture", quarter_window(date(2026, 11, 5)), "st-a"),  # open, ends in January
        at_a("case_deadline", Window("deadline", date(2026, 10, 1), date(2026, 11, 10)), "case-1", status=MISSED),
        replace(  # answered late: no longer overdue
            at_a("case_deadline", Window("deadline", date(2026, 10, 1), date(2026, 11, 12)), "case-2", status=MISSED),
            resolved_at=IN_THE_WEEK,
        ),
        # Another station's figures stay its own.
        duty("monthly_visit", NOVEMBER, "hh-9", station_id="st-b", deputy_id="d-9", status=MISSED),
        stations=("st-a", "st-b", "st-quiet"),
    )
    settings = service_settings("notify", endpoints, keys, mongodb_database=f"notify_{unique}")
    notify = Notify(Runtime(settings, SPEC))
    try:
        assert await produce_weekly_digests(notify, MONDAY_MORNING) == 3
        assert await produce_weekly_digests(notify, MONDAY_MORNING.replace(hour=9, minute=1)) == 0  # a second beat
    finally:
        await notify.runtime.close()
    stored = {m["subject_id"]: m async for m in db[MESSAGES].find({})}
    assert set(stored) == {"st-a", "st-b", "st-quiet"}
    digest = stored["st-a"]
    assert digest["_id"] == "weekly_digest|st-a|digest:2026-W48|station_head:st-a"
    assert (digest["recipient_id"], digest["template"], digest["status"]) == (
        "station_head:st-a",
        "weekly_digest",
        "pending",
    )
    assert {k: digest["variables"][k] for k in ("visits_done", "visits_missed", "duties_due", "cases_overdue")} == {
        "visits_done": "2",
        "visits_missed": "1",
        "duties_due": "1",
        "cases_overdue": "1",
    }
    assert stored["st-b"]["variables"]["visits_done"] == "0"
    assert stored["st-quiet"]["variables"]["duties_due"] == "0"
    title, body = render(digest["template"], digest["variables"])
    assert title.startswith("st-a") and "2026-W48" in title
    assert "已走访2户" in body and "逾期未走访1户" in body and "意见建议1件" in body


async def test_the_digest_names_each_station_as_records_announces_it(endpoints, keys, unique, mongo) -> None:
    db = mongo[f"notify_{unique}"]
    settings = service_settings("notify", endpoints, keys, mongodb_database=f"notify_{unique}")
    notify = Notify(Runtime(settings, SPEC))

    async def announce(kind: str, unit_id: str, level: str, name: str, parent_id: str | None) -> None:
        subscription = SPEC.subscription_for(f"org_unit.{kind}")
        assert subscription is not None
        data = {"unit_id": unit_id, "level": level, "name": name, "parent_id": parent_id}
        envelope = Envelope(
            source="records",
            type=f"org_unit.{kind}",
            subject=unit_id,
            dataschema=f"urn:liaison:org_unit.{kind}:v1",
            station_id=unit_id if level == "station" else None,
            district_id=parent_id if level == "station" else unit_id,
            correlationid="corr-1",
            data=data,
        )
        event = subscription.reader.model_validate(data)
        await notify.runtime.transaction(lambda tx: subscription.handler(event, envelope, tx))

    try:
        await db[STATIONS].insert_one({"_id": "st-a", "district_id": "d-yufeng"})  # from a household's events
        await announce("registered", "d-yufeng", "district", "鱼峰区", "c-liuzhou")  # not a station: ignored
        await announce("registered", "st-a", "station", "胜利联络站", "d-yufeng")
        await announce("updated", "st-a", "station", "胜利社区联络站", "d-yufeng")  # renamed
        await announce("registered", "st-new", "station", "新村联络站", "d-liuzhong")  # no household yet
        assert await produce_weekly_digests(notify, MONDAY_MORNING) == 2
    finally:
        await notify.runtime.close()
    stored = {m["subject_id"]: m async for m in db[MESSAGES].find({})}
    assert set(stored) == {"st-a", "st-new"}
    title, _ = render(stored["st-a"]["template"], stored["st-a"]["variables"])
    assert title == "胜利社区联络站2026-W48工作小结"
    newcomer = stored["st-new"]
    assert (newcomer["variables"]["station_name"], newcomer["district_id"]) == ("新村联络站", "d-liuzhong")
