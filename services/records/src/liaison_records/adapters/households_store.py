"""How a household's ties abroad are stored: the way to reach a relative abroad (free text: a
phone, an address abroad, a WeChat id) is personal data like a returnee's own phone, so it is
encrypted at rest and shown masked to whoever may not see it."""

from collections.abc import Iterable

from liaison_infra.mongo import Document
from liaison_infra.pii import Keyring, mask_middle

REACH = "how_to_reach"
REACH_CONTEXT = "household.how_to_reach"


def mask_reach(text: str) -> str:
    """``+84 90 123 4567`` -> ``+8***********67``: its ends, enough to tell two apart."""
    return mask_middle(text.strip(), 2, 2)


def sealed_ties(keyring: Keyring, ties: list[Document], stored: Iterable[Document] = ()) -> list[Document]:
    """``ties`` as stored. A way to reach sent back as a masked read showed it keeps the value
    ``stored`` holds, so a household changed after a masked read loses none."""
    kept = {reach["masked"]: reach for tie in stored if isinstance(reach := tie.get(REACH), dict)}
    return [{**tie, REACH: _sealed(keyring, tie.get(REACH), kept)} for tie in ties]


def _sealed(keyring: Keyring, value: str | None, kept: dict[str, Document]) -> Document | None:
    if value is None:
        return None
    return kept.get(value) or keyring.protect(value, context=REACH_CONTEXT, mask=mask_reach)


def shown_ties(ties: list[Document], keyring: Keyring | None = None) -> list[Document]:
    """The ties with each way to reach masked, or revealed with ``keyring``."""
    return [{**tie, REACH: _shown(tie.get(REACH), keyring)} for tie in ties]


def _shown(reach: Document | str | None, keyring: Keyring | None) -> str | None:
    if reach is None:
        return None
    if isinstance(reach, str):  # kept in clear by an older version, until the next start seals it
        return reach if keyring else mask_reach(reach)
    return keyring.decrypt(reach["cipher"], context=REACH_CONTEXT) if keyring else reach["masked"]


def resealed_ties(keyring: Keyring, ties: list[Document]) -> list[Document] | None:
    """The ties sealed under the current key and masked as now (one an older version kept in
    clear, sealed at last); None when they are so already."""
    fresh = sealed_ties(keyring, shown_ties(ties, keyring))
    alike = all(_alike(keyring, old.get(REACH), new.get(REACH)) for old, new in zip(ties, fresh, strict=True))
    return None if alike else fresh


def _alike(keyring: Keyring, old: Document | str | None, new: Document | None) -> bool:
    if old is None or new is None:
        return old is new
    return isinstance(old, dict) and not keyring.needs_reencryption(old["cipher"]) and old["masked"] == new["masked"]
