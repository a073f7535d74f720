"""Delivery under pressure: a channel's rate shared through Redis, and a worker killed between
its claim and its record, whose message is never sent again outside the inbox (nor is an
attempt it records late lost from the log)."""

from dataclasses import replace
from datetime import time, timedelta
from pathlib import Path

from liaison_infra.harness.servers import Endpoints
from liaison_notify.adapters import deliveries_store, inbox_store
from liaison_notify.adapters.providers import Outcome
from liaison_notify.domain.channels import Channel, Route
from liaison_notify.domain.rules import QuietHours
from liaison_notify.service_layer.delivery import deliver, pending_message_ids
from liaison_notify.service_layer.delivery_record import Result, record

from tests.notify.delivery_support import (
    Clock,
    advance,
    delivering,
    delivery_log,
    enqueue,
    message,
    reachable,
    reminder,
    scan_and_deliver,
)
from tests.notify.duty_support import local
from tests.notify.receivers import http_receiver


async def test_a_channel_sends_no_more_than_its_rate_per_second(
    endpoints: Endpoints, keys: tuple[Path, Path], unique: str
) -> None:
    with http_receiver() as gateway:
        rates = {"sms": 2, "inbox": 100}
        async with delivering(endpoints, keys, unique, sms_url=gateway.url("sms"), rate_per_second=rates) as notify:
            await reachable(notify, "deputy:dep-1", ("sms", "13800000001"))
            await enqueue(notify, [reminder(n) for n in range(1, 6)])

            assert len(await scan_and_deliver(notify)) == 5
            assert len(gateway.received) == 2
            assert len(await scan_and_deliver(notify)) == 0, "the others wait for the next second"
            advance(notify, seconds=1)
            await scan_and_deliver(notify)
            assert len(gateway.received) == 4
            advance(notify, seconds=1)
            await scan_and_deliver(notify)
            assert len(gateway.received) == 5


async def test_a_bot_gets_no_more_than_its_messages_a_minute(
    endpoints: Endpoints, keys: tuple[Path, Path], unique: str
) -> None:
    with http_receiver() as bot:
        limits = {"rate_per_minute_per_address": {"wecom": 3}, "rate_per_second": {"wecom": 100}}
        async with delivering(endpoints, keys, unique, wecom_url=bot.url("wecom"), **limits) as notify:
            # Two deputies reached through one station's group bot, a third through its own.
            for deputy in ("dep-1", "dep-2"):
                await reachable(notify, f"deputy:{deputy}", ("wecom", "station-bot"))
            await reachable(notify, "deputy:dep-3", ("wecom", "own-bot"))
            shared = [reminder(n, recipient=f"deputy:dep-{1 + n % 2}") for n in range(1, 6)]
            await enqueue(notify, [*shared, reminder(9, recipient="deputy:dep-3")])

            await scan_and_deliver(notify)
            assert sorted(item["path"] for item in bot.received) == ["/wecom/own-bot"] + ["/wecom/station-bot"] * 3
            advance(notify, seconds=30)
            assert await scan_and_deliver(notify) == [], "the others wait for the next minute"
            advance(notify, seconds=30)
            await scan_and_deliver(notify)
            assert len(bot.received) == 6


