"""One phone number, one spelling: the blind index, lookups and duplicate checks compare
spellings, so "１３８-7721 2345" typed at a registration, in a spreadsheet or in a lookup must
all become "13877212345"."""

import re
import unicodedata

_FILLER = re.compile(r"[\s\-()（）]")


def spelled(text: str) -> str:
    """Full-width digits narrowed; spaces, dashes and brackets dropped."""
    return _FILLER.sub("", unicodedata.normalize("NFKC", text))


def phone_number(text: str) -> str:
    """A phone as stored: spelled, and not nothing ("-" or "（）" alone is no number)."""
    number = spelled(text)
    if not number:
        raise ValueError("a phone number is more than spaces, dashes and brackets")
    return number
