"""Stations as records announces them: the weekly digest names each by its name, not its id."""

from liaison_infra.envelope import Envelope
from liaison_infra.mongo import Transaction

from liaison_notify.adapters.households_store import describe_station
from liaison_notify.adapters.records_events import OrgUnitRead

STATION = "station"


async def on_org_unit_changed(unit: OrgUnitRead, envelope: Envelope, tx: Transaction) -> None:
    """org_unit.registered / org_unit.updated of a station; districts and above are not notify's."""
    if unit.level == STATION:
        await describe_station(tx, unit.unit_id, unit.name, unit.parent_id)
