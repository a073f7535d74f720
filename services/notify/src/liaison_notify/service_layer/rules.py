"""Reading and changing the rules a station works under.

A district supervisor changes their district's overrides, station staff their station's, an
administrator any. A change is checked against every station it reaches before it is stored, so
a district's new quiet hours cannot leave one of its stations with a rule that no longer holds.
"""

from typing import Any

from liaison_infra.auth import Principal, Role
from liaison_infra.domain_errors import Forbidden, InvalidInput, NotFound
from liaison_infra.mongo import Document, Transaction
from liaison_infra.versioning import check_version
from pydantic import ValidationError

from liaison_notify.adapters.households_store import STATIONS, district_of
from liaison_notify.adapters.rules_store import RULE_OVERRIDES, RuleBook, override_id, owner, rulebook_for
from liaison_notify.domain.rules import DEFAULT_RULES, RuleOverride
from liaison_notify.service_layer.context import Notify

SCOPES = ("station", "district")
# What lets a district see its stations' misses: a station's staff may not change it.
DISTRICT_OVERSIGHT = frozenset({"enabled", "escalation"})


async def read_rules(notify: Notify, principal: Principal, scope: str, scope_id: str) -> list[Document]:
    """Every rule as it applies to the station (or district), with that scope's own changes."""
    station_id, district_id = await _placed(notify, principal, scope, scope_id)
    book = await rulebook_for(notify.db, station_id or "", district_id)
    stored = {doc["rule_id"]: doc async for doc in notify.db[RULE_OVERRIDES].find({"owner": owner(scope, scope_id)})}
    return [_view(book, rule_id, station_id, district_id, stored.get(rule_id)) for rule_id in DEFAULT_RULES]


async def read_rule(notify: Notify, principal: Principal, scope: str, scope_id: str, rule_id: str) -> Document:
    _known(rule_id)
    station_id, district_id = await _placed(notify, principal, scope, scope_id)
    book = await rulebook_for(notify.db, station_id or "", district_id)
    stored = await notify.db[RULE_OVERRIDES].find_one({"_id": override_id(scope, scope_id, rule_id)})
    return _view(book, rule_id, station_id, district_id, stored)


async def change_rule(
    notify: Notify,
    principal: Principal,
    scope: str,
    scope_id: str,
    rule_id: str,
    override: RuleOverride,
    *,
    expected_version: int,
) -> Document:
    """Store the scope's changes to a rule (an empty change returns it to what it inherits)."""
    _known(rule_id)
    station_id, district_id = await _placed(notify, principal, scope, scope_id)
    changes = override.changes()
    _may_change(principal, scope, station_id, district_id, changes)

    async def write(tx: Transaction) -> Document:
        stored = await tx.db[RULE_OVERRIDES].find_one(
            {"_id": override_id(scope, scope_id, rule_id)}, session=tx.session
        )
        check_version(override_id(scope, scope_id, rule_id), stored["version"] if stored else 0, expected_version)
        await _check_reach(tx, scope, scope_id, rule_id, changes)
        document = {
            "_id": override_id(scope, scope_id, rule_id),
            "owner": owner(scope, scope_id),
            "rule_id": rule_id,
            "changes": changes,
            "updated_by": principal.subject,
            "updated_at": notify.clock(),
        }
        if stored is None:
            await tx.insert(RULE_OVERRIDES, document)
            return {**document, "version": 1}
        return {**document, "version": await tx.replace(RULE_OVERRIDES, document, expected_version=expected_version)}

    stored = await notify.runtime.transaction(write)
    book = await rulebook_for(notify.db, station_id or "", district_id)
    return _view(book, rule_id, station_id, district_id, stored)


async def _check_reach(tx: Transaction, scope: str, scope_id: str, rule_id: str, changes: dict[str, Any]) -> None:
    """Every station the change reaches must still have a valid rule; 422 naming the first that would not."""
    if scope == "station":
        district_id = await district_of(tx.db, scope_id)
        reached = [(scope_id, district_id)]
    else:
        district_id = scope_id
        reached = [(doc["_id"], scope_id) async for doc in tx.db[STATIONS].find({"district_id": scope_id})]
        reached.append(("", scope_id))  # a station of the district with no changes of its own
    owners = [owner("district", district_id)] if district_id else []
    owners += [owner("station", station_id) for station_id, _ in reached if station_id]
    current = await tx.db[RULE_OVERRIDES].find({"owner": {"$in": owners}}, session=tx.session).to_list()
    layers = {(doc["owner"], doc["rule_id"]): doc["changes"] for doc in current}
    book = RuleBook({**layers, (owner(scope, scope_id), rule_id): changes})
    for station_id, station_district in reached:
        try:
            book.checked_rule(rule_id, station_id, station_district)
        except ValidationError as exc:
            problems = [{"field": ".".join(map(str, e["loc"])) or None, "message": e["msg"]} for e in exc.errors()]
            raise InvalidInput(
                "invalid_rule",
                f"with this change the rule would not hold{f' for station {station_id}' if station_id else ''}: "
                f"{problems[0]['message']}",
                field=problems[0]["field"],
                details={"problems": problems, "station_id": station_id or None},
            ) from exc


async def _placed(notify: Notify, principal: Principal, scope: str, scope_id: str) -> tuple[str | None, str | None]:
    """The station and district a scope stands for, if the caller may see it; else not found."""
    if scope == "station":
        station = await notify.db[STATIONS].find_one({"_id": scope_id})
        station_id, district_id = scope_id, (station or {}).get("district_id")
    else:
        station_id, district_id = None, scope_id
    if scope == "district" and not (principal.is_admin or scope_id in principal.districts):
        raise NotFound("not_found", "no such district")
    if not principal.can_see(station_id, district_id):
        raise NotFound("not_found", f"no such {scope}")
    return station_id, district_id


def _may_change(
    principal: Principal, scope: str, station_id: str | None, district_id: str | None, changes: dict[str, Any]
) -> None:
    """A district's supervisors (and administrators) change its rules and its stations'; a
    station's staff change their station's, except what lets the district see its misses."""
    supervising = principal.is_admin or (
        Role.DISTRICT_SUPERVISOR in principal.roles and district_id in principal.districts
    )
    staff = scope == "station" and Role.STATION_STAFF in principal.roles and station_id in principal.stations
    if not (supervising or staff):
        raise Forbidden("forbidden", f"your role may not change the rules of this {scope}")
    if not supervising and (oversight := sorted(DISTRICT_OVERSIGHT & changes.keys())):
        raise Forbidden(
            "district_oversight", f"only the district may change {', '.join(oversight)}", field=oversight[0]
        )


def _known(rule_id: str) -> None:
    if rule_id not in DEFAULT_RULES:
        raise NotFound("not_found", f"no rule {rule_id!r}", field="rule_id")


def _view(
    book: RuleBook, rule_id: str, station_id: str | None, district_id: str | None, stored: Document | None
) -> Document:
    """The rule in force there, this scope's own changes, and the version to send back in If-Match."""
    rule = book.rule(rule_id, station_id or "", district_id)
    return {
        "rule": rule.model_dump(mode="json"),
        "changes": stored["changes"] if stored else {},
        "version": stored["version"] if stored else 0,
        "updated_by": stored.get("updated_by") if stored else None,
    }
