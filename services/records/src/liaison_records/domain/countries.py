"""Countries abroad: every ISO 3166-1 alpha-2 code (pycountry's list) but China's, and the
Chinese words rosters write them in (the ISO names in Chinese, and the everyday forms)."""

import gettext

import pycountry

# Coming back from China or its regions makes nobody a 归侨: they are never the country abroad.
CHINA = frozenset({"CN", "HK", "MO", "TW"})
ABROAD = frozenset(country.alpha_2 for country in pycountry.countries) - CHINA
# The usual Chinese name where the ISO translation slips (柬埔塞), listed first so that it is printed.
CORRECTED = {"柬埔寨": "KH"}
# Short forms people write besides the names.
SHORT_FORMS = {"印尼": "ID"}


def country_code(value: str) -> str:
    """The ISO code of a country abroad, however it was cased; ``ValueError`` for any other value."""
    code = value.strip().upper()
    if code not in ABROAD:
        raise ValueError(f"{value!r} is not the ISO 3166-1 alpha-2 code of a country abroad")
    return code


def _chinese_words() -> dict[str, str]:
    """Each Chinese word for a country abroad → its code, the word to print for a code first."""
    chinese = gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=["zh_CN"]).gettext
    words = dict(CORRECTED)
    for country in pycountry.countries:
        if country.alpha_2 in ABROAD:
            for name in (getattr(country, "common_name", None), country.name, getattr(country, "official_name", None)):
                if name and (word := chinese(name)) != name:
                    words.setdefault(word, country.alpha_2)
    return {**words, **SHORT_FORMS}


CHINESE_WORDS = _chinese_words()
