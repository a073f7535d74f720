"""Bad configuration stops a service at start-up, with the variable named."""

import pytest
from liaison_infra.service import installed_services
from pydantic import ValidationError


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("RECORDS_MONGODB_URL", "postgres://nope"),
        ("RECORDS_REDIS_URL", "http://nope"),
        ("RECORDS_KAFKA_PARTITIONS", "0"),
        ("RECORDS_HTTP_PORT", "not-a-port"),
        ("RECORDS_LOG_LEVEL", "LOUD"),
        ("RECORDS_OUTBOX_BATCH_SIZE", "-3"),
    ],
)
def test_a_bad_value_fails_fast_naming_the_setting(monkeypatch, variable, value) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError) as failure:
        installed_services()["records"].load_settings()
    assert variable.removeprefix("RECORDS_").lower() in str(failure.value)


def test_each_service_reads_its_own_prefix(monkeypatch) -> None:
    monkeypatch.setenv("CASES_HTTP_PORT", "9999")
    services = installed_services()
    assert services["cases"].load_settings().http_port == 9999
    assert services["records"].load_settings().http_port == 8101
    assert services["notify"].load_settings().mongodb_database == "liaison_notify"
