"""What every notify handler works with: the runtime and a clock that tests can move."""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from liaison_infra.clock import utc_now
from liaison_infra.mongo import Document
from liaison_infra.runtime import Runtime
from pymongo.asynchronous.database import AsyncDatabase

from liaison_notify.config import Settings


@dataclass
class Notify:
    runtime: Runtime
    clock: Callable[[], datetime] = field(default=utc_now)

    @property
    def db(self) -> AsyncDatabase[Document]:
        return self.runtime.db

    @property
    def settings(self) -> Settings:
        settings = self.runtime.settings
        assert isinstance(settings, Settings)
        return settings
