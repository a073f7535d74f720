"""The in-app inbox and the delivery log through the API: mine only, marking read, the station's
alerts, reminders and their attempts within scope; and the server-sent events stream."""

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import uvicorn
from liaison_infra.auth import Role
from liaison_infra.harness.servers import Endpoints
from liaison_infra.service import installed_services, load_app_factory
from liaison_notify.adapters.households_store import STATIONS

from tests.apps import Caller, own_database, service_settings
from tests.notify.delivery_support import delivering, enqueue, reminder, scan_and_deliver


async def test_my_inbox_alerts_and_the_delivery_log_within_scope(
    endpoints: Endpoints, keys: tuple[Path, Path], unique: str, caller: Caller
) -> None:
    async with delivering(endpoints, keys, unique) as notify, own_database("notify", endpoints, keys, unique) as api:
        await enqueue(notify, [reminder(recipient="deputy:dep-1")])
        await scan_and_deliver(notify)
        me = caller(Role.DEPUTY, subject="dep-1", stations=("st-1",))
        other_deputy = caller(Role.DEPUTY, subject="dep-2", stations=("st-1",))
        staff = caller(Role.STATION_STAFF, stations=("st-1",))
        other_staff = caller(Role.STATION_STAFF, stations=("st-2",))

        mine = (await api.get("/v1/inbox", headers=me)).json()
        assert [(item["title"], item["read_at"]) for item in mine] == [("走访提醒", None)]
        item = quote(mine[0]["id"], safe="")
        assert (await api.post(f"/v1/inbox/{item}/read", headers=other_deputy)).status_code == 404
        assert (await api.post(f"/v1/inbox/{item}/read", headers=me)).status_code == 204
        assert (await api.get("/v1/inbox", headers=me)).json()[0]["read_at"] is not None
        assert (await api.get("/v1/inbox", headers=other_deputy)).json() == []
        assert [i["template"] for i in (await api.get("/v1/inbox", headers=staff)).json()] == ["no_channel_alert"]
        assert (await api.get("/v1/inbox?limit=0", headers=me)).status_code == 422

        alerts = (await api.get("/v1/alerts", headers=staff)).json()
        assert [(a["recipient_id"], a["reason"]) for a in alerts] == [("deputy:dep-1", "no_channel")]
        assert (await api.get("/v1/alerts", headers=other_staff)).json() == []
        assert (await api.get("/v1/alerts?station_id=st-1", headers=other_staff)).json() == []

        assert [m["status"] for m in (await api.get("/v1/reminders", headers=staff)).json()] == ["sent"]
        assert (await api.get("/v1/reminders", headers=other_staff)).json() == []
        assert (await api.get("/v1/reminders", headers=other_deputy)).json() == []
        assert (await api.get("/v1/reminders?status=lost", headers=staff)).status_code == 422
        # A district sees its stations' reminders; a filter outside the caller's scope finds nothing.
        await notify.db[STATIONS].insert_one({"_id": "st-1", "district_id": "d-1"})
        supervisor = caller(Role.DISTRICT_SUPERVISOR, districts=("d-1",))
        other_district = caller(Role.DISTRICT_SUPERVISOR, districts=("d-2",))
        assert len((await api.get("/v1/reminders?station_id=st-1", headers=supervisor)).json()) == 1
        assert (await api.get("/v1/reminders?station_id=st-2", headers=supervisor)).json() == []
        assert (await api.get("/v1/reminders", headers=other_district)).json() == []
        assert len((await api.get("/v1/reminders?recipient_id=deputy:dep-1", headers=me)).json()) == 1
        assert (await api.get("/v1/reminders?recipient_id=deputy:dep-1", headers=other_deputy)).json() == []
        log_path = f"/v1/reminders/{quote(reminder().key, safe='')}/deliveries"
        log = (await api.get(log_path, headers=me)).json()
        assert [(a["channel"], a["delivered"]) for a in log["attempts"]] == [("inbox", True)]
        assert [d["status"] for d in log["deliveries"]] == ["sent"]
        assert (await api.get(log_path, headers=other_deputy)).status_code == 404
        assert (await api.get(log_path, headers=other_staff)).status_code == 404


@asynccontextmanager
async def listening(app: Any) -> AsyncIterator[str]:
    """``app`` served by uvicorn on a free port (streaming needs a real server); yields its URL.

    The socket listens before uvicorn starts, so a client may connect at once: the kernel queues it.
    """
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await serving
        sock.close()


async def test_the_stream_pushes_a_new_inbox_item(
    endpoints: Endpoints, keys: tuple[Path, Path], unique: str, caller: Caller
) -> None:
    database = f"notify_{unique}"
    settings = service_settings("notify", endpoints, keys, mongodb_database=database, inbox_heartbeat_seconds=1)
    app = load_app_factory(installed_services()["notify"])(settings)
    me = caller(Role.DEPUTY, subject="dep-1")
    async with (
        listening(app) as url,
        delivering(endpoints, keys, unique) as notify,
        httpx.AsyncClient(base_url=url, timeout=30) as client,
        client.stream("GET", "/v1/inbox/stream", headers=me) as stream,
    ):
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        await enqueue(notify, [reminder(recipient="deputy:dep-2"), reminder(2, recipient="deputy:dep-1")])
        await scan_and_deliver(notify)
        event = [line async for line in _until_blank(stream.aiter_lines())]
    assert event[0] == f"id: {reminder(2).key}" and event[1] == "event: inbox"
    data = json.loads(event[2].removeprefix("data: "))
    assert (data["recipient_id"], data["title"]) == ("deputy:dep-1", "走访提醒")


async def _until_blank(lines: AsyncIterator[str]) -> AsyncIterator[str]:
    """The lines of the next event; heartbeats (a comment, then a blank line) are skipped."""
    started = False
    async for line in lines:
        if line.startswith(":") or not (line or started):
            continue
        if not line:
            return
        started = True
        yield line
