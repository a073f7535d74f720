"""How much one request may carry and how far one case may grow.

Every text and list a caller sends is bounded, and so is what a case accumulates through repeated
actions (its timeline, follow-up replies, and the originators and deputies merges bring in), so
that a case document stays far below MongoDB's 16 MB and every event, which carries the case's
originators and merged cases, far below the broker's 1 MB. At worst, with every character 4
bytes in UTF-8, each of ``MAX_STEPS`` steps carries a comment and a reason or a follow-up reply:
200 × 6,000 × 4 B ≈ 4.8 MB; the rest of a case (content, reply, co-handlers' opinions,
originators, deputies and their search facets) stays under 0.5 MB. An event carries at most
500 + 200 ids of 100 characters, about 70 kB. A timeline with ``FINISHING_STEPS`` left takes
only the actions that bring a case to its end (start, reply, rate, close, merge away, extend), so a case
that gathered many merges, hand-backs or follow-ups can still be answered; a full one refuses
every action but still records a deadline an official schedule moves (a small step only an
administrator's load adds).

The lengths follow how a liaison station writes: a title of a line, a case's content or a
department's reply of a page or two, a comment or reason of a paragraph (as records' notes).
"""

import re
from typing import Annotated

from pydantic import StringConstraints

TITLE_LENGTH = 200  # a case's title
TEXT_LENGTH = 4000  # a case's content, a department's reply, a co-handler's opinion
NOTE_LENGTH = 2000  # a comment, the reason of a hand-back or an extension
ID_LENGTH = 100
NEW_ORIGINATORS = 50  # people named when a case is opened
MAX_ORIGINATORS = 500  # people a case answers once duplicates are merged into it (并案)
MAX_DEPUTIES = 100  # deputies a case names once duplicates are merged into it
MAX_CO_HANDLERS = 10  # co-handling departments (协办) of one assignment
MAX_STEPS = 200  # timeline steps of a case: a case takes 7 to a few dozen, merges included
FINISHING_STEPS = 20  # of which the last, kept for the actions that bring a case to its end
MAX_COMMENTS = 100  # of which comments, so that comments alone never stop a case's lifecycle
FIRST_YEAR, LAST_YEAR = 2000, 2100  # years of the working-day calendar an administrator loads
SCHEDULE_DAYS = 400  # dates in one year's official schedule (at most a year and a December)
DAY_LENGTH = 20  # one date as typed ("2026-10-01", spaces around allowed)
SOURCE_LENGTH = 300  # where a schedule comes from (the notice's title and number)

# Ids are ASCII letters, digits, '.', '_' and '-': keys such as "station:<id>|<due>|<case>"
# (adapters/case_keys.py) are split on '|' and ':'.
ID_PATTERN = rf"^[A-Za-z0-9][A-Za-z0-9._-]{{0,{ID_LENGTH - 1}}}$"
_ID = re.compile(ID_PATTERN)

Id = Annotated[str, StringConstraints(pattern=ID_PATTERN)]
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=TITLE_LENGTH)]
LongText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=TEXT_LENGTH)]
Day = Annotated[str, StringConstraints(max_length=DAY_LENGTH)]


def is_id(value: object) -> bool:
    return isinstance(value, str) and _ID.fullmatch(value) is not None
