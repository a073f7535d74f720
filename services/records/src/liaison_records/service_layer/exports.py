"""Exporting files to an .xlsx roster, masked for the reader's role (reveal is audited) and safe
to open: no cell is ever a formula (see ``adapters.xlsx_export``)."""

import asyncio
import io
from datetime import date
from typing import Any

from liaison_infra.auth import Principal
from liaison_infra.mongo import Document

from liaison_records.adapters.people_store import masked_fields
from liaison_records.adapters.xlsx_export import write_people
from liaison_records.adapters.xlsx_header import FIELD_HEADERS
from liaison_records.service_layer.context import READERS, REVEALERS, Records, placed, require
from liaison_records.service_layer.search import PeopleQuery, criteria, matching_people

EXPORTED_FIELDS = (
    "name",
    "gender",
    "birth_date",
    "id_number",
    "phone",
    "community",
    "building",
    "address",
    "category",
    "relation",
    "country",
    "return_year",
    "settlement",
    "former_employer",
    "employment_status",
    "hardship",
    "tags",
    "notes",
)
MAX_EXPORT_ROWS = 200_000


def _row(document: Document, revealed: Document | None) -> dict[str, Any]:
    """A stored file in the roster's field names (the same ones the import reads)."""
    shown = {**masked_fields(document), **(revealed or {})}
    address = shown.get("address") or {}
    birth = shown.get("birth_date")
    return {
        **shown,
        "birth_date": date.fromisoformat(birth) if isinstance(birth, str) else birth,
        "phone": shown.get("phones", []),
        "community": address.get("community"),
        "building": address.get("building"),
        "address": address.get("detail"),
        "employment_status": shown.get("employment"),
    }


async def export_people(
    records: Records, principal: Principal, query: PeopleQuery, today: date, *, reveal: bool
) -> bytes:
    require(principal, READERS, "export people's files")
    if reveal:
        require(principal, REVEALERS, "export unmasked personal data")
    wanted = criteria(principal, query, today)
    await records.people_index.catch_up()
    found = records.people_index.page(wanted.groups, wanted.accept, "name", None, MAX_EXPORT_ROWS)
    documents = await matching_people(records, found)
    rows = []
    for document in documents:
        rows.append(_row(document, records.codec.revealed(document) if reveal else None))
    if reveal:
        await records.audit_each(principal, "export_unmasked", [placed(document) for document in documents])
    columns = [(field, FIELD_HEADERS[field]) for field in EXPORTED_FIELDS]
    return await asyncio.to_thread(_workbook, rows, columns)


def _workbook(rows: list[dict[str, Any]], columns: list[tuple[str, str]]) -> bytes:
    buffer = io.BytesIO()
    write_people(rows, columns, buffer)
    return buffer.getvalue()
