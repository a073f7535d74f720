"""Delivery: claim, send, record. The two functions the Celery tasks call, free of Celery.

For each due message: a reminder whose duty is no longer open is dropped; otherwise the
recipient's first route not yet given up on is claimed in MongoDB (one batched write for the
whole batch) before anything is sent, so a duplicated or redelivered call finds the claim taken
and sends nothing. Each send's outcome, the attempts log, the message's next step and the
reminder events are then written in one transaction per part of the batch, while the next part
is sent.

A failed send is retried by a later scan after an exponential backoff (never a sleep here); after
the channel's attempts the next route is tried. A send that outlived its timeout, or a claim still
``sending`` a lease after its message fell due (its worker died mid-send), may have reached the
provider: it is marked ``unknown``, never sent again on any outside channel, and the
message goes to the in-app inbox (whose writes are idempotent) with an alert to the station. A
recipient nobody can reach outside the inbox raises the same kind of alert, so nothing is
dropped without a trace.
"""

import asyncio
import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from liaison_infra.domain_errors import InvalidInput
from liaison_infra.mongo import Document
from redis.asyncio import Redis

from liaison_notify.adapters import deliveries_store, inbox_store, messages_store, recipients_store
from liaison_notify.adapters.grouped_updates import find_by_ids
from liaison_notify.adapters.providers import Outcome, apprise_url, send
from liaison_notify.adapters.rate_limit import RateLimiter, window_end
from liaison_notify.config import Settings
from liaison_notify.domain.channels import Channel, Route, next_route
from liaison_notify.domain.messages import Message
from liaison_notify.domain.schedule import quiet_hours_end
from liaison_notify.domain.templates import render
from liaison_notify.service_layer.context import Notify
from liaison_notify.service_layer.delivery_record import Result, record

log = logging.getLogger(__name__)
DUTIES = "duties"  # the duties engineer's collection, read only: is the duty still open?
LAPSED = Outcome(False, "the claim's lease ran out before its send was recorded", settled=False)
# Sends recorded per transaction; the next ones go out meanwhile (a batch of 100 in four parts).
SENDS_PER_RECORD = 25


@dataclass(frozen=True)
class Plan:
    document: Document
    message: Message
    route: Route
    routes: tuple[Route, ...]
    title: str
    body: str

    @property
    def claim(self) -> deliveries_store.Claim:
        m = self.message
        return deliveries_store.Claim(m.key, self.route.channel.value, m.station_id, m.district_id)

    def inbox_item(self, now: datetime) -> Document:
        m = self.message
        return inbox_store.new_item(m.key, m.recipient_id, m, m.template, (self.title, self.body), now)

    def result(self, token: str, attempt: int, outcome: Outcome, channel: Channel | None = None) -> Result:
        """The outcome of a send on ``channel`` (the route's by default), with where the message
        goes next should it give up, and why the inbox stands in for the outside channels, when
        it does."""
        channel = channel or self.route.channel
        fallback = next_route(self.routes, {*self.document.get("tried", []), channel.value})
        alert_reason = None
        if channel == Channel.INBOX:
            alert_reason = str(self.document.get("fallback_reason", "no_channel"))
        return Result(self.message, channel, token, attempt, outcome, fallback, self.title, alert_reason)


async def pending_message_ids(notify: Notify, now: datetime, limit: int) -> list[str]:
    """The messages due at ``now``, longest waiting first."""
    return await messages_store.due_ids(notify.db, now, limit)


async def deliver(notify: Notify, message_ids: Sequence[str]) -> None:
    """Deliver those of ``message_ids`` still due; safe to call twice, or concurrently."""
    settings = notify.settings
    now = notify.clock()
    documents = await _drop_closed_duties(notify, await messages_store.due(notify.db, message_ids, now), now)
    plans = await _plan(notify, documents, now)
    if not plans:
        return
    async with Redis.from_url(settings.redis_url) as redis:
        plans = await _within_rate(notify, RateLimiter(redis, settings.mongodb_database), plans, now)
    lease = timedelta(seconds=settings.claim_lease_seconds)
    lapsed = await _settle_lapsed(notify, plans, now, lease)
    plans = [plan for plan in plans if plan.message.key not in lapsed]
    token, attempts = await deliveries_store.claim(notify.db, [plan.claim for plan in plans], now, lease)
    claimed = [(plan, attempts[plan.claim.id]) for plan in plans if plan.claim.id in attempts]
    await _send_and_record(notify, token, claimed, now)
    if lapsed:  # on to the inbox at once
        await deliver(notify, sorted(lapsed))


async def _settle_lapsed(notify: Notify, plans: list[Plan], now: datetime, lease: timedelta) -> set[str]:
    """A message due for longer than a lease may have a claim whose worker died mid-send, on any
    outside channel (the recipient's routes may have changed since): each such claim is settled as
    unknown, and its message goes to the inbox, never to another outside channel. Returns those
    messages' keys."""
    stale = {plan.message.key: plan for plan in plans if plan.document["next_attempt_at"] <= now - lease}
    if not stale:
        return set()
    token, claims = await deliveries_store.take_lapsed(notify.db, list(stale), now, lease)
    results = [stale[c["message_id"]].result(token, c["attempt"], LAPSED, Channel(c["channel"])) for c in claims]
    if results:
        await _record(notify, results, now, after=None)
    return {result.message.key for result in results}


