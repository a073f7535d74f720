"""Dead letters: events a consumer gave up on, kept in MongoDB (the source of truth) and
mirrored to ``<group>.deadletter.v1``, and events of the service's outbox the broker refused for
good (``record_unpublished``, kept in MongoDB only). Once the cause is fixed they are re-driven to
their original topic, oldest first, where the inbox still guards against double application.
Erasure deletes or redacts them as it does the outbox's (``liaison_infra.mongo``)."""

import argparse
import asyncio
import json
import sys
from datetime import UTC, datetime
from typing import Any

from aiokafka import ConsumerRecord
from aiokafka.errors import KafkaError
from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

from liaison_infra.envelope import Envelope
from liaison_infra.kafka import make_producer
from liaison_infra.mongo import DEADLETTERS, Document, connect
from liaison_infra.settings import ServiceSettings


def deadletter_topic(group_id: str) -> str:
    return f"{group_id}.deadletter.v1"


class DeadLetters:
    def __init__(self, db: AsyncDatabase[Document], group_id: str) -> None:
        self.collection = db[DEADLETTERS]
        self.group_id = group_id

    async def ensure_indexes(self) -> None:
        await self.collection.create_index([("group", ASCENDING), ("redriven_at", ASCENDING), ("dead_at", ASCENDING)])

    async def record(
        self, record: ConsumerRecord[bytes, bytes], envelope: Envelope | None, error: Exception, attempts: int
    ) -> Document:
        letter: Document = {
            "_id": f"{self.group_id}:{record.topic}:{record.partition}:{record.offset}",
            "topic": record.topic,
            "partition": record.partition,
            "offset": record.offset,
            "key": record.key,
            "payload": record.value,
            "event_id": envelope.id if envelope else None,
            "type": envelope.type if envelope else None,
            "attempts": attempts,
        }
        return await self._keep(letter, error)

    async def record_unpublished(self, event: Document, error: Exception) -> Document:
        """An outbox event the broker refused for good (too large): kept here rather than retried
        forever, which would hold back every later event of the service."""
        letter: Document = {
            "_id": f"{self.group_id}:outbox:{event['_id']}",
            "topic": event["topic"],
            "partition": None,
            "offset": None,
            "key": event["key"].encode(),
            "payload": event["payload"],
            "event_id": event["_id"],
            "type": Envelope.from_bytes(event["payload"]).type,
            "attempts": 1,
        }
        return await self._keep(letter, error)

    async def _keep(self, letter: Document, error: Exception) -> Document:
        kept = {
            **letter,
            "group": self.group_id,
            "error": f"{type(error).__name__}: {error}"[:2000],
            "dead_at": datetime.now(UTC),
            "redriven_at": None,
        }
        await self.collection.replace_one({"_id": kept["_id"]}, kept, upsert=True)
        return kept

    async def waiting(self) -> list[Document]:
        return (
            await self.collection.find({"group": self.group_id, "redriven_at": None}, {"payload": 0})
            .sort([("group", 1), ("redriven_at", 1), ("dead_at", 1)])
            .to_list()
        )

    async def redrive(self, settings: ServiceSettings, ids: list[str] | None) -> tuple[int, int]:
        """Publish the chosen waiting letters (all when ``ids`` is None) to their topics again,
        oldest first: how many went, and how many the broker refused again (they stay waiting)."""
        query: dict[str, Any] = {"group": self.group_id, "redriven_at": None}
        if ids is not None:
            query["_id"] = {"$in": ids}
        letters = await self.collection.find(query).sort("dead_at", 1).to_list()
        producer = make_producer(settings)
        await producer.start()
        refused = 0
        try:
            for letter in letters:
                try:
                    await producer.send_and_wait(letter["topic"], letter["payload"], key=letter["key"])
                except KafkaError as error:
                    refused += 1
                    sys.stderr.write(f"{letter['_id']}: {type(error).__name__}: {error}\n")
                    continue
                await self.collection.update_one({"_id": letter["_id"]}, {"$set": {"redriven_at": datetime.now(UTC)}})
        finally:
            await producer.stop()
        return len(letters) - refused, refused


def main(settings: ServiceSettings, argv: list[str] | None = None) -> None:
    """``list`` prints waiting letters as JSON lines; ``redrive [ID ...]`` re-publishes them."""
    parser = argparse.ArgumentParser(prog=f"{settings.service_name}-deadletters")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="dead letters not yet re-driven")
    redrive = commands.add_parser("redrive", help="re-publish letters to their original topic")
    redrive.add_argument("ids", nargs="*", help="letter ids; all waiting letters when none are given")
    args = parser.parse_args(argv)
    asyncio.run(_run(settings, args.command, args.ids if args.command == "redrive" else []))


async def _run(settings: ServiceSettings, command: str, ids: list[str]) -> None:
    client = connect(settings.mongodb_url)
    try:
        letters = DeadLetters(client[settings.mongodb_database], settings.service_name)
        if command == "list":
            for letter in await letters.waiting():
                sys.stdout.write(json.dumps(letter, default=str, ensure_ascii=False) + "\n")
        else:
            sent, refused = await letters.redrive(settings, ids or None)
            sys.stdout.write(f"re-drove {sent} dead letters; {refused} refused again, still waiting\n")
    finally:
        await client.close()
