"""Each deputy's private calendar feed: rotate its secret token, render it for whoever holds one."""

from datetime import timedelta

from liaison_infra.auth import Principal, Role
from liaison_infra.domain_errors import Forbidden, NotFound
from liaison_infra.mongo import Document

from liaison_notify.adapters import recipients_store
from liaison_notify.adapters.calendar_tokens_store import find_by_hash, replace_token
from liaison_notify.adapters.duties_store import DUTIES, from_document
from liaison_notify.domain.calendar import deputy_calendar, new_token, token_hash
from liaison_notify.domain.duties import Duty
from liaison_notify.service_layer.context import Notify

# The feed shows what is under way and ahead, and the last quarter for reference.
HISTORY = timedelta(days=92)


async def rotate_calendar_token(notify: Notify, principal: Principal) -> str:
    """A new secret for the calling deputy's feed; any earlier URL stops working at once.

    The stations the caller's token is scoped to are kept for the feed until records tells
    notify which ones the deputy serves (``deputy.registered`` / ``deputy.updated``).
    """
    if Role.DEPUTY not in principal.roles:
        raise Forbidden("not_a_deputy", "only a deputy has a calendar feed")
    token = new_token()
    await replace_token(notify.db, principal.subject, token_hash(token), sorted(principal.stations), notify.clock())
    return token


async def calendar_feed(notify: Notify, token: str) -> bytes:
    """The iCalendar text for the holder of ``token``; an unknown token is simply not found."""
    holder = await find_by_hash(notify.db, token_hash(token))
    if holder is None:
        raise NotFound("not_found", "no such calendar")
    now = notify.clock()
    since = {"window_end": {"$gte": now - HISTORY}}
    own = await _duties(notify, {"deputy_id": holder["_id"], **since})
    stations = await _stations_served(notify, holder)
    activities = await _duties(notify, {"station_id": {"$in": stations}, "kind": "quarterly_activity", **since})
    unique = {duty.id: duty for duty in [*own, *activities]}
    return deputy_calendar(list(unique.values()), now)


async def _stations_served(notify: Notify, holder: Document) -> list[str]:
    """The stations the deputy serves as records says now; those of the token until it has."""
    deputy = await recipients_store.find(notify.db, f"deputy:{holder['_id']}")
    return list(deputy["station_id"]) if deputy else list(holder["station_ids"])


async def _duties(notify: Notify, query: dict[str, object]) -> list[Duty]:
    return [from_document(document) async for document in notify.db[DUTIES].find(query)]
