"""Chinese citizen ID numbers (公民身份号码, GB 11643-1999): validation, normalisation, masking.

An 18-character number is a 6-digit region code (GB/T 2260), the birth date as YYYYMMDD, a
3-digit sequence whose last digit is odd for men and even for women, and a check character
(ISO 7064 MOD 11-2, ``X`` standing for 10). Every accepted number comes out as those 18
characters, so one person always has one value to encrypt, hash into a blind index and compare.

Decisions:

- Region: only the province-level part (first two digits) is checked, against the GB/T 2260
  provinces plus 71 (Taiwan), 81 (Hong Kong), 82 (Macao) and 83, the code on residence permits
  for Taiwan residents (港澳台居民居住证, 2018). Those permits carry numbers in this same format,
  and relatives of returnees may hold them. The full county list is not checked: it changes
  every year and old codes stay valid on cards already issued. Numbers starting with 9 (the
  2023 foreigners' permanent residence card) are rejected: their digits 2-6 are not a region,
  so those people need a different document type.
- Legacy 15-digit numbers (first-generation cards, issued before 1999 and valid until 2013, still
  found on old paper files) have a YYMMDD birth date in the 1900s and no check digit. They are
  accepted and converted: "19" goes in front of the year and the check character is computed.
- Birth date: a real date from 1900-01-01 up to today in China (Asia/Shanghai).
- Masking keeps the first four characters (province and city) and the last four (end of the
  sequence and the check character): enough for a clerk to tell two files apart, never the
  birth date. ``IdNumber`` prints masked so a logged value does not leak the number.
"""

from dataclasses import dataclass
from datetime import date
from typing import Literal

from liaison_infra.clock import china_day

Gender = Literal["male", "female"]

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
# Check character for each remainder of the weighted sum modulo 11.
CHECK_CHARACTERS = "10X98765432"
PROVINCE_CODES = frozenset(
    {"11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37"}
    | {"41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64", "65"}
    | {"71", "81", "82", "83"}
)
EARLIEST_BIRTH_DATE = date(1900, 1, 1)
# A masked number shows its province and city and its last two characters: with the birth date
# shown in clear, the county's two digits and the sequence's first two are what keep it from
# being worked out (a mask that showed the last four left about one candidate).
LENGTH = 18
MASK_HEAD = 4
MASK_TAIL = 2

_FULL_WIDTH_TO_ASCII = str.maketrans("０１２３４５６７８９Ｘｘ", "0123456789XX")


class InvalidIdNumber(ValueError):
    """An ID number that cannot be right; ``code`` says which rule it broke. The message never
    repeats the number, because messages end up in logs."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, repr=False)
class IdNumber:
    value: str
    birth_date: date
    gender: Gender
    region_code: str

    def masked(self) -> str:
        return mask_id_number(self.value)

    def __repr__(self) -> str:
        return f"IdNumber({self.masked()!r})"


def normalize_id_number(raw: str) -> str:
    """What people type or scan: spaces (also the full-width one), full-width digits, a lower-case x."""
    return "".join(raw.translate(_FULL_WIDTH_TO_ASCII).split()).upper()


def check_digit(first17: str) -> str:
    """The MOD 11-2 check character for the first 17 digits of a number."""
    if len(first17) != len(WEIGHTS) or not _is_ascii_digits(first17):
        raise InvalidIdNumber("id_number_characters", "the body of an ID number is 17 digits")
    total = sum(int(digit) * weight for digit, weight in zip(first17, WEIGHTS, strict=True))
    return CHECK_CHARACTERS[total % 11]


def validate_id_number(raw: str, *, today: date | None = None) -> IdNumber:
    """Parse ``raw`` into an 18-character ``IdNumber``; ``today`` defaults to the date in China."""
    number = normalize_id_number(raw)
    if len(number) == 15:
        number = _upgrade_legacy(number)
    elif len(number) != LENGTH:
        raise InvalidIdNumber(
            "id_number_length", f"an ID number has 18 characters (15 for an old card), not {len(number)}"
        )
    body, check = number[:17], number[17]
    if not _is_ascii_digits(body) or not (_is_ascii_digits(check) or check == "X"):
        raise InvalidIdNumber("id_number_characters", "an ID number is 17 digits followed by a digit or X")
    if body[:2] not in PROVINCE_CODES:
        raise InvalidIdNumber("id_number_region", "the first two digits are not a province code")
    birth_date = _birth_date(body[6:14], today or china_day())
    if check_digit(body) != check:
        raise InvalidIdNumber("id_number_check_digit", "the check character does not match: a digit is mistyped")
    gender: Gender = "male" if int(body[16]) % 2 else "female"
    return IdNumber(value=number, birth_date=birth_date, gender=gender, region_code=body[:6])


def mask_id_number(value: str) -> str:
    """``11010519491231002X`` -> ``1101************2X``; a value of any other length is masked whole."""
    if len(value) != LENGTH:
        return "*" * len(value)
    return value[:MASK_HEAD] + "*" * (LENGTH - MASK_HEAD - MASK_TAIL) + value[-MASK_TAIL:]


def _upgrade_legacy(number: str) -> str:
    if not _is_ascii_digits(number):
        raise InvalidIdNumber("id_number_characters", "an old 15-digit ID number has digits only")
    body = number[:6] + "19" + number[6:]
    return body + check_digit(body)


def _birth_date(yyyymmdd: str, today: date) -> date:
    try:
        birth_date = date(int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:]))
    except ValueError:
        raise InvalidIdNumber("id_number_birth_date", "digits 7-14 are not a real date") from None
    if not EARLIEST_BIRTH_DATE <= birth_date <= today:
        raise InvalidIdNumber("id_number_birth_date", "the birth date is before 1900 or in the future")
    return birth_date


def _is_ascii_digits(text: str) -> bool:
    """``str.isdigit`` also accepts other scripts' digits, such as Arabic-Indic ones."""
    return text.isascii() and text.isdigit()
