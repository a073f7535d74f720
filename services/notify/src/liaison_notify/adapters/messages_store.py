"""The ``messages`` collection: every message ever produced, keyed so a second production is a no-op."""

from collections.abc import Sequence
from dataclasses import asdict

from liaison_infra.mongo import Document, Transaction
from pymongo import UpdateOne

from liaison_notify.domain.messages import Message

MESSAGES = "messages"


def to_document(message: Message) -> Document:
    return {**asdict(message), "variables": dict(message.variables), "tags": list(message.tags), "status": "pending"}


async def enqueue(tx: Transaction, messages: Sequence[Message]) -> int:
    """Store messages not stored before, in one batched write; returns how many were new.

    An upsert that only sets on insert, not an insert: a duplicate key error would abort the
    whole transaction, while a message produced again must simply change nothing.
    """
    if not messages:
        return 0
    requests = [
        UpdateOne({"_id": message.key}, {"$setOnInsert": to_document(message)}, upsert=True) for message in messages
    ]
    result = await tx.db[MESSAGES].bulk_write(requests, ordered=False, session=tx.session)
    return result.upserted_count