async def test_a_worker_killed_mid_send_is_never_resent_outside_the_inbox(
    endpoints: Endpoints, keys: tuple[Path, Path], unique: str
) -> None:
    with http_receiver() as bot:
        async with delivering(endpoints, keys, unique, wecom_url=bot.url("wecom"), claim_lease_seconds=120) as notify:
            await reachable(notify, "deputy:dep-1", ("wecom", "bot-key-1"), ("sms", "13800000001"))
            await enqueue(notify, [reminder()])
            key = reminder().key
            # A worker claimed the WeCom send, then died before recording what happened.
            claim = deliveries_store.Claim(key, "wecom", "st-1", "d-1")
            await deliveries_store.claim(notify.db, [claim], notify.clock(), timedelta(seconds=120))

            await deliver(notify, [key])  # the task redelivered while the lease runs
            assert bot.received == []
            advance(notify, seconds=121)
            await scan_and_deliver(notify)

            assert bot.received == [], "neither WeCom again nor the next outside channel"
            stored = await message(notify, key)
            assert (stored["status"], stored["channel"]) == ("sent", "inbox")
            claims, attempts = await delivery_log(notify, key)
            assert {c["channel"]: c["status"] for c in claims} == {"wecom": "unknown", "inbox": "sent"}
            assert "lease" in attempts[0]["answer"]
            alert = await notify.db[inbox_store.ALERTS].find_one({"message_id": key})
            assert alert is not None and alert["reason"] == "delivery_unknown"
            assert await pending_message_ids(notify, notify.clock() + timedelta(days=1), 10) == []


async def test_a_send_lost_on_a_channel_since_dropped_is_not_made_again_on_the_new_one(
    endpoints: Endpoints, keys: tuple[Path, Path], unique: str
) -> None:
    with http_receiver() as gateway:
        urls = {"wecom_url": gateway.url("wecom"), "sms_url": gateway.url("sms")}
        async with delivering(endpoints, keys, unique, claim_lease_seconds=120, **urls) as notify:
            await reachable(notify, "deputy:dep-1", ("wecom", "bot-key-1"))
            await enqueue(notify, [reminder()])
            key = reminder().key
            claim = deliveries_store.Claim(key, "wecom", "st-1", "d-1")  # a worker took WeCom, then died
            await deliveries_store.claim(notify.db, [claim], notify.clock(), timedelta(seconds=120))
            await reachable(notify, "deputy:dep-1", ("sms", "13800000001"))  # meanwhile: SMS only
            advance(notify, seconds=121)

            await scan_and_deliver(notify)

            assert gateway.received == [], "WeCom may have it: no SMS as well"
            stored = await message(notify, key)
            assert (stored["status"], stored["channel"]) == ("sent", "inbox")
            claims, _ = await delivery_log(notify, key)
            assert {c["channel"]: c["status"] for c in claims} == {"wecom": "unknown", "inbox": "sent"}


async def test_a_worker_recording_after_its_lease_ran_out_loses_no_attempt_from_the_log(
    endpoints: Endpoints, keys: tuple[Path, Path], unique: str
) -> None:
    async with delivering(endpoints, keys, unique, claim_lease_seconds=120) as notify:
        await reachable(notify, "deputy:dep-1", ("wecom", "bot-key-1"))
        await enqueue(notify, [reminder()])
        key = reminder().key
        claim = deliveries_store.Claim(key, "wecom", "st-1", "d-1")
        token, _ = await deliveries_store.claim(notify.db, [claim], notify.clock(), timedelta(seconds=120))
        advance(notify, seconds=121)
        await scan_and_deliver(notify)  # the lease ran out: unknown, and the inbox stands in

        # The slow worker comes back with WeCom's answer and records it with the token it took.
        advance(notify, seconds=1)
        late = Result(reminder(), Channel.WECOM, token, 1, Outcome(True, "errcode 0"), Route(Channel.INBOX))
        await notify.runtime.transaction(lambda tx: record(tx, notify.settings, [late], notify.clock()))

        _, attempts = await delivery_log(notify, key)
        assert [(a["channel"], a["delivered"], a["settled"]) for a in attempts] == [
            ("wecom", False, False),
            ("inbox", True, True),
            ("wecom", True, True),
        ]
        assert "lease" in attempts[0]["answer"] and attempts[2]["answer"] == "errcode 0"


