"""Sending through Apprise: one URL per channel and address, the provider's answer kept.

Each channel is an Apprise URL template in the settings (``NOTIFY_WECOM_URL`` …) with an
``{address}`` placeholder. WeCom (``wecombot://KEY``) and DingTalk (``dingtalk://TOKEN``) bots
post to hosts fixed in Apprise's plugins (``notify_url`` = qyapi.weixin.qq.com,
oapi.dingtalk.com), with no URL parameter to change them. So a private deployment (政务微信) or a
test receiver is reached with Apprise's generic ``json://host/path/{address}`` instead, not by
patching the plugins; Apprise's JSON can rename and drop its fields (``?:message=content``) but
not nest them as the bots' ``{"text": {"content": …}}``, so such an endpoint (a relay, or the
tests' receiver) takes Apprise's shape. The SMS gateway is ``json://`` or ``form://`` to the
gateway's URL; email is ``mailto://`` / ``mailtos://`` with ``smtp=``, port and ``mode=``.

Apprise blocks, so each send runs in a thread of the loop's default executor (a worker sizes it
to ``send_concurrency``), and without Apprise's timeouts (``service_timeout=0``, none per call):
with one, Apprise hands the call to its shared pool of ``cores + 4`` threads (6 here) and counts
the wait there against it, so behind a provider answering in a second the sends queued beyond
six timed out unsent. Our wait ends after the timeout instead: such a send is unsettled, it may
have reached the provider, and must not be repeated blindly. Apprise's result says what the
provider answered (the log lines of that one call). (A plugin's own socket timeout is reported
by Apprise as a plain failure and so retried; none of these providers takes an idempotency key
that would make a retry safe, so the call timeout stays below the plugins'.)

The WeCom and DingTalk bot APIs refuse a message (a wrong key, a bot over its limit) with HTTP
200 and ``{"errcode": 40014, "errmsg": …}``, and their plugins look at the status only: such a
send is a failure here (``_BotRequests``), retried or passed on as any other.
"""

import asyncio
import threading
from collections import OrderedDict
from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import quote

import apprise
import requests
from apprise.plugins import dingtalk, wecombot

from liaison_notify.config import Settings
from liaison_notify.domain.channels import Channel, Route

# Notifiers whose plugins never throttle (Apprise's json:// and form://: SMS gateways) are kept
# per URL, the last used ones: making one costs about 1 ms of CPU, a fifth of a send (measured
# apart), and a deputy gets a reminder per household. The others are made for each send: a bot or
# mail notifier used twice waits 5.5 s in between (Apprise's throttle of an instance), where our
# own rate limits stand in. A plugin keeps no state of a send, so concurrent sends may share one.
KEPT_NOTIFIERS = 4096  # ~2.4 KB each
# Apprise then calls the plugin in the caller's thread (see above).
UNTIMED = apprise.AppriseAsset(service_timeout=0)
_kept: OrderedDict[str, apprise.Apprise] = OrderedDict()


@dataclass(frozen=True)
class Outcome:
    delivered: bool
    answer: str
    settled: bool = True  # False: no answer in time; the provider may have got it


def apprise_url(settings: Settings, route: Route) -> str:
    templates = {
        Channel.WECOM: settings.wecom_url,
        Channel.DINGTALK: settings.dingtalk_url,
        Channel.SMS: settings.sms_url,
        Channel.EMAIL: settings.email_url,
    }
    return templates[route.channel].format(address=quote(route.address or "", safe=""))


class _BotRequests(threading.local):
    """``requests`` as the bot plugins see it: the answer to the last post of this thread (a
    send runs in one thread, Apprise calling the plugin there) is kept, to read its errcode."""

    def __init__(self) -> None:
        self.answer: requests.Response | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(requests, name)

    def post(self, *args: Any, **kwargs: Any) -> requests.Response:
        self.answer = requests.post(*args, **kwargs)
        return self.answer

    def refusal(self) -> str | None:
        """The errcode and errmsg of a bot API's refusal in the answer of this thread's send, if any."""
        answer, self.answer = self.answer, None
        try:
            body = answer.json() if answer is not None else None
        except ValueError:  # not JSON: not a bot API's answer
            return None
        if isinstance(body, dict) and body.get("errcode", 0) != 0:
            return f"errcode {body['errcode']}: {body.get('errmsg', '')}"
        return None


_bot_requests = _BotRequests()


@cache
def _read_bot_answers() -> None:
    for plugin in (wecombot, dingtalk):
        setattr(plugin, "requests", _bot_requests)  # noqa: B010 (the plugins' module, not ours)


def notifier(url: str) -> apprise.Apprise | None:
    """The notifier of ``url``: a kept one when its plugin never throttles; None if not valid."""
    _read_bot_answers()
    if (kept := _kept.get(url)) is not None:
        _kept.move_to_end(url)
        return kept
    made = apprise.Apprise(asset=UNTIMED)
    if not made.add(url):
        return None
    if all(plugin.request_rate_per_sec <= 0 for plugin in made):
        _kept[url] = made
        if len(_kept) > KEPT_NOTIFIERS:
            _kept.popitem(last=False)
    return made


async def send(url: str, title: str, body: str, *, seconds: float) -> Outcome:
    """Send, waiting ``seconds`` at most for the provider's answer once a thread has taken the
    send: one waiting for a thread (behind sends that outlived theirs) has not begun, and is not
    given up as unknown."""
    sender = notifier(url)
    if sender is None:
        return Outcome(False, "the channel's Apprise URL is not valid")
    loop = asyncio.get_running_loop()
    started = asyncio.Event()

    def sending() -> tuple[apprise.AppriseResult, str | None]:
        loop.call_soon_threadsafe(started.set)
        _bot_requests.answer = None  # an earlier send's, in this thread
        result = sender.notify(body=body, title=title, body_format=apprise.NotifyFormat.TEXT)
        return result, _bot_requests.refusal()

    answered = loop.run_in_executor(None, sending)
    await started.wait()
    try:
        async with asyncio.timeout(seconds):
            result, refusal = await answered
    except TimeoutError:
        return Outcome(False, f"no answer within {seconds:g}s", settled=False)
    if refusal is not None:
        return Outcome(False, f"the bot API refused it: {refusal}")
    answer = " ".join(entry.message for entry in result.logs())[:1000]
    return Outcome(bool(result), answer or result.status.name.lower())
