"""The dates users give are days in China: a visit logged at 01:00 in Liuzhou is dated today there,
though it is still yesterday in UTC."""

from datetime import UTC, date, datetime

import pytest
from liaison_infra import clock
from liaison_records.domain.consents import ConsentFields
from liaison_records.domain.logs import VisitFields
from liaison_records.domain.people import PersonFields
from pydantic import ValidationError

ONE_IN_THE_MORNING = datetime(2030, 2, 28, 17, 0, tzinfo=UTC)  # 1 March, 01:00 in China


@pytest.fixture
def early_morning(monkeypatch) -> None:
    monkeypatch.setattr(clock, "utc_now", lambda: ONE_IN_THE_MORNING)


def visit(on: date) -> VisitFields:
    return VisitFields.model_validate(
        {"station_id": "st-1", "kind": "household_visit", "visited_on": on, "deputy_ids": ["dep-1"]}
    )


def test_today_in_china_is_not_in_the_future(early_morning) -> None:
    assert clock.china_day() == date(2030, 3, 1)
    assert visit(date(2030, 3, 1)).visited_on == date(2030, 3, 1)
    with pytest.raises(ValidationError, match="future"):
        visit(date(2030, 3, 2))
    born = PersonFields.model_validate({"category": "relative", "name": "陈小宝", "birth_date": date(2030, 3, 1)})
    assert born.birth_date == date(2030, 3, 1)
    with pytest.raises(ValidationError, match="birth date"):
        PersonFields.model_validate({"category": "relative", "name": "陈小宝", "birth_date": date(2030, 3, 2)})


def test_a_consent_given_early_in_the_morning_may_end_that_day_in_china() -> None:
    given = {"purpose": "走访信息登记", "given_by": "本人", "given_at": ONE_IN_THE_MORNING.isoformat()}
    assert ConsentFields.model_validate({**given, "valid_until": "2030-03-01"}).valid_until == date(2030, 3, 1)
    with pytest.raises(ValidationError, match="valid_until"):
        ConsentFields.model_validate({**given, "valid_until": "2030-02-28"})
