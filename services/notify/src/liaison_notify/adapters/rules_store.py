"""The ``rule_overrides`` collection: what each district and station changed of the default rules."""

import logging
from dataclasses import dataclass, field
from typing import Any

from liaison_infra.mongo import Document
from pydantic import ValidationError
from pymongo import ASCENDING
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from liaison_notify.domain.rules import DEFAULT_RULES, Rule, apply

log = logging.getLogger(__name__)
RULE_OVERRIDES = "rule_overrides"


def owner(scope: str, scope_id: str) -> str:
    """Who an override belongs to: "district:d-1" or "station:st-1"."""
    return f"{scope}:{scope_id}"


def override_id(scope: str, scope_id: str, rule_id: str) -> str:
    return f"{owner(scope, scope_id)}:{rule_id}"


async def ensure_rule_indexes(db: AsyncDatabase[Document]) -> None:
    await db[RULE_OVERRIDES].create_index([("owner", ASCENDING), ("rule_id", ASCENDING)])


@dataclass(frozen=True)
class RuleBook:
    """The overrides in force, resolved per station: station beats district beats default."""

    changes: dict[tuple[str, str], dict[str, Any]]  # (owner, rule id) -> changed fields
    # Each rule as resolved for a station: a scan asks once per duty, for a few stations.
    _resolved: dict[tuple[str, str, str | None], Rule] = field(default_factory=dict, repr=False, compare=False)

    def rule(self, rule_id: str, station_id: str, district_id: str | None) -> Rule:
        """The rule in force. Layers that hold one by one may not hold together (a district and
        one of its stations changed at once, or a station's change made before notify knew its
        district); then the more specific layers are left out, and logged, so that no scan stops
        (a change through the API that would not hold is refused: ``checked_rule``)."""
        key = (rule_id, station_id, district_id)
        if key not in self._resolved:
            self._resolved[key] = self._resolve(rule_id, station_id, district_id)
        return self._resolved[key]

    def _resolve(self, rule_id: str, station_id: str, district_id: str | None) -> Rule:
        layers = self._layers(rule_id, station_id, district_id)
        while layers:
            try:
                return apply(DEFAULT_RULES[rule_id], *layers)
            except ValidationError as exc:
                fields = {"rule": rule_id, "station": station_id, "error": str(exc.errors()[0]["msg"])}
                log.warning("rule changes that do not hold together are left out", extra={"fields": fields})
                layers = layers[:-1]
        return DEFAULT_RULES[rule_id]

    def checked_rule(self, rule_id: str, station_id: str, district_id: str | None) -> Rule:
        """The rule with every layer, or pydantic's ``ValidationError`` when they do not hold together."""
        return apply(DEFAULT_RULES[rule_id], *self._layers(rule_id, station_id, district_id))

    def _layers(self, rule_id: str, station_id: str, district_id: str | None) -> list[dict[str, Any]]:
        layers = [self.changes.get((owner("district", district_id), rule_id))] if district_id else []
        layers.append(self.changes.get((owner("station", station_id), rule_id)))
        return [layer for layer in layers if layer]

    def rules(self, station_id: str, district_id: str | None) -> list[Rule]:
        return [self.rule(rule_id, station_id, district_id) for rule_id in DEFAULT_RULES]


async def load_rulebook(
    db: AsyncDatabase[Document],
    *,
    owners: list[str] | None = None,
    session: AsyncClientSession | None = None,
) -> RuleBook:
    """The overrides of ``owners`` (all of them when None: there are a few per station at most)."""
    query = {"owner": {"$in": owners}} if owners is not None else {}
    cursor = db[RULE_OVERRIDES].find(query, session=session)
    return RuleBook({(doc["owner"], doc["rule_id"]): doc["changes"] async for doc in cursor})


async def rulebook_for(
    db: AsyncDatabase[Document], station_id: str, district_id: str | None, session: AsyncClientSession | None = None
) -> RuleBook:
    owners = [owner("station", station_id)] + ([owner("district", district_id)] if district_id else [])
    return await load_rulebook(db, owners=owners, session=session)
