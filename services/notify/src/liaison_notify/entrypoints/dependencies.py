"""FastAPI dependencies of the notify API."""

from typing import Annotated

from fastapi import Depends, Request

from liaison_notify.service_layer.context import Notify


def notify_of(request: Request) -> Notify:
    notify: Notify = request.app.state.notify
    return notify


NotifyDep = Annotated[Notify, Depends(notify_of)]
