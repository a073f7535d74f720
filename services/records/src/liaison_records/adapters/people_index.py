"""Every file's search facts in memory, kept current from the people collection's change stream.

The station's server answers a search with thousands of candidates slowly: it uses a compound
index only when the index covers every field of the filter, and it fetches and sorts every
match before applying a limit, so a common surname or a country took 0.5–2.6 s among 20,000
people. A file's search facts are small, so each API process holds them all: a query is a few
set operations, then a ranking of the candidates or a walk in sort order. Each file has a slot,
a dense number that the sets hold, and each sort order numbers its files (``Ordering``), so both
run in C over ints: at 100,000 people, ranking 14,000 files named "chen" by their key tuples
cost 23 ms, nearly all of it cache misses. Each file's search row is held too, compressed and
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
from array import array
from bisect import bisect_left, insort
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
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
ORDERS = ("name", "updated")
FACETED = ("station_id", "district_id", "status", "category", "country", "deputy_id", "household_id")
CHANGES_PER_FETCH = 1000
# How often the index applies new changes between searches, so a search rarely has many left.
FOLLOW_SECONDS = 0.2
# A candidate set smaller than this share of all files is ranked; a larger one is met by walking
# the files in sort order until the page is full.
SORT_SHARE = 0.05
# Names' prefixes this short have their files' slots held, sorted, in an array (4 bytes a slot;
# as sets they took 51 MB among 100,000 files): "c" or "li" begins 5,000-11,000 words, and
# reaching each word's files cost ~1 µs (11 ms for "li").
HELD_PREFIX = 2
# An order's number for a file is its label shifted past its slot, so the number gives both.
SLOT_BITS = 32
SLOT_MASK = (1 << SLOT_BITS) - 1
# Labels of an order numbered afresh are this far apart; a file added between two takes the
# middle, so a gap takes 32 files before its neighbourhood is labelled afresh.
GAP = 1 << 32
# How far apart the labels of a neighbourhood labelled afresh must be at least: it widens until so.
MIN_SPACING = 1 << 8

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
    birth_date: str | None  # interned: files share a day of birth
    keys: tuple[SortKey, ...]  # in each of ``ORDERS``
    row: bytes  # ``packed_row``

    @classmethod
    def of(cls, document: Document) -> "Facts":
        facets = {facet(field, document[field]) for field in FACETED if document.get(field) is not None}
        facets |= {facet("hardship", flag) for flag in document.get("hardship", [])}
        keys = sort_keys(document)
        return cls(
            document["_id"],
            tuple(sys.intern(name) for name in facets),
            tuple(sys.intern(word) for word in search_words(document.get("name_tokens", []))),
            _interned(document.get("birth_date")),
            tuple(keys[order] for order in ORDERS),
            packed_row(document),
        )


class Ordering:
    """The files in one sort order, as their keys and as numbers that sort as the keys do.

    A number is a label with the file's slot in its low bits, held by slot and sorted. Ranking
    candidates by key tuples cost a cache miss or more each (30 ms for 18,000 among 100,000
    files); their numbers are ints in one list, and walking the sorted numbers while a set test
    keeps the candidates' runs in C. Labels follow an order maintenance scheme: a new file takes
    the middle of its neighbours' labels, and only where none is left between them is the
    neighbourhood labelled afresh."""

    def __init__(self, slots: dict[str, int]) -> None:
        self.keys = SortedList()
        self.numbers: list[int] = []  # by slot
        self.sorted = SortedList()  # the files' numbers
        self._slots = slots  # the index's: id → slot

    def fill(self, keys: Iterable[SortKey], files: int) -> None:
        """Every file at once (``files`` slots, each file's slot known)."""
        self.keys = SortedList(keys)
        self.numbers = [0] * files
        self.sorted = SortedList()
        self._label(0, len(self.keys), 0, GAP)

    def add(self, key: SortKey, slot: int) -> None:
        self.numbers.extend([0] * (slot + 1 - len(self.numbers)))
        self.keys.add(key)
        at = self.keys.bisect_left(key)
        # ``sorted`` has no number for the new file yet: its neighbours' are at at - 1 and at.
        low = self.sorted[at - 1] >> SLOT_BITS if at > 0 else None
        high = self.sorted[at] >> SLOT_BITS if at < len(self.sorted) else None
        if low is None:
            label = 0 if high is None else high - GAP
        elif high is None:
            label = low + GAP
        elif high - low > 1:
            label = (low + high) // 2
        else:
            self._spread(at)
            return
        self.numbers[slot] = _number(label, slot)
        self.sorted.add(self.numbers[slot])

    def remove(self, key: SortKey, slot: int) -> None:
        self.keys.remove(key)
        self.sorted.remove(self.numbers[slot])

    def first_after(self, after: SortKey | None) -> int:
        """Where in ``sorted`` the files after ``after`` begin (None: every file)."""
        if after is None:
            return 0
        at: int = self.keys.bisect_right(after)
        if at == len(self.keys):
            return at
        first: int = self.sorted.bisect_left(self.numbers[self._slots[self.keys[at][1]]])
        return first

    def _spread(self, at: int) -> None:
        """Label the files around position ``at`` afresh (the one there is new), evenly between
        the labels around them."""
        last_position = len(self.keys) - 1
        width = 1
        while True:
            first, last = max(0, at - width), min(last_position, at + width)
            count = last - first + 1
            low = self._label_at(first - 1) if first > 0 else None
            high = self._label_at(last + 1) if last < last_position else None
            if low is None:
                self._label(first, last + 1, 0 if high is None else high - GAP * count, GAP)
            elif high is None:
                self._label(first, last + 1, low + GAP, GAP)
            elif (high - low) // (count + 1) >= MIN_SPACING:
                step = (high - low) // (count + 1)
                self._label(first, last + 1, low + step, step)
            else:
                width *= 2
                continue
            return

    def _label(self, start: int, stop: int, first: int, step: int) -> None:
        """Label the files from position ``start`` to ``stop`` (of which only a new one has no
        number yet) ``first``, ``first + step``, …"""
        del self.sorted[start : stop - 1]  # their numbers: the new file's is not there yet
        labelled = []
        for label, key in enumerate(self.keys.islice(start, stop)):
            slot = self._slots[key[1]]
            self.numbers[slot] = _number(first + label * step, slot)
            labelled.append(self.numbers[slot])
        self.sorted.update(labelled)

    def _label_at(self, position: int) -> int:
        return self.numbers[self._slots[self.keys[position][1]]] >> SLOT_BITS


class PeopleIndex:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.db = db
        self.slots: dict[str, int] = {}  # id → slot; each slot's int is one object, shared by every set
        self.files: list[Facts | None] = []  # by slot
        self.free: list[int] = []  # slots of files gone, for the next ones
        self.holders: dict[str, set[int]] = defaultdict(set)  # facet → slots of the files that have it
        self.orders = {order: Ordering(self.slots) for order in ORDERS}
        # The names' words, sorted (the words with a prefix are a range), and each one's files'
        # slots, sorted, in an array: most words name one file or a few, and a set takes 216 bytes.
        self.words = SortedList()
        self.word_holders: dict[str, array[int]] = {}
        self.prefix_holders: dict[str, array[int]] = {}  # short prefixes (``HELD_PREFIX``)
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

    def __len__(self) -> int:
        return len(self.slots)

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
        # only checked (the station's or the live statuses' union copies every slot).
        held = sorted(([self._holders(name) for name in group] for group in groups), key=_size)
        # A group with a facet every file holds (one station, all files active) narrows nothing.
        held = [sets for sets in held if all(len(slots) < len(self.slots) for slots in sets)]
        ordering = self.orders[order]
        start = ordering.first_after(after)
        if held and _size(held[0]) < SORT_SHARE * len(self.slots):
            return self._ranked(held, accept, ordering, start, limit)
        return self._walk(held, accept, ordering, start, limit)

    def _ranked(
        self,
        held: list[list[set[int]]],
        accept: Callable[[Facts], bool] | None,
        ordering: Ordering,
        start: int,
        limit: int,
    ) -> list[Facts]:
        """The page among a few candidates, narrowed by set operations and ranked by their
        numbers in the order, in C: a heap of them is built at once and only a page's worth is
        taken off it, so ``accept`` (a Python test) sees no other candidate."""
        if start == len(ordering.sorted):
            return []
        pool = _union(held[0])
        for sets in held[1:]:
            pool = set().union(*(pool.intersection(slots) for slots in sets))
        numbers = list(map(ordering.numbers.__getitem__, pool))
        if start > 0:
            numbers = list(filter(ordering.sorted[start].__le__, numbers))
        heapq.heapify(numbers)
        found: list[Facts] = []
        while numbers and len(found) < limit:
            facts = self.files[heapq.heappop(numbers) & SLOT_MASK]
            assert facts is not None  # a slot in a set or an order is a file's
            if accept is None or accept(facts):
                found.append(facts)
        return found

    def _walk(
        self,
        held: list[list[set[int]]],
        accept: Callable[[Facts], bool] | None,
        ordering: Ordering,
        start: int,
        limit: int,
    ) -> list[Facts]:
        """The page met by walking the files in order: for candidates too many to rank, which
        fill a page soon unless bunched late in the order (a surname's, in name order): so the
        smallest group's files, if it is one set, are picked out in C, ~0.1 µs a file walked;
        the other groups and ``accept`` are checked only on those."""
        slots: Iterator[int] = map(SLOT_MASK.__and__, ordering.sorted.islice(start))
        checked = held
        if held and len(held[0]) == 1:  # (the union of a group of several would copy most files)
            slots = filter(held[0][0].__contains__, slots)
            checked = held[1:]
        found: list[Facts] = []
        for slot in slots:
            if all(any(slot in held_slots for held_slots in sets) for sets in checked):
                facts = self.files[slot]
                assert facts is not None
                if accept is None or accept(facts):
                    found.append(facts)
                    if len(found) == limit:
                        break
        return found

    def rows(self, found: list[Facts]) -> list[Document]:
        """The files of ``found`` as stored, less what no search row shows (``packed_row``)."""
        options = self.db.codec_options
        return [bson.decode(zlib.decompress(facts.row), codec_options=options) for facts in found]

    def _holders(self, name: str) -> set[int]:
        """The slots of the files with facet ``name``; a name token is any prefix of a name's words."""
        if not name.startswith(NAME_FACET):
            return self.holders.get(name, set())
        prefix = name[len(NAME_FACET) :]
        if len(prefix) <= HELD_PREFIX:
            return set(self.prefix_holders.get(prefix, ()))
        # Every word with the prefix sorts before the prefix followed by the last code point.
        start, stop = self.words.bisect_left(prefix), self.words.bisect_left(prefix + chr(sys.maxunicode))
        return set().union(*map(self.word_holders.__getitem__, self.words.islice(start, stop)))

    async def _load(self) -> None:
        # Opened before the files are read, so a change committed meanwhile is applied after.
        self.feed = await ChangeFeed.open(self.db, PEOPLE, None, full_document="updateLookup")
        self.slots.clear()
        self.holders.clear()
        self.word_holders.clear()
        self.prefix_holders.clear()
        self.free = []
        loaded: list[Facts | None] = [Facts.of(document) async for document in self.db[PEOPLE].find({}, LOADED)]
        self.files = loaded
        for slot, facts in enumerate(loaded):
            assert facts is not None
            self._hold(facts, slot)
        self.words = SortedList(self.word_holders)
        for position, ordering in enumerate(self.orders.values()):
            ordering.fill((facts.keys[position] for facts in loaded if facts is not None), len(loaded))
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
        if self.free:
            slot = self.free.pop()
            self.files[slot] = facts
        else:
            slot = len(self.files)
            self.files.append(facts)
        new_words = [word for word in facts.words if word not in self.word_holders]
        self._hold(facts, slot)
        self.words.update(new_words)
        for ordering, key in zip(self.orders.values(), facts.keys, strict=True):
            ordering.add(key, slot)

    def _hold(self, facts: Facts, slot: int) -> None:
        self.slots[facts.id] = slot
        for name in facts.facets:
            self.holders[name].add(slot)
        for word in facts.words:
            _held(self.word_holders, word, slot)
        for prefix in _prefixes(facts.words):
            _held(self.prefix_holders, prefix, slot)

    def _remove(self, id_: str) -> None:
        slot = self.slots.pop(id_, None)
        if slot is None:
            return
        facts = self.files[slot]
        assert facts is not None
        self.files[slot] = None
        self.free.append(slot)
        for name in facts.facets:
            self.holders[name].discard(slot)
        for word in facts.words:
            if not _dropped(self.word_holders, word, slot):
                self.words.remove(word)
        for prefix in _prefixes(facts.words):
            _dropped(self.prefix_holders, prefix, slot)
        for ordering, key in zip(self.orders.values(), facts.keys, strict=True):
            ordering.remove(key, slot)


def _size(sets: list[set[int]]) -> int:
    return sum(map(len, sets))


def _held(holders: "dict[str, array[int]]", name: str, slot: int) -> None:
    """Put ``slot`` in ``name``'s holders, in order (a new file's slot is mostly the last)."""
    held = holders.setdefault(name, array("i"))
    if held and held[-1] > slot:
        insort(held, slot)
    else:
        held.append(slot)


def _dropped(holders: "dict[str, array[int]]", name: str, slot: int) -> bool:
    """Take ``slot`` out of ``name``'s holders, and ``name`` out when none is left: whether any is."""
    held = holders[name]
    del held[bisect_left(held, slot)]
    if not held:
        del holders[name]
    return bool(held)


def _union(sets: list[set[int]]) -> set[int]:
    """The sets' union: the set itself when one (never changed by its reader)."""
    return sets[0] if len(sets) == 1 else set().union(*sets)


def _number(label: int, slot: int) -> int:
    return label << SLOT_BITS | slot


def _prefixes(words: Iterable[str]) -> set[str]:
    """The words' prefixes up to ``HELD_PREFIX`` long."""
    return {word[:length] for word in words for length in range(1, HELD_PREFIX + 1)}


def _interned(value: str | None) -> str | None:
    return None if value is None else sys.intern(value)
