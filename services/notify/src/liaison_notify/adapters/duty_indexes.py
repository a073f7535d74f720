"""Every index the duties half of notify queries by; created at start-up, which is idempotent."""

from liaison_infra.mongo import Document
from pymongo.asynchronous.database import AsyncDatabase

from liaison_notify.adapters.duties_store import ensure_duty_indexes
from liaison_notify.adapters.households_store import ensure_read_model_indexes
from liaison_notify.adapters.rules_store import ensure_rule_indexes


async def ensure_duties_indexes(db: AsyncDatabase[Document]) -> None:
    await ensure_duty_indexes(db)
    await ensure_read_model_indexes(db)
    await ensure_rule_indexes(db)
