"""Routes: validated in order with the inbox last, derived from records' contacts, and the next
one to try once others gave up."""

import pytest
from liaison_infra.domain_errors import InvalidInput
from liaison_notify.domain.channels import Channel, Route, next_route, preferred_routes, routes


def test_routes_keep_the_order_given_and_end_with_the_inbox() -> None:
    given = routes([("email", "li@example.org"), ("wecom", "bot_1")])
    assert given == (Route(Channel.EMAIL, "li@example.org"), Route(Channel.WECOM, "bot_1"), Route(Channel.INBOX))
    assert routes([("sms", "13800000000"), ("inbox", None)])[-1] == Route(Channel.INBOX)
    assert routes([]) == (Route(Channel.INBOX),)


@pytest.mark.parametrize(
    ("pairs", "code", "field"),
    [
        ([("fax", "1")], "unknown_channel", "channels.0"),
        ([("sms", "1380000000")], "invalid_address", "channels.0"),
        ([("email", "not-an-address")], "invalid_address", "channels.0"),
        ([("wecom", None)], "invalid_address", "channels.0"),
        ([("sms", "13800000000"), ("sms", "13900000000")], "duplicate_channel", "channels.1"),
        ([("inbox", None), ("sms", "13800000000")], "inbox_not_last", "channels.0"),
    ],
)
def test_bad_routes_are_refused_naming_the_entry(pairs: list[tuple[str, str | None]], code: str, field: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        routes(pairs)
    assert (refused.value.code, refused.value.field) == (code, field)


def test_routes_from_records_contacts_put_preferences_first_and_skip_what_cannot_work() -> None:
    contacts = {"wecom": "li", "dingtalk": None, "sms": "138-bad", "email": "li@example.org"}
    assert preferred_routes(contacts, ["email", "pager", "wecom"]) == (
        Route(Channel.EMAIL, "li@example.org"),
        Route(Channel.WECOM, "li"),
        Route(Channel.INBOX),
    )


def test_the_next_route_skips_those_given_up_and_falls_back_to_the_inbox() -> None:
    preferred = routes([("dingtalk", "t1"), ("sms", "13800000000")])
    assert next_route(preferred, set()).channel == Channel.DINGTALK
    assert next_route(preferred, {"dingtalk"}).channel == Channel.SMS
    assert next_route(preferred, {"dingtalk", "sms"}) == Route(Channel.INBOX)
