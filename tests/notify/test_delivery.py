"""Delivery against real local receivers: fallback after a failing gateway, at most one send
however often deliver() runs, a batch recorded part by part, reminders of closed duties dropped,
nobody reachable made visible."""

import asyncio
from collections import Counter
from pathlib import Path

from liaison_infra.envelope import Envelope
from liaison_infra.harness.servers import Endpoints
from liaison_notify.adapters import deliveries_store, inbox_store
from liaison_notify.service_layer.context import Notify
from liaison_notify.service_layer.delivery import SENDS_PER_RECORD, deliver

from tests.notify.delivery_support import (
    advance,
    attempts_per_message,
    delivering,
    delivery_log,
    enqueue,
    message,
    reachable,
    reminder,
    scan_and_deliver,
)
from tests.notify.receivers import http_receiver, smtp_server


async def events_of(notify: Notify) -> Counter[str]:
    outbox = notify.db["outbox"].find({"topic": "notify.reminder.v1"})
    return Counter([Envelope.from_bytes(document["payload"]).type async for document in outbox])


async def test_a_failing_sms_gateway_falls_back_to_email_which_gets_it_once(
    endpoints: Endpoints, keys: tuple[Path, Path], unique: str
) -> None:
    with http_receiver() as gateway, smtp_server() as mailbox:
        gateway.failures_left = 100
        urls = {"sms_url": gateway.url("sms"), "email_url": mailbox.url()}
        async with delivering(endpoints, keys, unique, **urls) as notify:
            await reachable(notify, "deputy:dep-1", ("sms", "13800000001"), ("email", "li@example.org"))
            await enqueue(notify, [reminder()])
            key = reminder().key

            assert await scan_and_deliver(notify) == [key]
            assert gateway.refused == 1 and not mailbox.mails
            assert await scan_and_deliver(notify) == [], "a retry waits for its backoff"
            advance(notify, seconds=60)
            await scan_and_deliver(notify)  # the second and last SMS attempt
            assert gateway.refused == 2 and not mailbox.mails
            await scan_and_deliver(notify)  # email, at once
            for _ in range(3):
                advance(notify, minutes=10)
                await scan_and_deliver(notify)

            assert [(to, subject) for to, subject, _ in mailbox.mails] == [(["li@example.org"], "走访提醒")]
            assert "h-0001" in mailbox.mails[0][2]
            stored = await message(notify, key)
            assert (stored["status"], stored["channel"]) == ("sent", "email")
            claims, attempts = await delivery_log(notify, key)
            assert [(a["channel"], a["delivered"]) for a in attempts] == [
                ("sms", False),
                ("sms", False),
                ("email", True),
            ]
            assert "503" in attempts[0]["answer"]
            assert {c["channel"]: c["status"] for c in claims} == {"sms": "failed", "email": "sent"}
            assert await events_of(notify) == Counter({"reminder.failed": 1, "reminder.sent": 1})


async def test_the_same_delivery_called_twice_and_concurrently_sends_once(
    endpoints: Endpoints, keys: tuple[Path, Path], unique: str
) -> None:
    with http_receiver() as bot:
        async with delivering(endpoints, keys, unique, wecom_url=bot.url("wecom")) as notify:
            await reachable(notify, "deputy:dep-1", ("wecom", "bot-key-1"))
            batch = [reminder(n) for n in range(1, 6)]
            await enqueue(notify, batch)
            await enqueue(notify, batch)  # produced again: nothing new
            ids = [m.key for m in batch]

            await asyncio.gather(deliver(notify, ids), deliver(notify, ids), deliver(notify, ids))
            await deliver(notify, ids)  # a redelivered Celery message
            advance(notify, hours=1)
            await scan_and_deliver(notify)

            assert sorted(item["path"] for item in bot.received) == ["/wecom/bot-key-1"] * 5
            assert sorted(item["message"] for item in bot.received) == sorted(
                f"每月一走访：请在2026-11-30前走访住户h-{n:04d}（2026-11）。" for n in range(1, 6)
            )
            assert await events_of(notify) == Counter({"reminder.sent": 5})


