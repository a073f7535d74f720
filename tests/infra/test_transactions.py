"""Transactions against the real store: a transaction that keeps meeting write conflicts is a
409 to ask again and stores nothing; any other failure is raised as it is."""

import pytest
from liaison_infra.mongo import ConcurrencyConflict, run_in_transaction
from pymongo.errors import OperationFailure, PyMongoError


async def test_a_transaction_that_keeps_conflicting_is_a_concurrency_conflict_and_stores_nothing(mongo, unique) -> None:
    db = mongo[f"tx_{unique}"]
    await db.create_collection("things")  # not made inside a transaction
    attempts: list[int] = []

    async def conflicting(tx) -> None:
        attempts.append(len(attempts) + 1)
        await tx.db["things"].insert_one({"attempt": len(attempts)}, session=tx.session)
        raise OperationFailure("WriteConflict", code=112, details={"errorLabels": ["TransientTransactionError"]})

    with pytest.raises(ConcurrencyConflict):
        await run_in_transaction(mongo, db, "test", conflicting)
    assert attempts == [1, 2, 3, 4, 5] and await db["things"].count_documents({}) == 0

    async def broken(tx) -> None:
        attempts.append(0)
        raise PyMongoError("not a conflict")

    with pytest.raises(PyMongoError, match="not a conflict"):
        await run_in_transaction(mongo, db, "test", broken)
    assert attempts[5:] == [0], "tried once"

    async def unreachable(tx) -> None:  # the driver labels a lost connection transient too
        attempts.append(-1)
        raise PyMongoError("connection lost", error_labels=["TransientTransactionError"])

    with pytest.raises(PyMongoError, match="connection lost") as raised:
        await run_in_transaction(mongo, db, "test", unreachable)
    assert not isinstance(raised.value, ConcurrencyConflict) and attempts[6:] == [-1] * 5, "retried, then itself"
    await mongo.drop_database(db.name)
