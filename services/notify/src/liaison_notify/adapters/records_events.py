"""Notify's own reading of the records events it consumes: only the fields it uses."""

from pydantic import BaseModel


class DeputyChannelsRead(BaseModel):
    mobile: str | None = None
    wecom_id: str | None = None
    dingtalk_id: str | None = None
    email: str | None = None
    preferences: list[str] = []

    def addresses(self) -> dict[str, str | None]:
        """Each channel's address, by notify's channel names."""
        return {"wecom": self.wecom_id, "dingtalk": self.dingtalk_id, "sms": self.mobile, "email": self.email}


class DeputyRead(BaseModel):
    """deputy.registered and deputy.updated alike."""

    deputy_id: str
    name: str
    station_ids: list[str]
    channels: DeputyChannelsRead


class OrgUnitRead(BaseModel):
    """org_unit.registered and org_unit.updated; notify keeps stations only (their name and district)."""

    unit_id: str
    level: str
    name: str
    parent_id: str | None
