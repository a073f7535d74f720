"""Which duties a station and its households owe on a given day, under the rules in force."""

from datetime import date

from liaison_infra.mongo import Document, Transaction

from liaison_notify.adapters import duties_store
from liaison_notify.adapters.rules_store import RuleBook
from liaison_notify.domain.duties import Duty
from liaison_notify.domain.events import DutyCreated, about
from liaison_notify.domain.periods import Window, windows_under_way
from liaison_notify.domain.rules import Rule, RuleKind


class Plans:
    """The enabled rules of each station with their windows under way, worked out once per station."""

    def __init__(self, book: RuleBook, today: date) -> None:
        self.book = book
        self.today = today
        self.cache: dict[str, list[tuple[Rule, Window]]] = {}

    def _all(self, station_id: str, district_id: str | None) -> list[tuple[Rule, Window]]:
        if station_id not in self.cache:
            self.cache[station_id] = [
                (rule, window)
                for rule in self.book.rules(station_id, district_id)
                if rule.enabled
                for window in windows_under_way(rule, self.today)
            ]
        return self.cache[station_id]

    def for_station(self, station_id: str, district_id: str | None) -> list[tuple[Rule, Window]]:
        return [(r, w) for r, w in self._all(station_id, district_id) if r.kind == RuleKind.QUARTERLY_ACTIVITY]

    def for_household(self, station_id: str, district_id: str | None, household: Document) -> list[tuple[Rule, Window]]:
        """Every household is visited monthly; hardship and elderly ones also at the festivals."""
        cared_for = bool(household.get("hardship") or household.get("elderly"))
        return [
            (r, w)
            for r, w in self._all(station_id, district_id)
            if r.kind == RuleKind.MONTHLY_VISIT or (r.kind == RuleKind.FESTIVAL_VISIT and cared_for)
        ]


async def store_new(tx: Transaction, duties: list[Duty], known: set[str] | None = None) -> int:
    """Store the duties not stored before and announce each; returns how many were new."""
    created = await duties_store.insert_new(tx, duties, known)
    for duty in created:
        event = DutyCreated.model_validate(about(duty))
        tx.publish(event, subject=duty.id, station_id=duty.station_id, district_id=duty.district_id)
    return len(created)
