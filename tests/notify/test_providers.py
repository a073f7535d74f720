"""Sending through Apprise: the provider's answer, and notifiers kept only where Apprise would
not throttle a second send."""

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
