"""After a key rotation, or a change of masks: every protected value sealed again under the
current key version, and masked as the current masks do.

Rotating (``make rotate-pii-key``) adds a version that encrypts from the services' next start;
the older ones still decrypt, and their blind indexes still find what they indexed. At start-up
records re-encrypts, in the background, whatever another version sealed: people's ID numbers,
phones and street addresses (with their blind indexes made again), deputies' mobiles and the ways
to reach households' relatives abroad (one an older version kept in clear is sealed). Each
document is changed only if it is still at the version read, and keeps that version and its
history: the file says the same (a household alone moves to its next version: see
``_ties_resealed``). A pass that leaves nothing behind records the key version and
``MASKS_VERSION`` (``key_state``), so later starts skip the scan; then an older key may be
retired. A pass that leaves files today's rules refuse (a value stored before a rule was made
stricter) records only those (``left``), with a warning that the older keys are still needed:
later starts check only them, until each reads again (corrected by an update) and the pass is
recorded done. A mask made to show less (an address once showed its first six characters) is
so applied to the files masked before it: their stored masked forms are what lists and masked
reads show. The same pass stores a phone kept before its spelling was normalised as it is
spelled now (the same number), with its blind index, so a lookup finds it.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

from liaison_infra.mongo import Document
from liaison_infra.pii import Keyring, PiiError
from pymongo.asynchronous.collection import AsyncCollection

from liaison_records.adapters.households_store import resealed_ties
from liaison_records.adapters.people_store import MASKS_VERSION, PEOPLE, PeopleCodec
from liaison_records.domain.files import StoredFileRefused
from liaison_records.service_layer.context import Records
from liaison_records.service_layer.deputies import DEPUTIES, HOUSEHOLDS, MOBILE_CONTEXT, protected_mobile

log = logging.getLogger(__name__)
KEY_STATE = "key_state"


async def reseal(records: Records) -> int:
    """Seal again what another key version sealed, and mask again what older masks masked;
    returns how many documents changed."""
    keyring = records.codec.keyring
    state = await records.db[KEY_STATE].find_one({"_id": "pii"}) or {}
    done = {"version": keyring.current, "masks": MASKS_VERSION}
    if all(state.get(name) == value for name, value in done.items()):
        return 0
    left = state.get("left") or {}
    retry = all(left.get(name) == value for name, value in done.items())  # only what the last pass left
    remask = retry or state.get("masks", 1) != MASKS_VERSION
    passes = {
        PEOPLE: ({}, partial(_person_resealed, records.codec, remask)),
        DEPUTIES: ({"mobile.cipher": {"$exists": True}}, partial(_mobile_resealed, keyring, remask)),
        HOUSEHOLDS: ({"overseas_ties.0": {"$exists": True}}, partial(_ties_resealed, keyring)),
    }
    results: dict[str, Resealed] = {}
    try:
        for name, (query, resealed) in passes.items():
            scope = {"_id": {"$in": left["unreadable"].get(name, [])}} if retry else query
            results[name] = await _reseal(records.db[name], scope, resealed)
    except PiiError as exc:  # a key retired while values it sealed remain: put it back in the keyring
        log.error("re-encryption stopped", extra={"fields": {"error": str(exc)}})
        return 0
    if not any(result.missed for result in results.values()):  # one changed meanwhile: the next start scans
        unreadable = {name: result.unreadable for name, result in results.items() if result.unreadable}
        await _record(records.db[KEY_STATE], done, unreadable)
    changed = sum(result.changed for result in results.values())
    log.info("re-encrypted under the current key", extra={"fields": {"documents": changed, "version": keyring.current}})
    return changed


async def _record(key_state: AsyncCollection[Document], done: Document, unreadable: dict[str, list[str]]) -> None:
    """The pass done, or only the files it left for the next start to check."""
    if not unreadable:
        await key_state.update_one({"_id": "pii"}, {"$set": done, "$unset": {"left": ""}}, upsert=True)
        return
    log.warning(
        "files today's rules refuse keep what older keys sealed: keep those keys until they are corrected",
        extra={"fields": {"files": unreadable, "version": done["version"]}},
    )
    await key_state.update_one({"_id": "pii"}, {"$set": {"left": {**done, "unreadable": unreadable}}}, upsert=True)


@dataclass
class Resealed:
    changed: int = 0
    missed: int = 0  # changed by someone else since read
    unreadable: list[str] = field(default_factory=list)  # refused by the rules of today


async def _reseal(
    collection: AsyncCollection[Document], query: Document, resealed: Callable[[Document], Document | None]
) -> Resealed:
    """Apply each document's change (None: nothing of it is sealed under another version) if it
    is still at the version read."""
    done = Resealed()
    async for document in collection.find(query):
        try:
            change = resealed(document)
        except StoredFileRefused as exc:  # left, and told
            log.error("a stored file cannot be read", extra={"fields": {"id": document["_id"], "error": str(exc)}})
            done.unreadable.append(document["_id"])
            continue
        if change is not None:
            unchanged_since = {"_id": document["_id"], "version": document["version"]}
            result = await collection.update_one(unchanged_since, {"$set": change})
            done.changed += result.modified_count
            done.missed += 1 - result.matched_count
    return done


def _person_resealed(codec: PeopleCodec, remask: bool, document: Document) -> Document | None:
    sealed = codec.sealed(document)
    stale = any(codec.keyring.needs_reencryption(token) for token in sealed)
    if not (stale or (remask and sealed)):  # nothing sealed (a tombstone): nothing masked either
        return None
    change = codec.resealed(document)
    return change if stale or not _alike(codec, change, document) else None


def _alike(codec: PeopleCodec, change: Document, document: Document) -> bool:
    """Whether a file resealed under the same key shows and indexes what it did: the same masks,
    and the same blind indexes (a phone stored before its spelling was normalised is not)."""
    indexes = ("phone_index", "id_number_index")  # left out or empty alike: a tombstone, a merged duplicate
    return codec.masks(change) == codec.masks(document) and all(
        (change.get(name) or None) == (document.get(name) or None) for name in indexes
    )


def _mobile_resealed(keyring: Keyring, remask: bool, document: Document) -> Document | None:
    token = document["mobile"]["cipher"]
    stale = keyring.needs_reencryption(token)
    if not (stale or remask):
        return None
    fresh = protected_mobile(keyring, keyring.decrypt(token, context=MOBILE_CONTEXT))
    return {"mobile": fresh} if stale or fresh["masked"] != document["mobile"].get("masked") else None


def _ties_resealed(keyring: Keyring, document: Document) -> Document | None:
    """The household moves to its next version: a change based on a read before (a ``PUT``, an
    assignment, a hand-over writes the whole household) then fails its version check instead of
    writing the older tokens back."""
    ties = resealed_ties(keyring, document["overseas_ties"])
    return None if ties is None else {"overseas_ties": ties, "version": document["version"] + 1}
