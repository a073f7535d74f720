"""/v1/cases: opening cases, each transition as its own action, the timeline."""

from datetime import date
from typing import Annotated, Any, Literal
from uuid import uuid4

from fastapi import APIRouter, Body, Depends, Query, Request, Response
from liaison_infra.auth import CurrentPrincipal
from liaison_infra.mongo import Document
from liaison_infra.versioning import ExpectedVersion, with_etag
from pydantic import BaseModel, ConfigDict, Field

from liaison_cases.domain.cases import Category, Kind
from liaison_cases.domain.lifecycle import Action, State
from liaison_cases.domain.limits import NEW_ORIGINATORS, Id, LongText, Title
from liaison_cases.domain.supervision import Colour
from liaison_cases.service_layer import cases as handlers
from liaison_cases.service_layer.context import Cases
from liaison_cases.service_layer.search import CaseQuery, search_cases

router = APIRouter(prefix="/v1/cases", tags=["cases"])


def cases_of(request: Request) -> Cases:
    cases: Cases = request.app.state.cases
    return cases


CasesDep = Annotated[Cases, Depends(cases_of)]


class NewCase(BaseModel):
    model_config = ConfigDict(extra="forbid")

    station_id: Id
    district_id: Id | None = None
    kind: Kind
    category: Category = Category.OTHER
    title: Title
    content: LongText
    originators: list[Id] = Field(default_factory=list, max_length=NEW_ORIGINATORS)


@router.post("", status_code=201)
async def open_case(new: NewCase, principal: CurrentPrincipal, cases: CasesDep, response: Response) -> Document:
    """Open a case in the collected state (a deputy or station staff writing down what they heard)."""
    document = await handlers.open_case(cases, principal, case_id=f"c-{uuid4().hex[:12]}", **new.model_dump())
    return with_etag(response, document)


@router.get("")
async def search(
    principal: CurrentPrincipal,
    cases: CasesDep,
    station_id: Id | None = None,
    district_id: Id | None = None,
    state: State | None = None,
    category: Category | None = None,
    kind: Kind | None = None,
    department_id: Annotated[Id | None, Query(description="lead or co-handling department")] = None,
    person_id: Annotated[Id | None, Query(description="an originator")] = None,
    deputy_id: Id | None = None,
    household_id: Id | None = None,
    q: Annotated[str | None, Query(min_length=1, max_length=100, description="words of the title")] = None,
    colour: Colour | None = None,
    overdue: bool | None = None,
    due_from: date | None = None,
    due_to: date | None = None,
    sort: Literal["opened", "due"] = "opened",
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Document:
    """Cases within your scope that match every filter given, newest first or nearest deadline
    first, a page at a time: pass ``next_cursor`` back as ``cursor`` for the next page."""
    query = CaseQuery(
        station_id=station_id,
        district_id=district_id,
        state=state,
        category=category,
        kind=kind,
        department_id=department_id,
        person_id=person_id,
        deputy_id=deputy_id,
        household_id=household_id,
        text=q,
        colour=colour,
        overdue=overdue,
        due_from=due_from,
        due_to=due_to,
        sort=sort,
        cursor=cursor,
        limit=limit,
    )
    return await search_cases(cases, principal, query)


@router.get("/{case_id}")
async def read(case_id: str, principal: CurrentPrincipal, cases: CasesDep, response: Response) -> Document:
    """The case with its supervision colour; a merged case also shows the answer of the case that
    answers for it (``answered_by``)."""
    return with_etag(response, await handlers.read_case(cases, principal, case_id))


@router.get("/{case_id}/timeline")
async def timeline(case_id: str, principal: CurrentPrincipal, cases: CasesDep) -> list[Document]:
    """Every step: who, when, what, with which comment."""
    case = await handlers.load_case(cases, principal, case_id)
    return [step.model_dump(mode="json") for step in case.timeline]


@router.post("/{case_id}/{action}")
async def act(
    case_id: str,
    action: Action,
    principal: CurrentPrincipal,
    cases: CasesDep,
    response: Response,
    version: ExpectedVersion,
    payload: Annotated[dict[str, Any] | None, Body()] = None,
) -> Document:
    """One transition (submit, assign, hand_back, start, reply, rate, close, follow_up, extend, merge,
    co_opinion, comment); an illegal one gets 409 with the reason, nothing changes."""
    document = await handlers.act(cases, principal, case_id, action, payload or {}, expected_version=version)
    return with_etag(response, document)
