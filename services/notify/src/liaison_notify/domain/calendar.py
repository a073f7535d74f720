"""A deputy's private iCalendar feed: their duties and their stations' quarterly activities.

A phone subscribes to a secret URL and cannot send a bearer token, so the secret is the token;
only its SHA-256 is stored, and rotating it cuts off every copy of the old URL. Each duty is an
all-day event over its window, its UID derived from the duty's id, so a refreshed feed updates
the phone's events instead of adding new ones.
"""

import hashlib
import secrets
from collections.abc import Sequence
from datetime import datetime

from icalendar import Calendar, Event
from liaison_infra.clock import china_day

from liaison_notify.domain.duties import Duty, DutyStatus
from liaison_notify.domain.rules import DEFAULT_RULES

PRODUCT_ID = "-//Liaison//notify calendar//ZH"
STATUS_TEXT = {DutyStatus.OPEN: "待完成", DutyStatus.FULFILLED: "已完成", DutyStatus.MISSED: "已逾期"}


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def event_uid(duty: Duty) -> str:
    return f"{hashlib.sha256(duty.id.encode()).hexdigest()[:32]}@liaison-notify"


def duty_event(duty: Duty, stamp: datetime) -> Event:
    rule = DEFAULT_RULES.get(duty.rule_id)
    title = rule.title if rule else duty.rule_id
    event = Event()
    event.add("uid", event_uid(duty))
    event.add("dtstamp", stamp)
    # All-day: the window's first local day to the day after its last (DTEND is exclusive).
    event.add("dtstart", china_day(duty.window_start))
    event.add("dtend", china_day(duty.window_end))
    event.add("summary", title if duty.subject_id == duty.station_id else f"{title}：{duty.subject_id}")
    event.add("description", f"{title}（{duty.period_id}）状态：{STATUS_TEXT[duty.status]}")
    event.add("categories", [duty.kind])
    return event


def deputy_calendar(duties: Sequence[Duty], stamp: datetime) -> bytes:
    calendar = Calendar()
    calendar.add("prodid", PRODUCT_ID)
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", "联络站工作日历")
    calendar.add("x-wr-timezone", "Asia/Shanghai")
    for duty in sorted(duties, key=lambda d: (d.window_start, d.id)):
        calendar.add_component(duty_event(duty, stamp))
    text: bytes = calendar.to_ical()
    return text
