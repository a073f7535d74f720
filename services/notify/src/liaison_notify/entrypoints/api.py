"""The notify HTTP API."""

from fastapi import FastAPI
from liaison_infra.web import create_service_app

from liaison_notify.bootstrap import SPEC
from liaison_notify.config import Settings


def create_app(settings: Settings) -> FastAPI:
    return create_service_app(settings, SPEC, title="Liaison notify: duties and reminders")
