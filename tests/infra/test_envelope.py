from datetime import UTC, datetime

from liaison_infra.envelope import Envelope

from tests.infra.support import Noted


def test_envelope_round_trips_through_bytes() -> None:
    envelope = Envelope.wrap(
        Noted(key="household-1", n=7),
        source="records",
        subject="household-1",
        station_id="st-1",
        district_id="d-1",
        correlation_id="corr-1",
    )
    again = Envelope.from_bytes(envelope.to_bytes())
    assert again == envelope
    assert again.type == "probe.noted"
    assert again.dataschema == "urn:liaison:probe.noted:v1"
    assert again.schema_version == 1
    assert again.specversion == "1.0"
    assert again.time.tzinfo is not None and again.time <= datetime.now(UTC)
    assert Noted.model_validate(again.data) == Noted(key="household-1", n=7)
