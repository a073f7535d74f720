"""How a household's ties abroad are stored: the way to reach a relative abroad (free text: a
phone, an address abroad, a WeChat id) is personal data like a returnee's own phone, so it is
encrypted at rest and shown masked to whoever may not see it.

A read shows each tie with its ``position``. A ``PUT`` (which names the version read) may send a
tie back with its position and its way to reach as the read showed it, masked: the stored value
is kept. Masks alone could not say which value was meant: two numbers may mask alike.
"""

from liaison_infra.mongo import Document
from liaison_infra.pii import Keyring, mask_middle

REACH = "how_to_reach"
REACH_CONTEXT = "household.how_to_reach"
POSITION = "position"


def mask_reach(text: str) -> str:
    """``+84 90 123 4567`` -> ``+8***********67``: a sixth of it at each end, enough to tell two
    apart; a short WeChat id is masked whole."""
    text = text.strip()
    return mask_middle(text, len(text) // 6, len(text) // 6)


def sealed_ties(keyring: Keyring, ties: list[Document], stored: list[Document]) -> list[Document]:
    """``ties`` (as sent) as stored, over the ties ``stored`` at the version the sender read."""
    return [_sealed(keyring, tie, stored) for tie in ties]


def _sealed(keyring: Keyring, tie: Document, stored: list[Document]) -> Document:
    tie = dict(tie)
    position, value = tie.pop(POSITION, None), tie.get(REACH)
    if value is None:
        return tie
    if position is not None and 0 <= position < len(stored):
        kept = stored[position].get(REACH)
        if kept is not None and value == _masked(kept):  # sent back as it was read
            value = _revealed(keyring, kept)
    return {**tie, REACH: _protected(keyring, value)}


def _protected(keyring: Keyring, value: str) -> Document:
    return keyring.protect(value, context=REACH_CONTEXT, mask=mask_reach)


def shown_ties(ties: list[Document], keyring: Keyring | None = None) -> list[Document]:
    """The ties with each way to reach masked, or revealed with ``keyring``, and their positions."""
    return [{**tie, REACH: _shown(tie.get(REACH), keyring), POSITION: n} for n, tie in enumerate(ties)]


def _shown(reach: Document | str | None, keyring: Keyring | None) -> str | None:
    if reach is None:
        return None
    return _revealed(keyring, reach) if keyring else _masked(reach)


def _masked(reach: Document | str) -> str:
    """As today's mask shows it, whichever mask stored it (masking a masked form again changes
    nothing more). A string was kept in clear by an older version, until the next start seals it."""
    return mask_reach(reach if isinstance(reach, str) else reach["masked"])


def _revealed(keyring: Keyring, reach: Document | str) -> str:
    return reach if isinstance(reach, str) else keyring.decrypt(reach["cipher"], context=REACH_CONTEXT)


def resealed_ties(keyring: Keyring, ties: list[Document]) -> list[Document] | None:
    """The ties sealed under the current key and masked as now (one an older version kept in
    clear, sealed at last); None when they are so already."""
    fresh = [
        tie if (reach := tie.get(REACH)) is None else {**tie, REACH: _protected(keyring, _revealed(keyring, reach))}
        for tie in ties
    ]
    alike = all(_alike(keyring, old.get(REACH), new.get(REACH)) for old, new in zip(ties, fresh, strict=True))
    return None if alike else fresh


def _alike(keyring: Keyring, old: Document | str | None, new: Document | None) -> bool:
    if old is None or new is None:
        return old is new
    return isinstance(old, dict) and not keyring.needs_reencryption(old["cipher"]) and old["masked"] == new["masked"]
