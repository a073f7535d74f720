"""The WeCom and DingTalk channels through Apprise's own bot plugins (the default URLs), their
requests caught on the way to the bot APIs: the shape the real providers get."""

from pathlib import Path

import pytest
from liaison_infra.harness.servers import Endpoints

from tests.notify.bot_api import bot_api
from tests.notify.delivery_support import (
    advance,
    delivering,
    delivery_log,
    enqueue,
    message,
    reachable,
    reminder,
    scan_and_deliver,
)

TEXT = "每月一走访：请在2026-11-30前走访住户h-{n:04d}（2026-11）。"
BOT_URLS = {"wecom_url": "wecombot://{address}/?verify=no", "dingtalk_url": "dingtalk://{address}/?verify=no"}


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")  # the proxy's own certificate
async def test_the_bot_plugins_post_each_reminder_to_its_bot_as_the_apis_expect(
    endpoints: Endpoints, keys: tuple[Path, Path], unique: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with bot_api() as api:
        monkeypatch.setenv("HTTPS_PROXY", api.proxy_url)
        async with delivering(endpoints, keys, unique, **BOT_URLS) as notify:
            await reachable(notify, "deputy:dep-1", ("wecom", "wecomkey1"))
            await reachable(notify, "deputy:dep-2", ("dingtalk", "dingtalktoken2"))
            to_wecom, to_dingtalk = reminder(1), reminder(2, recipient="deputy:dep-2")
            await enqueue(notify, [to_wecom, to_dingtalk])

            await scan_and_deliver(notify)

            by_host = {item["host"]: item for item in api.received}
            assert len(api.received) == 2 and set(by_host) == {"qyapi.weixin.qq.com", "oapi.dingtalk.com"}
            wecom, dingtalk = by_host["qyapi.weixin.qq.com"], by_host["oapi.dingtalk.com"]
            assert (wecom["path"], wecom["query"]) == ("/cgi-bin/webhook/send", {"key": ["wecomkey1"]})
            assert wecom["body"]["msgtype"] == "text" and TEXT.format(n=1) in wecom["body"]["text"]["content"]
            assert (dingtalk["path"], dingtalk["query"]) == ("/robot/send", {"access_token": ["dingtalktoken2"]})
            assert dingtalk["body"]["msgtype"] == "text" and TEXT.format(n=2) in dingtalk["body"]["text"]["content"]
            for sent, channel in ((to_wecom, "wecom"), (to_dingtalk, "dingtalk")):
                stored = await message(notify, sent.key)
                assert (stored["status"], stored["channel"]) == ("sent", channel)


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
async def test_a_bot_apis_refusal_answered_with_http_200_is_a_failed_send_tried_again(
    endpoints: Endpoints, keys: tuple[Path, Path], unique: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with bot_api() as api:
        api.answer = {"errcode": 40014, "errmsg": "invalid access_token"}
        monkeypatch.setenv("HTTPS_PROXY", api.proxy_url)
        async with delivering(endpoints, keys, unique, **BOT_URLS) as notify:
            await reachable(notify, "deputy:dep-1", ("wecom", "wecomkey1"))
            await reachable(notify, "deputy:dep-2", ("dingtalk", "dingtalktoken2"))
            refused = {reminder(1).key: "wecom", reminder(2, recipient="deputy:dep-2").key: "dingtalk"}
            await enqueue(notify, [reminder(1), reminder(2, recipient="deputy:dep-2")])

            await scan_and_deliver(notify)
            advance(notify, seconds=60)
            await scan_and_deliver(notify)  # the second and last try on the bot

            assert len(api.received) == 4
            for key, channel in refused.items():
                assert (await message(notify, key))["status"] != "sent"
                claims, attempts = await delivery_log(notify, key)
                assert [(c["channel"], c["status"]) for c in claims] == [(channel, "failed")]
                assert [(a["channel"], a["delivered"]) for a in attempts] == [(channel, False)] * 2
                assert "errcode 40014: invalid access_token" in attempts[0]["answer"]