async def test_a_send_left_unanswered_is_unknown_and_never_repeated(
    endpoints: Endpoints, keys: tuple[Path, Path], unique: str
) -> None:
    with http_receiver() as slow_bot, http_receiver() as gateway:
        slow_bot.answer_after_seconds = 2
        urls = {"dingtalk_url": slow_bot.url("dingtalk"), "sms_url": gateway.url("sms"), "send_timeout_seconds": 0.5}
        async with delivering(endpoints, keys, unique, **urls) as notify:
            await reachable(notify, "deputy:dep-1", ("dingtalk", "token-1"), ("sms", "13800000001"))
            await enqueue(notify, [reminder()])

            for _ in range(3):
                await scan_and_deliver(notify)
                advance(notify, minutes=10)

            stored = await message(notify, reminder().key)
            assert (stored["status"], stored["channel"]) == ("sent", "inbox")
            claims, _ = await delivery_log(notify, reminder().key)
            assert {c["channel"]: c["status"] for c in claims} == {"dingtalk": "unknown", "inbox": "sent"}
            assert gateway.received == [], "no other outside channel either: the bot may well have it"
    # Closing the receiver waits for its late answer: the bot got the message, exactly once.
    assert [item["path"] for item in slow_bot.received] == ["/dingtalk/token-1"]


async def test_a_message_due_in_its_quiet_hours_waits_for_their_end(
    endpoints: Endpoints, keys: tuple[Path, Path], unique: str
) -> None:
    with http_receiver() as gateway:
        async with delivering(endpoints, keys, unique, sms_url=gateway.url("sms")) as notify:
            await reachable(notify, "deputy:dep-1", ("sms", "13800000001"))
            late = replace(reminder(1), quiet_hours=QuietHours(start=time(20), end=time(7, 30)))
            await enqueue(notify, [reminder(2), late])
            notify.clock = Clock(local(2026, 11, 20, 20, 30))  # a backlog, delivered in the evening

            await scan_and_deliver(notify)

            assert len(gateway.received) == 1, "the default quiet hours begin at 21:00"
            assert (await message(notify, late.key))["next_attempt_at"] == local(2026, 11, 21, 7, 30)
            notify.clock = Clock(local(2026, 11, 21, 7, 29))
            assert await scan_and_deliver(notify) == [] and len(gateway.received) == 1
            notify.clock = Clock(local(2026, 11, 21, 7, 30))
            await scan_and_deliver(notify)
            assert len(gateway.received) == 2 and (await message(notify, late.key))["status"] == "sent"


async def test_each_retry_waits_twice_as_long_as_the_one_before(
    endpoints: Endpoints, keys: tuple[Path, Path], unique: str
) -> None:
    with http_receiver() as gateway:
        gateway.failures_left = 100
        settings = {"sms_url": gateway.url("sms"), "channel_attempts": 4, "retry_base_seconds": 60}
        async with delivering(endpoints, keys, unique, **settings) as notify:
            await reachable(notify, "deputy:dep-1", ("sms", "13800000001"))
            await enqueue(notify, [reminder()])
            waits = []
            for attempt in range(1, 4):
                await scan_and_deliver(notify)
                assert gateway.refused == attempt
                retry_at = (await message(notify, reminder().key))["next_attempt_at"]
                waits.append((retry_at - notify.clock()).total_seconds())
                notify.clock = Clock(retry_at - timedelta(seconds=1))
                assert await scan_and_deliver(notify) == [], "nothing before the backoff ends"
                notify.clock = Clock(retry_at)
            assert waits == [60, 120, 240]


async def test_a_retry_falling_in_quiet_hours_waits_for_the_morning(
    endpoints: Endpoints, keys: tuple[Path, Path], unique: str
) -> None:
    with http_receiver() as gateway:
        gateway.failures_left = 1
        async with delivering(endpoints, keys, unique, sms_url=gateway.url("sms")) as notify:
            await reachable(notify, "deputy:dep-1", ("sms", "13800000001"))
            notify.clock = Clock(local(2026, 11, 20, 20, 59))  # the retry would come at 21:00
            await enqueue(notify, [reminder()])

            await scan_and_deliver(notify)

            assert (await message(notify, reminder().key))["next_attempt_at"] == local(2026, 11, 21, 8)
            assert await pending_message_ids(notify, local(2026, 11, 21, 7, 59), 10) == []
