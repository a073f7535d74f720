"""Every file's search facts in memory, kept current from the people collection's change stream.

The station's server answers a search with thousands of candidates slowly: it uses a compound
index only when the index covers every field of the filter, and it fetches and sorts every
match before applying a limit, so a common surname or a country took 0.5–2.6 s among 20,000
people. A file's search facts are small, so each API process holds them all: a query is a few
set lookups and a walk in sort order, and only the page's files are then read, by id. Before
each search the index applies the changes committed since the last one, in commit order, so a
search sees every write committed before it began, whichever process made it.
"""

import asyncio
import gc
import itertools
import logging
import math
import sys
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from liaison_infra.change_feed import ChangeFeed
from liaison_infra.mongo import Document
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import OperationFailure, PyMongoError
from sortedcontainers import SortedList

from liaison_records.adapters.people_store import PEOPLE

log = logging.getLogger(__name__)

# What a search filters or sorts on; nothing personal beyond the name's tokens.
FACT_FIELDS = [
    "station_id",
    "district_id",
    "status",
    "category",
    "country",
    "hardship",
    "deputy_id",
    "household_id",
    "name_tokens",
    "birth_date",
    "sort_name",
    "updated_at",
]
NAME_FACET = "name_tokens:"
FACETED = ("station_id", "district_id", "status", "category", "country", "deputy_id", "household_id")
CHANGES_PER_FETCH = 1000
# How often the index applies new changes between searches, so a search rarely has many left.
FOLLOW_SECONDS = 0.2
# A candidate set smaller than this share of all files is sorted; a larger one is met by
# walking the files in sort order until the page is full.
SORT_SHARE = 0.1

SortKey = tuple[Any, str]


def facet(field: str, value: object) -> str:
    """How a fact is looked up: "station_id:st-1", "name_tokens:chen", …"""
    return f"{field}:{value}"


def sort_keys(document: Document) -> dict[str, SortKey]:
    """Each order a search may ask for, as a key that sorts ascending; ties go by id."""
    updated = document.get("updated_at")
    return {
        "name": (document.get("sort_name") or "", document["_id"]),
        "updated": (-updated.timestamp() if isinstance(updated, datetime) else math.inf, document["_id"]),
    }


@dataclass(frozen=True, slots=True)
class Facts:
    id: str
    # Interned strings: files share their facets' text, which keeps 100,000 files small.
    facets: tuple[str, ...]
    # The name's longest search tokens; every other token is a prefix of one of them.
    words: tuple[str, ...]
    birth_date: str | None
    keys: dict[str, SortKey]

    @classmethod
    def of(cls, document: Document) -> "Facts":
        facets = {facet(field, document[field]) for field in FACETED if document.get(field) is not None}
        facets |= {facet("hardship", flag) for flag in document.get("hardship", [])}
        tokens = sorted(document.get("name_tokens", []))
        words = [token for token, after in zip(tokens, [*tokens[1:], ""], strict=True) if not after.startswith(token)]
        return cls(
            document["_id"],
            tuple(sys.intern(name) for name in facets),
            tuple(sys.intern(word) for word in words),
            document.get("birth_date"),
            sort_keys(document),
        )


