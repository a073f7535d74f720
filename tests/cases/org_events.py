"""Records' hierarchy as cases learns it: org_unit events applied through cases' own handler."""

from datetime import UTC, datetime

from liaison_cases.adapters.records_events import OrgUnitRead
from liaison_cases.service_layer.context import Cases
from liaison_cases.service_layer.org_units import on_org_unit_changed
from liaison_infra.envelope import Envelope


async def place(
    cases: Cases, unit_id: str, parent_id: str | None, *, at: datetime | None = None, kind: str = "registered"
) -> None:
    """Apply ``org_unit.<kind>`` saying ``unit_id`` sits under ``parent_id`` (as of ``at``)."""
    unit = OrgUnitRead(unit_id=unit_id, parent_id=parent_id)
    envelope = Envelope(
        source="records",
        type=f"org_unit.{kind}",
        subject=unit_id,
        time=at or datetime.now(UTC),
        dataschema=f"urn:liaison:org_unit.{kind}:v1",
        station_id=None,
        district_id=None,
        correlationid="corr-org",
        data={"unit_id": unit_id, "level": "unknown", "name": unit_id, "parent_id": parent_id},
    )
    await cases.runtime.transaction(lambda tx: on_org_unit_changed(unit, envelope, tx))
