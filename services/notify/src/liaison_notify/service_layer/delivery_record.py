"""What follows each send, written for a whole batch in one transaction: the message's next step,
the attempt logged with the provider's answer (on the message when it delivered, else on its
claim, then settled), the reminder events, and the station's alerts (stored, and shown in the
station's inbox)."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from liaison_infra.mongo import Document, Transaction

from liaison_notify.adapters import deliveries_store, inbox_store, messages_store
from liaison_notify.adapters.providers import Outcome
from liaison_notify.config import Settings
from liaison_notify.domain.channels import EXTERNAL, Channel, Route
from liaison_notify.domain.messages import Message
from liaison_notify.domain.reminder_events import ReminderFailed, ReminderSent
from liaison_notify.domain.schedule import quiet_hours_end
from liaison_notify.domain.templates import render

ALERT_REASONS = {
    "no_channel": "未登记可用的外部渠道",
    "channels_failed": "各渠道均发送失败",
    "delivery_unknown": "发送结果不明，为免重复未再发送",
}


@dataclass(frozen=True)
class Result:
    message: Message
    channel: Channel
    token: str  # the claim's taker
    attempt: int
    outcome: Outcome
    fallback: Route  # where the message goes should this channel give up
    title: str = ""
    alert_reason: str | None = None  # why the inbox stands in, when it does


@dataclass
class Batch:
    claims: dict[tuple[str, str], Document]  # the claim's end and its attempt, by (claim id, token)
    messages: dict[str, Document]
    alerts: list[Document]
    alert_items: list[Document]


async def record(tx: Transaction, settings: Settings, results: list[Result], now: datetime) -> None:
    batch = Batch({}, {}, [], [])
    for result in results:
        _follow(tx, settings, batch, result, now)
    await deliveries_store.settle(tx.db, batch.claims, tx.session)
    await messages_store.update(tx.db, batch.messages, tx.session)
    await inbox_store.raise_alerts(tx.db, batch.alerts, tx.session)
    await inbox_store.put(tx.db, batch.alert_items, tx.session)


def _follow(tx: Transaction, settings: Settings, batch: Batch, result: Result, now: datetime) -> None:
    """Decide the claim's end and the message's next step from one send's outcome."""
    message, outcome = result.message, result.outcome
    attempt = {
        "attempt": result.attempt,
        "at": now,
        "delivered": outcome.delivered,
        "settled": outcome.settled,
        "answer": outcome.answer,
    }
    end: Document
    if outcome.delivered:  # the claim is left as taken: the message says which channel delivered
        sent = {"status": "sent", "channel": result.channel.value, "sent_at": now}
        send = {**attempt, "channel": result.channel.value, "token": result.token}
        batch.messages[message.key] = {"$set": sent, "$push": {"sends": send}}
        _publish(tx, ReminderSent.model_validate(_about(result)), message)
        if result.alert_reason:
            _alert(batch, result, result.alert_reason, now)
        return
    if not outcome.settled and result.channel == Channel.INBOX:  # idempotent: simply write it again
        end = {"status": "retry", "retry_at": now}
        batch.messages[message.key] = {"$set": {"next_attempt_at": now}}
    elif not outcome.settled:
        end = {"status": "unknown"}
        batch.messages[message.key] = {
            "$set": {"next_attempt_at": now, "fallback_reason": "delivery_unknown"},
            "$addToSet": {"tried": {"$each": [channel.value for channel in EXTERNAL]}},
        }
        _publish_failure(tx, result, "unknown", Channel.INBOX)
    elif result.attempt < settings.channel_attempts:
        backoff = timedelta(seconds=settings.retry_base_seconds * 2 ** (result.attempt - 1))
        retry_at = quiet_hours_end(now + backoff, message.quiet_hours)  # after the backoff, out of quiet hours
        end = {"status": "retry", "retry_at": retry_at}
        batch.messages[message.key] = {"$set": {"next_attempt_at": retry_at}}
    else:
        end = {"status": "failed"}
        batch.messages[message.key] = {
            "$set": {"next_attempt_at": now, "fallback_reason": "channels_failed"},
            "$addToSet": {"tried": result.channel.value},
        }
        _publish_failure(tx, result, "failed", result.fallback.channel)
    claim = (deliveries_store.claim_id(message.key, result.channel), result.token)
    batch.claims[claim] = deliveries_store.settling({**end, "settled_at": now, "answer": outcome.answer}, attempt)


def _about(result: Result) -> dict[str, object]:
    m = result.message
    return {
        "message_id": m.key,
        "rule_id": m.rule_id,
        "subject_id": m.subject_id,
        "occurrence": m.occurrence,
        "recipient_id": m.recipient_id,
        "template": m.template,
        "duty_id": m.duty_id,
        "channel": result.channel.value,
        "attempt": result.attempt,
    }


def _publish(tx: Transaction, event: ReminderSent | ReminderFailed, message: Message) -> None:
    tx.publish(event, subject=message.key, station_id=message.station_id, district_id=message.district_id)


def _publish_failure(tx: Transaction, result: Result, outcome: str, fallback: Channel) -> None:
    answer = result.outcome.answer
    event = ReminderFailed.model_validate(
        {**_about(result), "outcome": outcome, "answer": answer, "fallback": fallback.value}
    )
    _publish(tx, event, result.message)


def _alert(batch: Batch, result: Result, reason: str, now: datetime) -> None:
    """A recipient the outside channels could not reach: stored, and told to the station's inbox."""
    m = result.message
    station_head = f"station_head:{m.station_id}"
    batch.alerts.append(
        {
            "_id": f"{m.key}|alert",
            "message_id": m.key,
            "recipient_id": m.recipient_id,
            "reason": reason,
            "station_id": m.station_id,
            "district_id": m.district_id,
            "created_at": now,
        }
    )
    variables = {"recipient_id": m.recipient_id, "reason": ALERT_REASONS[reason], "message_title": result.title}
    text = render("no_channel_alert", variables)
    batch.alert_items.append(inbox_store.new_item(f"alert|{m.key}", station_head, m, "no_channel_alert", text, now))
