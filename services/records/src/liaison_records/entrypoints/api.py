"""The records HTTP API."""

from fastapi import FastAPI
from liaison_infra.web import create_service_app

from liaison_records.bootstrap import SPEC
from liaison_records.config import Settings


def create_app(settings: Settings) -> FastAPI:
    return create_service_app(settings, SPEC, title="Liaison records: returnee files, households, deputies, visits")