async def test_a_batch_sent_in_parts_records_each_part_once(
    endpoints: Endpoints, keys: tuple[Path, Path], unique: str
) -> None:
    with http_receiver() as bot:
        urls_and_rate = {
            "wecom_url": bot.url("wecom"),
            "rate_per_second": {"wecom": 1000},
            "rate_per_minute_per_address": {"wecom": 1000},
        }
        async with delivering(endpoints, keys, unique, **urls_and_rate) as notify:
            await reachable(notify, "deputy:dep-1", ("wecom", "bot-key-1"))
            batch = [reminder(n) for n in range(1, 2 * SENDS_PER_RECORD + 11)]  # three parts
            await enqueue(notify, batch)
            ids = [m.key for m in batch]

            await asyncio.gather(deliver(notify, ids), deliver(notify, ids))

            assert len(bot.received) == len(batch)
            assert len({item["message"] for item in bot.received}) == len(batch)
            sent = await notify.db["messages"].count_documents({"_id": {"$in": ids}, "status": "sent"})
            assert sent == len(batch)
            assert set((await attempts_per_message(notify, ids)).values()) == {1}
            assert await events_of(notify) == Counter({"reminder.sent": len(batch)})


async def test_a_reminder_of_a_fulfilled_duty_is_dropped_not_sent(
    endpoints: Endpoints, keys: tuple[Path, Path], unique: str
) -> None:
    with http_receiver() as bot:
        async with delivering(endpoints, keys, unique, wecom_url=bot.url("wecom")) as notify:
            await reachable(notify, "deputy:dep-1", ("wecom", "bot-key-1"))
            await notify.db["duties"].insert_many(
                [{"_id": "duty-done", "status": "fulfilled"}, {"_id": "duty-open", "status": "open"}]
            )
            done, still_open = reminder(1, duty_id="duty-done"), reminder(2, duty_id="duty-open")
            await enqueue(notify, [done, still_open])

            await scan_and_deliver(notify)

            assert [item["message"] for item in bot.received] == [
                "每月一走访：请在2026-11-30前走访住户h-0002（2026-11）。"
            ]
            assert (await message(notify, done.key))["status"] == "dropped"
            assert (await message(notify, still_open.key))["status"] == "sent"


async def test_a_recipient_with_no_usable_channel_gets_the_inbox_and_the_station_an_alert(
    endpoints: Endpoints, keys: tuple[Path, Path], unique: str
) -> None:
    async with delivering(endpoints, keys, unique) as notify:
        await enqueue(notify, [reminder(recipient="deputy:dep-unknown")])

        await scan_and_deliver(notify)

        mine = await inbox_store.items_of(notify.db, ["deputy:dep-unknown"], after=None, limit=10)
        assert [item["title"] for item in mine] == ["走访提醒"]
        alerts = [a async for a in notify.db[inbox_store.ALERTS].find({})]
        assert [(a["recipient_id"], a["reason"], a["station_id"]) for a in alerts] == [
            ("deputy:dep-unknown", "no_channel", "st-1")
        ]
        station = await inbox_store.items_of(notify.db, ["station_head:st-1"], after=None, limit=10)
        assert [item["template"] for item in station] == ["no_channel_alert"]
        assert "deputy:dep-unknown" in station[0]["body"] and "走访提醒" in station[0]["body"]


async def test_attempts_an_older_version_logged_apart_move_onto_their_claims(
    endpoints: Endpoints, keys: tuple[Path, Path], unique: str, monkeypatch
) -> None:
    monkeypatch.setattr(deliveries_store, "FOLD_BATCH", 2)  # three attempts: two transactions
    async with delivering(endpoints, keys, unique) as notify:
        at = notify.clock()
        about = {"station_id": "st-1", "district_id": "d-1"}
        await notify.db[deliveries_store.DELIVERIES].insert_many(
            [
                {"_id": "m-1|sms", "channel": "sms", "status": "failed", "claimed_at": at, **about},
                {"_id": "m-1|email", "channel": "email", "status": "sent", "claimed_at": at, **about},
            ]
        )
        logged = [("sms", 1, False, "503"), ("sms", 2, False, "503"), ("email", 1, True, "250 ok")]
        await notify.db[deliveries_store.SEPARATE_ATTEMPTS].insert_many(
            [
                {"message_id": "m-1", "channel": channel, "attempt": n, "at": at.replace(second=i), "delivered": ok}
                | {"settled": True, "answer": answer, **about}
                for i, (channel, n, ok, answer) in enumerate(logged)
            ]
        )
        await deliveries_store.fold_separate_attempts(notify.runtime)
        _, attempts = await deliveries_store.of_message(notify.db, {"_id": "m-1"})
        assert [(a["channel"], a["attempt"], a["delivered"], a["answer"]) for a in attempts] == logged
        assert deliveries_store.SEPARATE_ATTEMPTS not in await notify.db.list_collection_names()
        await deliveries_store.fold_separate_attempts(notify.runtime)  # a later start: nothing to fold
        assert len((await deliveries_store.of_message(notify.db, {"_id": "m-1"}))[1]) == 3
