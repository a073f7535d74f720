"""Sending through Apprise: the provider's answer, and notifiers kept only where Apprise would
not throttle a second send."""

import asyncio
from concurrent.futures import ThreadPoolExecutor

from liaison_notify.adapters.providers import notifier, send

from tests.notify.receivers import http_receiver


async def test_sends_to_a_gateway_share_its_notifier_and_each_arrives() -> None:
    with http_receiver() as gateway:
        url = gateway.url("sms").format(address="13800000001")
        first = await send(url, "走访提醒", "请走访住户h-0001", seconds=5)
        second = await send(url, "走访提醒", "请走访住户h-0002", seconds=5)

        assert first.delivered and second.delivered and first.settled
        assert [item["message"] for item in gateway.received] == ["请走访住户h-0001", "请走访住户h-0002"]
        assert notifier(url) is notifier(url), "kept: a json:// plugin never throttles"


def test_a_bot_or_mail_notifier_is_made_for_each_send_and_a_bad_url_refused() -> None:
    for url in ("wecombot://botkey", "dingtalk://bottoken", "mailto://user:secret@example.org"):
        assert notifier(url) is not notifier(url), f"{url}: kept, it would wait 5.5 s between two sends"
    assert notifier("nosuchscheme://x") is None


async def test_a_send_waiting_for_a_thread_behind_one_that_outlived_its_wait_is_not_given_up() -> None:
    asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(1))  # one sending thread
    with http_receiver() as slow, http_receiver() as fast:
        slow.answer_after_seconds = 2.0
        outlived = await send(slow.url("sms").format(address="13800000001"), "提醒", "慢", seconds=0.5)
        behind = await send(fast.url("sms").format(address="13800000002"), "提醒", "快", seconds=0.5)

        assert (outlived.delivered, outlived.settled) == (False, False), "unanswered in time: unknown"
        assert behind.delivered and [item["message"] for item in fast.received] == ["快"]
