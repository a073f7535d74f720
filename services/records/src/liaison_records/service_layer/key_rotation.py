"""After a key rotation, or a change of masks: every protected value sealed again under the
current key version, and masked as the current masks do.

Rotating (``make rotate-pii-key``) adds a version that encrypts from the services' next start;
the older ones still decrypt, and their blind indexes still find what they indexed. At start-up
records re-encrypts, in the background, whatever another version sealed: people's ID numbers,
phones and street addresses (with their blind indexes made again) and deputies' mobiles. Each
document is changed only if it is still at the version read, and keeps that version and its
history: the file says the same. A pass that leaves nothing behind records the key version
and ``MASKS_VERSION`` (``key_state``), so later starts skip the scan; then an older key may be
retired, unless the pass left files that today's rules refuse (a value stored before a rule was
made stricter): it names them (``unreadable``, each logged), and later starts check only those
until each reads again (staff correct it through the API, which seals it anew). A mask made to
show less (an address once showed its first six characters) is so applied to the files masked
before it: their stored masked forms are what lists and masked reads show. The same pass stores
a phone kept before its spelling was normalised as it is spelled now (the same number), with
its blind index, so a lookup finds it.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

from liaison_infra.mongo import Document
from liaison_infra.pii import Keyring, PiiError
from pydantic import ValidationError
from pymongo.asynchronous.collection import AsyncCollection

from liaison_records.adapters.people_store import MASKS_VERSION, PEOPLE, PeopleCodec
from liaison_records.service_layer.context import Records
from liaison_records.service_layer.deputies import DEPUTIES, MOBILE_CONTEXT, protected_mobile

log = logging.getLogger(__name__)
KEY_STATE = "key_state"


async def reseal(records: Records) -> int:
    """Seal again what another key version sealed, and mask again what older masks masked;
    returns how many documents changed."""
    keyring = records.codec.keyring
    state = await records.db[KEY_STATE].find_one({"_id": "pii"}) or {}
    done = {"version": keyring.current, "masks": MASKS_VERSION}
    passed = all(state.get(name) == value for name, value in done.items())
    left: list[str] = state.get("unreadable", [])
    if passed and not left:
        return 0
    remask = passed or state.get("masks", 1) != MASKS_VERSION  # the files left missed a whole pass
    files = {"_id": {"$in": left}} if passed else {}
    mobiles = {"mobile.cipher": {"$exists": True}}
    try:
        people = await _reseal(records.db[PEOPLE], files, partial(_person_resealed, records.codec, remask))
        deputies = Resealed()
        if not passed:
            deputies = await _reseal(records.db[DEPUTIES], mobiles, partial(_mobile_resealed, keyring, remask))
    except PiiError as exc:  # a key retired while values it sealed remain: put it back in the keyring
        log.error("re-encryption stopped", extra={"fields": {"error": str(exc)}})
        return 0
    if not people.missed + deputies.missed:  # a file changed meanwhile is sealed anew; the next start checks
        unreadable = {"unreadable": people.unreadable}
        await records.db[KEY_STATE].update_one({"_id": "pii"}, {"$set": done | unreadable}, upsert=True)
    changed = people.changed + deputies.changed
    log.info("re-encrypted under the current key", extra={"fields": {"documents": changed, "version": keyring.current}})
    return changed


@dataclass
class Resealed:
    changed: int = 0
    missed: int = 0  # changed by someone else since read
    unreadable: list[str] = field(default_factory=list)  # refused by the rules of today


async def _reseal(
    collection: AsyncCollection[Document], query: Document, resealed: Callable[[Document], Document | None]
) -> Resealed:
    """Apply each document's change (None: nothing of it is sealed under another version) if it
    is still at the version read (a scan, once per rotation)."""
    done = Resealed()
    async for document in collection.find(query):
        try:
            change = resealed(document)
        except ValidationError as exc:  # stored under rules since made stricter: left, and told
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
    stale = any(codec.keyring.needs_reencryption(token) for token in codec.sealed(document))
    if not (stale or remask):
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
