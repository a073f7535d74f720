"""A collection's changes in commit order, read as a MongoDB change stream one batch at a time.

It runs the ``aggregate``/``getMore`` commands itself instead of PyMongo's ``ChangeStream``,
whose ``try_next`` hands out one change at a time and fetches again as soon as its buffer is
empty: under load that is one ``getMore`` per change, which costs the station's server about
as much as a write. Here each fetch returns every change committed since the last one, and
the caller decides when to fetch again.
"""

import contextlib
from dataclasses import dataclass
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import PyMongoError

from liaison_infra.mongo import Document


@dataclass
class ChangeFeed:
    db: AsyncDatabase[Document]
    collection: str
    cursor_id: int
    # Where the feed stands: after the last batch fetched.
    resume_token: Document

    @classmethod
    async def open(
        cls,
        db: AsyncDatabase[Document],
        collection: str,
        resume_after: Document | None,
        *,
        stages: list[Document] | None = None,
        full_document: str = "default",
    ) -> "ChangeFeed":
        """Follow ``collection`` from ``resume_after`` (a saved token), or from now when None;
        ``stages`` filter or shape the changes, ``full_document`` is the change stream option.

        Raises ``OperationFailure`` when the token can no longer be resumed (history pruned).
        """
        stage: Document = {"fullDocument": full_document}
        if resume_after is not None:
            stage["resumeAfter"] = resume_after
        pipeline = [{"$changeStream": stage}, *(stages or [])]
        command = {"aggregate": collection, "pipeline": pipeline, "cursor": {"batchSize": 0}}
        reply = await db.command(command, codec_options=db.codec_options)
        return cls(db, collection, reply["cursor"]["id"], reply["cursor"]["postBatchResumeToken"])

    async def next_batch(self, size: int, wait_seconds: float) -> list[Document]:
        """The changes committed since the last batch, at most ``size``, waiting up to
        ``wait_seconds`` for the first."""
        command = {"getMore": self.cursor_id, "collection": self.collection, "batchSize": size}
        # ``command`` decodes with default options unless told: keep the client's (tz-aware dates).
        reply: Any = await self.db.command(
            {**command, "maxTimeMS": int(wait_seconds * 1000)}, codec_options=self.db.codec_options
        )
        self.resume_token = reply["cursor"]["postBatchResumeToken"]
        changes: list[Document] = reply["cursor"]["nextBatch"]
        return changes

    async def close(self) -> None:
        with contextlib.suppress(PyMongoError):  # else the server drops the idle cursor by itself
            await self.db.command({"killCursors": self.collection, "cursors": [self.cursor_id]})
