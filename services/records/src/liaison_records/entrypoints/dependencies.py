"""FastAPI dependencies of the records API."""

from typing import Annotated

from fastapi import Depends, Request
from liaison_infra.versioning import ExpectedVersion, with_etag

from liaison_records.service_layer.context import Records

__all__ = ["ExpectedVersion", "RecordsDep", "with_etag"]


def records_of(request: Request) -> Records:
    records: Records = request.app.state.records
    return records


RecordsDep = Annotated[Records, Depends(records_of)]
