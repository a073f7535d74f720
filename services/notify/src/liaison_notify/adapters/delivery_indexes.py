"""Every index the delivery half queries by: messages, claims (with their attempts), recipients,
inbox, alerts."""

from liaison_infra.mongo import Document
from pymongo.asynchronous.database import AsyncDatabase

from liaison_notify.adapters import deliveries_store, inbox_store, messages_store, recipients_store


async def ensure_delivery_indexes(db: AsyncDatabase[Document]) -> None:
    for store in (messages_store, deliveries_store, recipients_store, inbox_store):
        await store.ensure_indexes(db)
