"""The station hierarchy as records announces it, kept so that figures can be rolled up by city
at query time: a district moved to another city takes its stations' figures along."""

from liaison_infra.envelope import Envelope
from liaison_infra.mongo import Transaction

from liaison_cases.adapters import links_store
from liaison_cases.adapters.org_store import ORG_UNITS
from liaison_cases.adapters.records_events import OrgUnitRead


async def on_org_unit_changed(unit: OrgUnitRead, envelope: Envelope, tx: Transaction) -> None:
    """org_unit.registered and org_unit.updated: the unit's parent, unless a newer event set it."""
    await links_store.save_if_newer(tx, ORG_UNITS, unit.unit_id, {"parent_id": unit.parent_id}, envelope.time)
