"""Search keys for people's names, so that 陈, 陈小, chen, chenxiao, c, cx, cxm, 小明, xiaoming or
xm all find 陈小明, as staff type on a phone or an input method.

Matching contract: a person matches a query when one of ``query_keys(query)`` is one of the
person's ``search_tokens``. The tokens already hold every prefix of what can be searched, so a
prefix search is one exact lookup of a token (the people index keeps a set of files per
token), never a regular expression scan. Searchable are, each with all
its prefixes: the name in characters, its full pinyin and its initials, and the same three for
the given name alone (for a Chinese name) or for every later word (for a name in words, such as
"Tan Ah Kow" or 阿依古丽·买买提). Nothing in the middle matches: "ming" does not find 陈小明.

Both sides are folded alike: full-width forms become ASCII, letters lower case, accents are
dropped ("nguyen" finds "Nguyễn"), and spaces, apostrophes and dots are removed. ü is written
v, as pypinyin and every input method write it (吕 is "lv").

pypinyin has no surname mode, so surnames whose reading differs from the everyday one (曾 zeng,
not ceng) and the compound surnames come from ``SURNAME_READINGS``; the rest of the name is read
by pypinyin on its own, so a phrase spanning surname and given name cannot change a reading.

Bound: only the first ``MAX_INDEXED_CHARACTERS`` characters of a name (separators not counted)
are indexed, and at most ``MAX_LATER_STARTS`` later starts. Each indexed character adds at most
eight tokens per start (itself, up to six pinyin letters, one initial), so a name never has more
than ``MAX_SEARCH_TOKENS`` (768) tokens; a typical three-character name has about thirty.
"""

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from pypinyin import Style, lazy_pinyin

MAX_INDEXED_CHARACTERS = 24
MAX_LATER_STARTS = 3
_LONGEST_SYLLABLE = len("zhuang")
MAX_SEARCH_TOKENS = (1 + MAX_LATER_STARTS) * MAX_INDEXED_CHARACTERS * (1 + _LONGEST_SYLLABLE + 1)
# Given names repeat (a roster of 100,000 has a few thousand): each is read by pypinyin once.
PINYIN_CACHE = 16384

# Single surnames read differently from their everyday reading, and compound surnames.
SURNAME_READINGS: dict[str, tuple[str, ...]] = {
    "曾": ("zeng",), "单": ("shan",), "解": ("xie",), "仇": ("qiu",), "区": ("ou",), "朴": ("piao",),
    "查": ("zha",), "覃": ("qin",), "盖": ("ge",), "缪": ("miao",), "翟": ("zhai",), "乐": ("yue",),
    "秘": ("bi",), "重": ("chong",), "种": ("chong",), "繁": ("po",), "薄": ("bo",), "折": ("she",),
    "卜": ("bu",), "阚": ("kan",), "员": ("yun",), "贠": ("yun",), "召": ("shao",), "隗": ("wei",),
    "粘": ("nian",), "藏": ("zang",), "佴": ("nai",), "都": ("du",), "六": ("lu",),
    "尉迟": ("yu", "chi"), "万俟": ("mo", "qi"), "长孙": ("zhang", "sun"), "欧阳": ("ou", "yang"),
    "司马": ("si", "ma"), "诸葛": ("zhu", "ge"), "上官": ("shang", "guan"), "东方": ("dong", "fang"),
    "皇甫": ("huang", "fu"), "公孙": ("gong", "sun"), "慕容": ("mu", "rong"), "令狐": ("ling", "hu"),
    "宇文": ("yu", "wen"), "司徒": ("si", "tu"), "夏侯": ("xia", "hou"), "澹台": ("tan", "tai"),
    "轩辕": ("xuan", "yuan"), "西门": ("xi", "men"), "南宫": ("nan", "gong"), "独孤": ("du", "gu"),
    "端木": ("duan", "mu"), "钟离": ("zhong", "li"), "申屠": ("shen", "tu"), "呼延": ("hu", "yan"),
    "司空": ("si", "kong"), "闻人": ("wen", "ren"), "赫连": ("he", "lian"), "拓跋": ("tuo", "ba"),
}  # fmt: skip

