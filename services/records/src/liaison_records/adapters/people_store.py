"""People in MongoDB: protected values encrypted, searchable only through blind indexes.

A stored file keeps, for each protected value, the ciphertext and a masked form (so lists and
masked reads never decrypt), plus keyed hashes for exact lookup. Names keep their search words
(``name_tokens``: the longest search tokens; every other token is a prefix of one), in which the
in-memory people index finds a typed prefix. No query of the store reads them, and each stored
value costs the station's server about 10 µs a write: a name's ~25 tokens with every prefix
cost an import 0.15 ms a row. For the same reason a field left empty (None or an empty list) is
not stored; reads fill it back.
"""

from collections.abc import AsyncIterator, Callable, Iterable
from copy import copy
from datetime import date
from itertools import pairwise
from typing import Any

from liaison_infra.clock import china_day
from liaison_infra.mongo import Document, drop_retired_indexes
from liaison_infra.pii import Keyring, mask_address, mask_phone
from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

from liaison_records.domain.consents import consent_view
from liaison_records.domain.files import Person, stored_file
from liaison_records.domain.idcard import mask_id_number
from liaison_records.domain.people import Status
from liaison_records.domain.phones import spelled
from liaison_records.domain.pinyin import name_keys, spelled_out

PEOPLE = "people"
ID_CONTEXT = "person.id_number"
PHONE_CONTEXT = "person.phone"
ADDRESS_CONTEXT = "person.address"
PROTECTED = {"id_number", "phones", "address"}
# The parts of a stored file that are encrypted or hold a blind index.
SEALED_PARTS = ("id_number", "phones", "phone_index", "address", "id_number_index")
ID_NUMBER_INDEX = "id_number_index_1"
# Raised whenever a mask (``liaison_infra.pii``, ``mask_id_number``) changes what it shows: the
# next start masks every stored file (and deputy's mobile) again. 2: an address shows at most
# its first two administrative divisions; 3: an ID number shows its last two characters, not four,
# and the ways to reach households' relatives abroad, kept in clear before, are sealed and masked.
MASKS_VERSION = 3
# The station's server compares each document with every key of an $in: lookups go 50 keys a query.
LOOKUP_BATCH = 50
# Each of the file's other fields as it reads when not stored (an empty one is not).
FIELD_DEFAULTS = {
    name: None if field.is_required() else field.get_default(call_default_factory=True)
    for name, field in Person.model_fields.items()
    if name not in {"id", "version", *PROTECTED}
}
# Those searches read before the people index answered them, and households' members, which
# are now found by the ids their household lists (each index costs every insert ~0.2 ms).
# A household member's file (any id; a range, since the station's server proves only ranges and
# equalities implied): a query must repeat it to be served by the partial index below.
IN_HOUSEHOLD: Document = {"household_id": {"$gt": ""}}
RETIRED_INDEXES = [
    "station_id_1_name_tokens_1_status_1",
    "station_id_1_sort_name_1__id_1",
    "district_id_1_sort_name_1__id_1",
    "station_id_1_updated_at_-1__id_1",
    "household_id_1",
]


async def ensure_people_indexes(db: AsyncDatabase[Document]) -> None:
    people = db[PEOPLE]
    # One open file per ID number, even when two registrations race past the duplicate check.
    # Sparse (files without one leave the field out), not partial: the station's server uses a
    # partial index only for queries that repeat its filter. An older version's partial index
    # has the same name, and would keep this one from being made.
    if "partialFilterExpression" in (await people.index_information()).get(ID_NUMBER_INDEX, {}):
        await people.drop_index(ID_NUMBER_INDEX)
    await people.create_index([("id_number_index", ASCENDING)], unique=True, sparse=True, name=ID_NUMBER_INDEX)
    await people.create_index([("phone_index", ASCENDING)])
    # The station's server uses a compound index only when it covers every field of the filter.
    await people.create_index([("station_id", ASCENDING), ("name_birth", ASCENDING)])
    # The daily elderly pass reads household members by birth date (a scan froze the server for
    # seconds at 100,000 people); partial, so a file outside a household costs no key.
    await people.create_index(
        [("birth_date", ASCENDING)], partialFilterExpression=IN_HOUSEHOLD, name="household_members_by_birth_date"
    )
    # Searches need no index here: the in-memory people index answers them.
    await drop_retired_indexes(people, RETIRED_INDEXES)


