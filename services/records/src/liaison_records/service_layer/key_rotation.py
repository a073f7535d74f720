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

from liaison_infra.pii import Keyring, PiiError

from liaison_records.adapters.people_store import PEOPLE, PeopleCodec
from liaison_records.service_layer.context import Records
from liaison_records.service_layer.deputies import DEPUTIES, MOBILE_CONTEXT

log = logging.getLogger(__name__)
KEY_STATE = "key_state"


async def reencrypt(records: Records) -> int:
    """Seal again what another key version sealed; returns how many documents changed."""
    current = records.codec.keyring.current
    if await records.db[KEY_STATE].find_one({"_id": "pii", "version": current}) is not None:
        return 0
    try:
        changed, missed = await _people(records, records.codec)
        more, missed_too = await _deputies(records, records.codec.keyring)
    except PiiError as exc:  # a key retired while values it sealed remain: put it back in the keyring
        log.error("re-encryption stopped", extra={"fields": {"error": str(exc)}})
        return 0
    if not missed + missed_too:  # a file changed meanwhile is sealed anew; the next start checks
        await records.db[KEY_STATE].update_one({"_id": "pii"}, {"$set": {"version": current}}, upsert=True)
    log.info("re-encrypted under the current key", extra={"fields": {"documents": changed + more, "version": current}})
    return changed + more


async def _people(records: Records, codec: PeopleCodec) -> tuple[int, int]:
    changed = missed = 0
    async for document in records.db[PEOPLE].find({}):  # a scan, once per rotation
        if any(codec.keyring.needs_reencryption(token) for token in codec.sealed(document)):
            unchanged_since = {"_id": document["_id"], "version": document["version"]}
            result = await records.db[PEOPLE].update_one(unchanged_since, {"$set": codec.resealed(document)})
            changed += result.modified_count
            missed += 1 - result.modified_count
    return changed, missed


async def _deputies(records: Records, keyring: Keyring) -> tuple[int, int]:
    changed = missed = 0
    async for document in records.db[DEPUTIES].find({"mobile.cipher": {"$exists": True}}):
        token = document["mobile"]["cipher"]
        if keyring.needs_reencryption(token):
            mobile = keyring.encrypt(keyring.decrypt(token, context=MOBILE_CONTEXT), context=MOBILE_CONTEXT)
            unchanged_since = {"_id": document["_id"], "version": document["version"]}
            result = await records.db[DEPUTIES].update_one(unchanged_since, {"$set": {"mobile.cipher": mobile}})
            changed += result.modified_count
            missed += 1 - result.modified_count
    return changed, missed
