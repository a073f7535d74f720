"""/v1/rules: the duty rules in force for a station or district, and their changes (If-Match)."""

from typing import Literal

from fastapi import APIRouter, Response
from liaison_infra.auth import CurrentPrincipal
from liaison_infra.mongo import Document
from liaison_infra.versioning import ExpectedVersion

from liaison_notify.domain.rules import RuleOverride
from liaison_notify.entrypoints.dependencies import Id, NotifyDep
from liaison_notify.service_layer import rules

Scope = Literal["stations", "districts"]

router = APIRouter(prefix="/v1", tags=["rules"])


def _scope(scope: Scope) -> str:
    return scope.removesuffix("s")


@router.get("/rules/{scope}/{scope_id}")
async def read_rules(scope: Scope, scope_id: Id, principal: CurrentPrincipal, notify: NotifyDep) -> list[Document]:
    """Every rule in force for a station or district, with that scope's own changes."""
    return await rules.read_rules(notify, principal, _scope(scope), scope_id)


@router.get("/rules/{scope}/{scope_id}/{rule_id}")
async def read_rule(
    scope: Scope, scope_id: Id, rule_id: str, principal: CurrentPrincipal, notify: NotifyDep, response: Response
) -> Document:
    document = await rules.read_rule(notify, principal, _scope(scope), scope_id, rule_id)
    response.headers["ETag"] = f'"{document["version"]}"'
    return document


@router.put("/rules/{scope}/{scope_id}/{rule_id}")
async def change_rule(
    scope: Scope,
    scope_id: Id,
    rule_id: str,
    override: RuleOverride,
    principal: CurrentPrincipal,
    notify: NotifyDep,
    version: ExpectedVersion,
    response: Response,
) -> Document:
    """Change fields of a rule for a station or district (If-Match: the version read; "0" when it
    has no changes of its own yet); fields left out are inherited, ``{}`` inherits everything."""
    document = await rules.change_rule(
        notify, principal, _scope(scope), scope_id, rule_id, override, expected_version=version
    )
    response.headers["ETag"] = f'"{document["version"]}"'
    return document
