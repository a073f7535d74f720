"""The cases HTTP API."""

from fastapi import FastAPI
from liaison_infra.web import create_service_app

from liaison_cases.bootstrap import SPEC
from liaison_cases.config import Settings


def create_app(settings: Settings) -> FastAPI:
    return create_service_app(settings, SPEC, title="Liaison cases: opinions, suggestions and requests")
