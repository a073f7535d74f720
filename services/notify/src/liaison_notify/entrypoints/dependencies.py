"""FastAPI dependencies of the notify API."""

from typing import Annotated

from fastapi import Depends, Path, Request

from liaison_notify.service_layer.context import Notify


def notify_of(request: Request) -> Notify:
    notify: Notify = request.app.state.notify
    return notify


NotifyDep = Annotated[Notify, Depends(notify_of)]
# A station's, district's or deputy's id in a path, as records makes them.
Id = Annotated[str, Path(pattern=r"^[A-Za-z0-9._-]{1,64}$")]
