"""Channels and where a recipient is reached on them, in the order the recipient prefers.

The in-app inbox needs no address and can always be written, so it closes every list: a
recipient is never left without a channel, and one with nothing else is made visible instead.
"""

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from liaison_infra.domain_errors import InvalidInput


class Channel(StrEnum):
    WECOM = "wecom"
    DINGTALK = "dingtalk"
    SMS = "sms"
    EMAIL = "email"
    INBOX = "inbox"


EXTERNAL = (Channel.WECOM, Channel.DINGTALK, Channel.SMS, Channel.EMAIL)
ADDRESS_FORMS = {
    Channel.WECOM: re.compile(r"[A-Za-z0-9_-]{1,128}"),  # a group bot's key
    Channel.DINGTALK: re.compile(r"[A-Za-z0-9_-]{1,128}"),  # a group bot's access token
    Channel.SMS: re.compile(r"1[3-9]\d{9}"),  # a mainland mobile number
    Channel.EMAIL: re.compile(r"[^@\s]{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+"),
}


@dataclass(frozen=True)
class Route:
    """One way to reach a recipient: a channel and the address on it (none for the inbox)."""

    channel: Channel
    address: str | None = None


def routes(pairs: list[tuple[str, str | None]], *, field: str = "channels") -> tuple[Route, ...]:
    """The validated ordered routes for (channel, address) pairs, the inbox appended last.

    Raises ``InvalidInput`` naming the entry at fault: an unknown channel, a channel twice, an
    address that is not one for its channel, or the inbox anywhere but last.
    """
    seen: list[Route] = []
    for index, (name, address) in enumerate(pairs):
        where = f"{field}.{index}"
        try:
            channel = Channel(name)
        except ValueError:
            raise InvalidInput("unknown_channel", f"no channel {name!r}", field=where) from None
        if any(route.channel == channel for route in seen):
            raise InvalidInput("duplicate_channel", f"{channel} is listed twice", field=where)
        if channel == Channel.INBOX:
            if index != len(pairs) - 1:
                raise InvalidInput("inbox_not_last", "the inbox is the last resort and must come last", field=where)
            continue
        if address is None or not ADDRESS_FORMS[channel].fullmatch(address):
            raise InvalidInput("invalid_address", f"{address!r} is not a {channel} address", field=where)
        seen.append(Route(channel, address))
    return (*seen, Route(Channel.INBOX))


def next_route(preferred: tuple[Route, ...], tried: set[str]) -> Route:
    """The first route not yet given up on; the inbox when every other one is."""
    return next((route for route in preferred if route.channel not in tried), Route(Channel.INBOX))


def preferred_routes(addresses: Mapping[str, str | None], preferences: Sequence[str]) -> tuple[Route, ...]:
    """Routes from contact details as another service knows them: the preferred channels first,
    then the others in the default order; unknown channels and malformed addresses are left out."""
    order = [*preferences, *EXTERNAL]
    usable = [
        Route(channel, address)
        for channel in dict.fromkeys(Channel(name) for name in order if name in set(EXTERNAL))
        if (address := addresses.get(channel)) and ADDRESS_FORMS[channel].fullmatch(address)
    ]
    return (*usable, Route(Channel.INBOX))