_HAN = "\u3007\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
_CHINESE_NAME = re.compile(rf"[{_HAN}\s]+")
_RUN = re.compile(rf"(?P<han>[{_HAN}]+)|(?P<other>[^\W_{_HAN}]+)")
_SEPARATORS = re.compile(r"[\W_]+")

# One indexed character (or run of letters and digits) and how it is spelt in latin letters.
_Unit = tuple[str, str]


@dataclass(frozen=True)
class NameKeys:
    full: str
    initials: str
    syllables: tuple[str, ...]
    search_tokens: frozenset[str]


def name_keys(name: str) -> NameKeys:
    units, starts = _units(name)
    later_starts = [start for start in starts if 0 < start < len(units)][:MAX_LATER_STARTS]
    tokens: set[str] = set()
    for start in [0, *later_starts]:
        rest = units[start:]
        for spelling in (
            "".join(text for text, _ in rest),
            "".join(syllable for _, syllable in rest),
            "".join(syllable[0] for _, syllable in rest),
        ):
            tokens.update(spelling[:end] for end in range(1, len(spelling) + 1))
    syllables = tuple(syllable for _, syllable in units)
    return NameKeys(
        full="".join(syllables),
        initials="".join(syllable[0] for syllable in syllables),
        syllables=syllables,
        search_tokens=frozenset(tokens),
    )


def spelled_out(name: str) -> str:
    """The name in pinyin as a file shows it, a syllable (or a word) at a time: "chen xiao ming"."""
    return " ".join(syllable for _, syllable in _units(name)[0])


def _units(name: str) -> tuple[list[_Unit], list[int]]:
    """The name's units (a character or a word, with its spelling) and where its parts begin."""
    folded = _fold(name)
    if _CHINESE_NAME.fullmatch(folded):
        units, starts = _chinese_name(re.sub(r"\s", "", folded))
    else:
        units, starts = _name_in_words(folded)
    return _truncated(units), starts


def query_keys(query: str) -> list[str]:
    """The tokens to look up for what a user typed; empty when nothing searchable is left."""
    compact = _SEPARATORS.sub("", _fold(query))
    return [compact] if compact else []


def _fold(text: str) -> str:
    """The one spelling both names and queries are compared in (see the module docstring)."""
    decomposed = unicodedata.normalize("NFKD", text).lower()
    without_accents = "".join(char for char in decomposed if not unicodedata.combining(char))
    return unicodedata.normalize("NFC", without_accents).replace("đ", "d")


def _chinese_name(text: str) -> tuple[list[_Unit], list[int]]:
    """A name in characters only: surname, then the given name as a second start."""
    surname_length = 2 if len(text) >= 3 and text[:2] in SURNAME_READINGS else 1
    surname, given_name = text[:surname_length], text[surname_length:]
    syllables = [*(SURNAME_READINGS.get(surname) or _pinyin(surname)), *_pinyin(given_name)]
    return list(zip(text, syllables, strict=True)), [0, surname_length]


def _name_in_words(text: str) -> tuple[list[_Unit], list[int]]:
    """Latin, mixed or dotted names: every word is a start, and no surname rule applies
    (查尔斯·狄更斯 is cha, not zha)."""
    units: list[_Unit] = []
    starts: list[int] = []
    for word in _SEPARATORS.split(text):
        if word:
            starts.append(len(units))
        for run in _RUN.finditer(word):
            han, other = run.group("han", "other")
            units.extend(zip(han, _pinyin(han), strict=True) if han else [(other, other)])
    return units, starts


def _truncated(units: list[_Unit]) -> list[_Unit]:
    kept: list[_Unit] = []
    room = MAX_INDEXED_CHARACTERS
    for text, syllable in units:
        if room == 0:
            break
        if len(text) > room:  # only a run of letters or digits, which is its own spelling
            text, syllable = text[:room], syllable[:room]
        kept.append((text, syllable))
        room -= len(text)
    return kept


@lru_cache(maxsize=PINYIN_CACHE)
def _pinyin(han: str) -> tuple[str, ...]:
    """One syllable per character, read in context; a character pypinyin does not know stands for itself."""
    syllables = lazy_pinyin(han, style=Style.NORMAL)
    if len(syllables) != len(han):  # pypinyin keeps together a run of characters it does not count as Han
        syllables = [lazy_pinyin(char, style=Style.NORMAL)[0] for char in han]
    return tuple(syllables)
