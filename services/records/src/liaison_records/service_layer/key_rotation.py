"""After a key rotation: every protected value sealed again under the current key version.

Rotating (``make rotate-pii-key``) adds a version that encrypts from the services' next start;
the older ones still decrypt, and their blind indexes still find what they indexed. At start-up
records re-encrypts, in the background, whatever another version sealed: people's ID numbers,
phones and street addresses (with their blind indexes made again) and deputies' mobiles. Each
document is changed only if it is still at the version read, and keeps that version and its
history: the file says the same. A pass that leaves nothing behind records the key version
(``key_state``), so later starts skip the scan; then an older key may be retired.
"""

import logging
from collections.abc import Callable
from functools import partial

from liaison_infra.mongo import Document
from liaison_infra.pii import Keyring, PiiError
from pymongo.asynchronous.collection import AsyncCollection

from liaison_records.adapters.people_store import PEOPLE, PeopleCodec
from liaison_records.service_layer.context import Records
from liaison_records.service_layer.deputies import DEPUTIES, MOBILE_CONTEXT

log = logging.getLogger(__name__)
KEY_STATE = "key_state"


async def reencrypt(records: Records) -> int:
    """Seal again what another key version sealed; returns how many documents changed."""
    keyring = records.codec.keyring
    if await records.db[KEY_STATE].find_one({"_id": "pii", "version": keyring.current}) is not None:
        return 0
    try:
        people = await _reseal(records.db[PEOPLE], {}, partial(_person_resealed, records.codec))
        deputies = await _reseal(
            records.db[DEPUTIES], {"mobile.cipher": {"$exists": True}}, partial(_mobile_resealed, keyring)
        )
    except PiiError as exc:  # a key retired while values it sealed remain: put it back in the keyring
        log.error("re-encryption stopped", extra={"fields": {"error": str(exc)}})
        return 0
    changed, missed = people[0] + deputies[0], people[1] + deputies[1]
    if not missed:  # a file changed meanwhile is sealed anew; the next start checks
        await records.db[KEY_STATE].update_one({"_id": "pii"}, {"$set": {"version": keyring.current}}, upsert=True)
    log.info("re-encrypted under the current key", extra={"fields": {"documents": changed, "version": keyring.current}})
    return changed


async def _reseal(
    collection: AsyncCollection[Document], query: Document, resealed: Callable[[Document], Document | None]
) -> tuple[int, int]:
    """Apply each document's change (None: nothing of it is sealed under another version) if it
    is still at the version read (a scan, once per rotation); returns how many changed, and how
    many had changed meanwhile."""
    changed = missed = 0
    async for document in collection.find(query):
        if (change := resealed(document)) is not None:
            unchanged_since = {"_id": document["_id"], "version": document["version"]}
            result = await collection.update_one(unchanged_since, {"$set": change})
            changed += result.modified_count
            missed += 1 - result.modified_count
    return changed, missed


def _person_resealed(codec: PeopleCodec, document: Document) -> Document | None:
    stale = any(codec.keyring.needs_reencryption(token) for token in codec.sealed(document))
    return codec.resealed(document) if stale else None


def _mobile_resealed(keyring: Keyring, document: Document) -> Document | None:
    token = document["mobile"]["cipher"]
    if not keyring.needs_reencryption(token):
        return None
    return {"mobile.cipher": keyring.encrypt(keyring.decrypt(token, context=MOBILE_CONTEXT), context=MOBILE_CONTEXT)}