async def _send_and_record(notify: Notify, token: str, claimed: list[tuple[Plan, int]], now: datetime) -> None:
    """Send the claimed plans ``SENDS_PER_RECORD`` at a time, each part recorded while the next
    one is sent: the store's writes and the providers' answers overlap instead of adding up.
    Should a record fail, the parts not sent yet are not sent (their claims end as unknown)."""
    async with asyncio.TaskGroup() as recording:
        recorded: asyncio.Task[None] | None = None
        for start in range(0, len(claimed), SENDS_PER_RECORD):
            part = claimed[start : start + SENDS_PER_RECORD]
            outcomes = await _send_all(notify, notify.settings, part)
            results = [plan.result(token, n, outcome) for (plan, n), outcome in zip(part, outcomes, strict=True)]
            recorded = recording.create_task(_record(notify, results, now, after=recorded))


async def _record(notify: Notify, results: list[Result], now: datetime, after: asyncio.Task[None] | None) -> None:
    """Record ``results`` in one transaction, once the part before them is recorded."""
    if after is not None:
        await after
    await notify.runtime.transaction(lambda tx: record(tx, notify.settings, results, now))


async def _drop_closed_duties(notify: Notify, documents: list[Document], now: datetime) -> list[Document]:
    duty_ids = {d["duty_id"] for d in documents if d.get("duty_id")}
    if not duty_ids:
        return documents
    open_ones = await find_by_ids(notify.db[DUTIES], sorted(duty_ids), {"status": "open"}, {"_id": 1})
    still_open = {duty["_id"] for duty in open_ones}
    dropped = [d for d in documents if d.get("duty_id") and d["duty_id"] not in still_open]
    for document in dropped:
        log.info("reminder dropped: its duty is no longer open", extra={"fields": {"message": document["_id"]}})
    await messages_store.drop(notify.db, [d["_id"] for d in dropped], now, "duty_closed")
    return [d for d in documents if d not in dropped]


async def _plan(notify: Notify, documents: list[Document], now: datetime) -> list[Plan]:
    """Each message's route and text. A message in its quiet hours (a backlog, a retry, the next
    channel) waits for their end; one that cannot be rendered fails visibly."""
    recipients = await recipients_store.find_many(notify.db, (d["recipient_id"] for d in documents))
    plans: list[Plan] = []
    set_aside: dict[str, Document] = {}
    for document in documents:
        message = messages_store.to_message(document)
        if (morning := quiet_hours_end(now, message.quiet_hours)) > now:
            set_aside[message.key] = {"$set": {"next_attempt_at": morning}}
            continue
        recipient = recipients.get(message.recipient_id)
        routes = recipient.routes if recipient else (Route(Channel.INBOX),)
        try:
            title, body = render(message.template, message.variables)
        except InvalidInput as exc:
            log.error("message cannot be rendered", extra={"fields": {"message": message.key, "error": exc.message}})
            set_aside[message.key] = {"$set": {"status": "failed", "error": exc.message, "failed_at": now}}
            continue
        route = next_route(routes, set(document.get("tried", [])))
        plans.append(Plan(document, message, route, routes, title, body))
    await messages_store.update(notify.db, set_aside)
    return plans


async def _within_rate(notify: Notify, limiter: RateLimiter, plans: list[Plan], now: datetime) -> list[Plan]:
    """The plans the rates allow now: each address's per minute (a bot's own limit), then each
    channel's per second; the others are due when their window ends."""
    settings = notify.settings
    deferred: dict[str, Document] = {}
    by_address = await _within(limiter, plans, settings.rate_per_minute_per_address, 60, now, deferred)
    allowed = await _within(limiter, by_address, settings.rate_per_second, 1, now, deferred, per_address=False)
    await messages_store.update(notify.db, deferred)
    return allowed


async def _within(
    limiter: RateLimiter,
    plans: list[Plan],
    limits: dict[str, int],
    seconds: int,
    now: datetime,
    deferred: dict[str, Document],
    *,
    per_address: bool = True,
) -> list[Plan]:
    """The plans ``limits`` (by channel) allow in this window of ``seconds``, per address or per
    channel; the others are added to ``deferred``, due at the window's end."""
    groups: defaultdict[str, list[Plan]] = defaultdict(list)
    allowed: list[Plan] = []
    for plan in plans:
        channel = plan.route.channel.value
        if channel in limits:
            groups[f"{channel}:{plan.route.address}" if per_address else channel].append(plan)
        else:
            allowed.append(plan)
    due = window_end(now, seconds)
    for scope, group in groups.items():
        limit = limits[group[0].route.channel.value]
        granted = await limiter.take(scope, len(group), limit, now, seconds)
        allowed += group[:granted]
        deferred |= {plan.message.key: {"$set": {"next_attempt_at": due}} for plan in group[granted:]}
    return allowed


async def _send_all(notify: Notify, settings: Settings, claimed: list[tuple[Plan, int]]) -> list[Outcome]:
    """Send every claimed plan: inbox items in one write, the others through Apprise concurrently."""
    now = notify.clock()
    items = [plan.inbox_item(now) for plan, _ in claimed if plan.route.channel == Channel.INBOX]
    await inbox_store.put(notify.db, items)
    gate = asyncio.Semaphore(settings.send_concurrency)

    async def one(plan: Plan) -> Outcome:
        if plan.route.channel == Channel.INBOX:
            return Outcome(True, "stored in the inbox")
        async with gate:
            url = apprise_url(settings, plan.route)
            return await send(url, plan.title, plan.body, seconds=settings.send_timeout_seconds)

    return list(await asyncio.gather(*(one(plan) for plan, _ in claimed)))