class PeopleCodec:
    """Turns a ``Person`` into its stored document and back."""

    def __init__(self, keyring: Keyring) -> None:
        self.keyring = keyring

    def id_number_indexes(self, id_number: str) -> list[str]:
        return self.keyring.blind_indexes(id_number, context=ID_CONTEXT)

    def phone_indexes(self, phone: str) -> list[str]:
        return self.keyring.blind_indexes(phone, context=PHONE_CONTEXT)

    def to_document(self, person: Person) -> Document:
        values = {
            name: value
            for name, value in person.model_dump(mode="json", exclude={"id", "version", *PROTECTED}).items()
            if value is not None and value != []
        }
        keys = name_keys(person.name)
        document: Document = {
            "_id": person.id,
            **values,
            "id_number": self._protect(person.id_number, ID_CONTEXT, mask_id_number),
            "phones": [self._protect(phone, PHONE_CONTEXT, mask_phone) for phone in person.phones],
            "phone_index": [self.keyring.blind_index(phone, context=PHONE_CONTEXT) for phone in person.phones],
            "address": {
                "community": person.address.community,
                "building": person.address.building,
                "detail": self._protect(person.address.detail, ADDRESS_CONTEXT, mask_address),
            },
            "name_tokens": search_words(keys.search_tokens),
            "sort_name": keys.full,
            "name_birth": name_birth(person.name, person.birth_date) if person.birth_date else None,
        }
        if person.id_number:  # left out otherwise: the unique index is sparse, and two nulls would collide
            document["id_number_index"] = self.keyring.blind_index(person.id_number, context=ID_CONTEXT)
        return document

    def to_person(self, document: Document) -> Person:
        """The stored file, or ``StoredFileRefused`` when it holds values today's rules refuse."""
        return stored_file(self.values(document))

    def values(self, document: Document) -> dict[str, Any]:
        """The stored file's values, protected ones revealed, not checked by today's rules."""
        values = {key: value for key, value in document.items() if key in Person.model_fields}
        return {**values, "id": document["_id"], **self.revealed(document)}

    def revealed(self, document: Document) -> dict[str, Any]:
        """The protected values a stored file holds, decrypted; phones as spelled now (one stored
        as typed before spellings were normalised may spell to nothing: "-")."""
        address = document.get("address") or {}
        phones = [spelled(self._reveal(phone, PHONE_CONTEXT)) for phone in document.get("phones", [])]
        return {
            "id_number": self._reveal(document.get("id_number"), ID_CONTEXT),
            "phones": [phone for phone in phones if phone],
            "address": {
                "community": address.get("community"),
                "building": address.get("building"),
                "detail": self._reveal(address.get("detail"), ADDRESS_CONTEXT),
            },
        }

    def sealed(self, document: Document) -> list[str]:
        """Every encrypted token and blind index a stored file holds."""
        indexes = [*document.get("phone_index", []), document.get("id_number_index")]
        return [value["cipher"] for value in _protected(document)] + [index for index in indexes if index]

    def masks(self, document: Document) -> list[str]:
        """The masked forms a stored file (or the sealed parts of one) holds."""
        return [value["masked"] for value in _protected(document)]

    def resealed(self, document: Document) -> Document:
        """The sealed and indexed parts a stored file holds, made again under the current key; a
        part it lacks stays away (a merged duplicate keeps its values but gave up its indexes)."""
        fresh = self.to_document(self.to_person(document))
        return {name: fresh[name] for name in SEALED_PARTS if document.get(name) and name in fresh}

    def _protect(self, value: str | None, context: str, mask: Callable[[str], str]) -> Document | None:
        return None if value is None else self.keyring.protect(value, context=context, mask=mask)

    def _reveal(self, protected: Document | None, context: str) -> Any:
        return None if protected is None else self.keyring.decrypt(protected["cipher"], context=context)


