"""One phone number, one spelling: the blind index, lookups and duplicate checks compare
spellings, so "１３８-7721 2345" typed at a registration, in a spreadsheet or in a lookup must
all become "13877212345"."""

import re
import unicodedata

_FILLER = re.compile(r"[\s\-()（）]")


def spelled(text: str) -> str:
    """Full-width digits narrowed; spaces, dashes and brackets dropped."""
    return _FILLER.sub("", unicodedata.normalize("NFKC", text))


def typed_anyhow(number: str) -> str:
    """A regular expression matching a spelled ``number`` however it was typed: in full-width
    characters or not, with spaces, dashes and brackets anywhere, a Chinese mobile with or without
    its +86."""
    characters = number.removeprefix("+")
    if len(characters) == 13 and characters.startswith("86"):
        characters = characters[2:]
    return f"{_FILLER.pattern}*".join(f"[{re.escape(c)}{re.escape(_full_width(c))}]" for c in characters)


def _full_width(character: str) -> str:
    return chr(ord(character) + 0xFEE0) if "!" <= character <= "~" else character


def phone_number(text: str) -> str:
    """A phone as stored: spelled, and not nothing ("-" or "（）" alone is no number)."""
    number = spelled(text)
    if not number:
        raise ValueError("a phone number is more than spaces, dashes and brackets")
    return number