class PeopleIndex:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.db = db
        self.facts: dict[str, Facts] = {}
        self.holders: dict[str, set[str]] = defaultdict(set)  # facet → ids of the files that have it
        # Sorted lists that insert and remove in logarithmic time (a plain list moves its tail).
        self.orders: dict[str, SortedList] = {"name": SortedList(), "updated": SortedList()}
        self.words = SortedList()  # (word, id): the files whose name has a word with a prefix are a range
        self.feed: ChangeFeed | None = None
        self._lock = asyncio.Lock()

    async def catch_up(self) -> None:
        """Apply every change committed so far (loading all files on first use)."""
        async with self._lock:
            while True:
                if self.feed is None:
                    await self._load()
                    assert self.feed is not None
                try:
                    changes = await self.feed.next_batch(CHANGES_PER_FETCH, 0)
                except OperationFailure:  # the feed's cursor was dropped: resume, or load afresh
                    self.feed = await self._reopen(self.feed.resume_token)
                    continue
                for change in changes:
                    self._apply(change)
                if self.feed is not None and not changes:  # the server may send fewer than asked
                    return

    async def follow(self) -> None:
        """Keep catching up until cancelled (a bulk import's changes are applied as they commit,
        not by the first search after it)."""
        while True:
            try:
                await self.catch_up()
            except PyMongoError as exc:
                log.warning("people index cannot catch up; retrying", extra={"fields": {"error": repr(exc)}})
            await asyncio.sleep(FOLLOW_SECONDS)

    def page(
        self,
        groups: list[set[str]],
        accept: Callable[[Facts], bool],
        order: str,
        after: SortKey | None,
        limit: int,
    ) -> list[Facts]:
        """Up to ``limit`` files in ``order`` after ``after`` that hold a facet of every group
        and that ``accept`` keeps."""
        held = [[self._holders(name) for name in group] for group in groups]
        pool = min((sets[0] if len(sets) == 1 else set().union(*sets) for sets in held), key=len, default=None)

        def wanted(facts: Facts) -> bool:
            return all(any(facts.id in ids for ids in sets) for sets in held) and accept(facts)

        if pool is not None and len(pool) < SORT_SHARE * len(self.facts):
            keyed = sorted((facts.keys[order], facts) for id_ in pool if wanted(facts := self.facts[id_]))
            return [facts for key, facts in keyed if after is None or key > after][:limit]
        found: list[Facts] = []
        keys = self.orders[order]
        for key in keys.islice(keys.bisect_right(after) if after is not None else 0):
            facts = self.facts[key[1]]
            if (pool is None or facts.id in pool) and wanted(facts):
                found.append(facts)
                if len(found) == limit:
                    break
        return found

    def _holders(self, name: str) -> set[str]:
        """The ids of the files with facet ``name``; a name token is any prefix of a name's words."""
        if not name.startswith(NAME_FACET):
            return self.holders.get(name, set())
        prefix = name[len(NAME_FACET) :]
        entries = self.words.irange((prefix, ""))
        return {id_ for word, id_ in itertools.takewhile(lambda entry: entry[0].startswith(prefix), entries)}

    async def _load(self) -> None:
        # Opened before the files are read, so a change committed meanwhile is applied after.
        self.feed = await ChangeFeed.open(self.db, PEOPLE, None, full_document="updateLookup")
        self.facts.clear()
        self.holders.clear()
        loaded = [Facts.of(document) async for document in self.db[PEOPLE].find({}, FACT_FIELDS)]
        for facts in loaded:
            self._hold(facts)
        self.words = SortedList((word, facts.id) for facts in loaded for word in facts.words)
        self.orders = {order: SortedList(facts.keys[order] for facts in loaded) for order in self.orders}
        # A full garbage collection walks every tracked object: 270 ms with 100,000 files held,
        # a pause any request could meet. What is loaded now lives as long as the process.
        gc.freeze()

    async def _reopen(self, token: Document) -> ChangeFeed | None:
        try:
            return await ChangeFeed.open(self.db, PEOPLE, token, full_document="updateLookup")
        except OperationFailure:
            return None  # history pruned past the token: the next round loads every file again

    def _apply(self, change: Document) -> None:
        kind = change["operationType"]
        if kind in ("insert", "update", "replace", "delete"):
            document = change.get("fullDocument")  # the file as it is now; None once deleted
            self._remove(change["documentKey"]["_id"])
            if document is not None:
                self._put(document)
        else:  # the collection was dropped or renamed: start again from what is stored
            self.feed = None

    def _put(self, document: Document) -> None:
        facts = Facts.of(document)
        self._hold(facts)
        self.words.update((word, facts.id) for word in facts.words)
        for order, key in facts.keys.items():
            self.orders[order].add(key)

    def _hold(self, facts: Facts) -> None:
        self.facts[facts.id] = facts
        for name in facts.facets:
            self.holders[name].add(facts.id)

    def _remove(self, id_: str) -> None:
        facts = self.facts.pop(id_, None)
        if facts is None:
            return
        for name in facts.facets:
            self.holders[name].discard(id_)
        for word in facts.words:
            self.words.remove((word, id_))
        for order, key in facts.keys.items():
            self.orders[order].remove(key)