def _protected(document: Document) -> list[Document]:
    """The protected values a stored file holds, each ciphertext and masked form."""
    address = document.get("address") or {}
    values = [document.get("id_number"), *document.get("phones", []), address.get("detail")]
    return [value for value in values if value]


def name_birth(name: str, birth_date: date) -> str:
    """The key likely duplicates share: the same name and birth date."""
    return f"{name}|{birth_date}"


async def find_in(
    db: AsyncDatabase[Document], field: str, keys: Iterable[str], conditions: Document | None = None
) -> AsyncIterator[Document]:
    """The stored files whose ``field`` holds one of ``keys`` (and match ``conditions``),
    ``LOOKUP_BATCH`` keys to a query."""
    wanted = list(keys)
    for start in range(0, len(wanted), LOOKUP_BATCH):
        query = {field: {"$in": wanted[start : start + LOOKUP_BATCH]}, **(conditions or {})}
        async for document in db[PEOPLE].find(query):
            yield document


async def likely_duplicates(
    db: AsyncDatabase[Document], station_id: str, name_births: Iterable[str], phone_indexes: Iterable[str]
) -> list[Document]:
    """The files at the station, neither erased nor merged into another (the file it was merged
    into stands for it), with one of these name-and-birth keys or phone hashes: one lookup per
    kind, each served by its index (the station's server scans every file for a top-level
    ``$or``, and uses the phone's one-field index only for the phone alone)."""
    found: dict[str, Document] = {}
    for field, keys, conditions in (
        ("name_birth", name_births, {"station_id": station_id}),
        ("phone_index", phone_indexes, None),
    ):
        async for document in find_in(db, field, keys, conditions):
            kept = document.get("status") != Status.ERASED and not document.get("merged_into")
            if document["station_id"] == station_id and kept:
                found.setdefault(document["_id"], document)
    return list(found.values())


def search_words(tokens: Iterable[str]) -> list[str]:
    """The tokens that are no prefix of another, sorted: every token is a prefix of one of them."""
    return [token for token, after in pairwise([*sorted(tokens), ""]) if not after.startswith(token)]


def masked_view(document: Document) -> Document:
    """The file as most roles see it (``masked_fields``), with its name in pinyin."""
    return {**masked_fields(document), "pinyin": spelled_out(document["name"])}


def masked_fields(document: Document) -> Document:
    """The file's fields with protected values masked, nothing decrypted, and each consent with
    its state today (in China). A stored masked form is shown through today's mask (masking a
    masked form again changes nothing more), so one an older, looser mask made shows no more,
    before the next start stores it anew, or if it cannot (``key_rotation``)."""
    address = document.get("address") or {}
    detail = address.get("detail")
    id_number = document.get("id_number")
    today = china_day()
    return {
        **{name: copy(value) for name, value in FIELD_DEFAULTS.items()},  # lists not shared
        **public_fields(document),
        "consents": [consent_view(consent, today) for consent in document.get("consents", [])],
        "id_number": mask_id_number(id_number["masked"]) if id_number else None,
        "phones": [mask_phone(phone["masked"]) for phone in document.get("phones", [])],
        "address": {
            "community": address.get("community"),
            "building": address.get("building"),
            "detail": mask_address(detail["masked"]) if detail else None,
        },
    }


def public_fields(document: Document) -> Document:
    hidden = {
        "_id",
        "id_number",
        "phones",
        "address",
        "id_number_index",
        "phone_index",
        "name_tokens",
        "sort_name",
        "name_birth",
    }
    view = {key: value for key, value in document.items() if key not in hidden}
    view["id"] = document["_id"]
    return view


def age_bounds(min_age: int | None, max_age: int | None, today: date) -> dict[str, str]:
    """Birth-date bounds (ISO strings, which sort as dates) for an age range on ``today``."""
    bounds: dict[str, str] = {}
    if max_age is not None:
        bounds["$gt"] = years_before(today, max_age + 1).isoformat()
    if min_age is not None:
        bounds["$lte"] = years_before(today, min_age).isoformat()
    return bounds


def years_before(day: date, years: int) -> date:
    """The same day ``years`` earlier (28 February for a 29th whose year has none)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)
