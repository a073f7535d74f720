"""Every file's search facts in memory, kept current from the people collection's change stream.

The station's server answers a search with thousands of candidates slowly: it uses a compound
index only when the index covers every field of the filter, and it fetches and sorts every
match before applying a limit, so a common surname or a country took 0.5–2.6 s among 20,000
people. A file's search facts are small, so each API process holds them all: a query is a few
set lookups and a walk in sort order. Each file's search row is held too, compressed and
without ciphertexts or search keys (~370 bytes): reading a page's 50 files by id cost the
server 10–20 ms, more than the rest of a search. Before each search the index applies the
changes committed since the last one, in commit order, so a search sees every write committed
before it began, whichever process made it.
"""

import asyncio
import gc
import heapq
import logging
import math
import sys
import zlib
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from operator import attrgetter, itemgetter
from typing import Any

import bson
from liaison_infra.change_feed import ChangeFeed
from liaison_infra.mongo import Document
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import OperationFailure, PyMongoError
from sortedcontainers import SortedList

from liaison_records.adapters.people_store import PEOPLE, search_words

log = logging.getLogger(__name__)

NAME_FACET = "name_tokens:"
FACETED = ("station_id", "district_id", "status", "category", "country", "deputy_id", "household_id")
CHANGES_PER_FETCH = 1000
# How often the index applies new changes between searches, so a search rarely has many left.
FOLLOW_SECONDS = 0.2
# A candidate set smaller than this share of all files (or found by name) is ranked; a larger
# one is met by walking the files in sort order until the page is full.
SORT_SHARE = 0.1

# What no search row shows: protected values' ciphertexts, lookup hashes and search keys
# (``sort_name`` stays: a cursor carries it). The facts are read from what is left.
NOT_IN_ROW = {"cipher", "id_number_index", "phone_index", "name_birth", "name_tokens"}
LOADED = {
    field: 0
    for field in (
        "id_number.cipher",
        "phones.cipher",
        "address.detail.cipher",
        "id_number_index",
        "phone_index",
        "name_birth",
    )
}

SortKey = tuple[Any, str]


def facet(field: str, value: object) -> str:
    """How a fact is looked up: "station_id:st-1", "name_tokens:chen", …"""
    return f"{field}:{value}"


def packed_row(document: Document) -> bytes:
    """The file as a search row reads it, compressed: ~370 bytes instead of ~1,350 stored."""
    return zlib.compress(bson.encode(_shown(document)), 1)


def _shown(value: Any) -> Any:
    if isinstance(value, dict):
        return {name: _shown(inner) for name, inner in value.items() if name not in NOT_IN_ROW}
    if isinstance(value, list):
        return [_shown(inner) for inner in value]
    return value


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
    row: bytes  # ``packed_row``

    @classmethod
    def of(cls, document: Document) -> "Facts":
        facets = {facet(field, document[field]) for field in FACETED if document.get(field) is not None}
        facets |= {facet("hardship", flag) for flag in document.get("hardship", [])}
        return cls(
            document["_id"],
            tuple(sys.intern(name) for name in facets),
            tuple(sys.intern(word) for word in search_words(document.get("name_tokens", []))),
            document.get("birth_date"),
            sort_keys(document),
            packed_row(document),
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
        accept: Callable[[Facts], bool] | None,
        order: str,
        after: SortKey | None,
        limit: int,
    ) -> list[Facts]:
        """Up to ``limit`` files in ``order`` after ``after`` that hold a facet of every group
        and that ``accept`` keeps (None: all)."""
        # Smallest first, sized by the sum of their sets: no union is built for a group that is
        # only checked (the station's or the live statuses' union copies every id).
        held = sorted(([self._holders(name) for name in group] for group in groups), key=_size)
        # A group with a facet every file holds (one station, all files active) narrows nothing:
        # each check of a candidate against it costs a lookup that misses the cache.
        held = [sets for sets in held if all(len(ids) < len(self.facts) for ids in sets)]
        # A name's files are bunched in name order (a surname's are all together): walking to
        # them took 3,700 files for "lin" among 20,000, so they are always ranked.
        named = any(name.startswith(NAME_FACET) for group in groups for name in group)
        if held and (named or _size(held[0]) < SORT_SHARE * len(self.facts)):
            return self._sorted_pool(held, accept, order, after, limit)
        return self._walk(held, accept, order, after, limit)

    def _sorted_pool(
        self,
        held: list[list[set[str]]],
        accept: Callable[[Facts], bool] | None,
        order: str,
        after: SortKey | None,
        limit: int,
    ) -> list[Facts]:
        """The page among a few candidates, narrowed and ranked by set and map operations, which
        run in C: a Python test per candidate cost 15 ms for 2,000 candidates on a busy host."""
        pool = set().union(*held[0])
        for sets in held[1:]:
            pool = set().union(*(pool.intersection(ids) for ids in sets))
        candidates: Iterable[Facts] = map(self.facts.__getitem__, pool)
        if accept is not None:
            candidates = filter(accept, candidates)
        keys: Iterable[SortKey] = map(itemgetter(order), map(attrgetter("keys"), candidates))
        if after is not None:
            keys = filter(after.__lt__, keys)
        return [self.facts[id_] for _, id_ in heapq.nsmallest(limit, keys)]

    def _walk(
        self,
        held: list[list[set[str]]],
        accept: Callable[[Facts], bool] | None,
        order: str,
        after: SortKey | None,
        limit: int,
    ) -> list[Facts]:
        """The page met by walking every file in order: for candidates too many to rank, which
        fill a page after a few hundred files."""
        found: list[Facts] = []
        keys = self.orders[order]
        for key in keys.islice(keys.bisect_right(after) if after is not None else 0):
            facts = self.facts[key[1]]
            if all(any(facts.id in ids for ids in sets) for sets in held) and (accept is None or accept(facts)):
                found.append(facts)
                if len(found) == limit:
                    break
        return found

    def rows(self, found: list[Facts]) -> list[Document]:
        """The files of ``found`` as stored, less what no search row shows (``packed_row``)."""
        options = self.db.codec_options
        return [bson.decode(zlib.decompress(facts.row), codec_options=options) for facts in found]

    def _holders(self, name: str) -> set[str]:
        """The ids of the files with facet ``name``; a name token is any prefix of a name's words."""
        if not name.startswith(NAME_FACET):
            return self.holders.get(name, set())
        prefix = name[len(NAME_FACET) :]
        # Every word with the prefix sorts before the prefix followed by the last code point.
        start, stop = self.words.bisect_left((prefix, "")), self.words.bisect_left((prefix + chr(sys.maxunicode), ""))
        return set(map(itemgetter(1), self.words.islice(start, stop)))

    async def _load(self) -> None:
        # Opened before the files are read, so a change committed meanwhile is applied after.
        self.feed = await ChangeFeed.open(self.db, PEOPLE, None, full_document="updateLookup")
        self.facts.clear()
        self.holders.clear()
        loaded = [Facts.of(document) async for document in self.db[PEOPLE].find({}, LOADED)]
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


def _size(sets: list[set[str]]) -> int:
    return sum(map(len, sets))
