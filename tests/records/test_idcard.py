from datetime import date
from itertools import product

import pytest
from hypothesis import given
from hypothesis import strategies as st
from liaison_records.domain.idcard import (
    PROVINCE_CODES,
    WEIGHTS,
    InvalidIdNumber,
    check_digit,
    mask_id_number,
    normalize_id_number,
    validate_id_number,
)

# The example number printed in GB 11643-1999.
STANDARD_EXAMPLE = "11010519491231002X"
TODAY = date(2026, 6, 1)


def with_check(body: str) -> str:
    return body + check_digit(body)


def error_code(raw: str) -> str:
    with pytest.raises(InvalidIdNumber) as caught:
        validate_id_number(raw, today=TODAY)
    return caught.value.code


def test_the_standard_example_validates():
    assert check_digit(STANDARD_EXAMPLE[:17]) == "X"
    id_number = validate_id_number(STANDARD_EXAMPLE)
    assert id_number.value == STANDARD_EXAMPLE
    assert id_number.birth_date == date(1949, 12, 31)
    assert id_number.gender == "female"
    assert id_number.region_code == "110105"


def test_typed_input_is_normalised():
    assert normalize_id_number(" 110105 19491231 002x ") == STANDARD_EXAMPLE
    assert normalize_id_number("１１０１０５\u3000１９４９１２３１００２ｘ") == STANDARD_EXAMPLE
    assert validate_id_number("１１０１０５　１９４９１２３１００２Ｘ").value == STANDARD_EXAMPLE


def test_legacy_fifteen_digit_number_becomes_eighteen():
    id_number = validate_id_number("110105491231002")
    assert id_number.value == STANDARD_EXAMPLE
    assert id_number.birth_date == date(1949, 12, 31)


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("1101051949123100", "id_number_length"),
        ("11010519491231002XX", "id_number_length"),
        ("", "id_number_length"),
        ("11010519491231002A", "id_number_characters"),
        ("1101051949123100X2", "id_number_characters"),
        ("11010549123100A", "id_number_characters"),
        ("١١٠١٠٥١٩٤٩١٢٣١٠٠٢X", "id_number_characters"),
        (with_check("99010519491231002"), "id_number_region"),
        (with_check("91010519491231002"), "id_number_region"),
        (with_check("10010519491231002"), "id_number_region"),
        (with_check("11010519490230002"), "id_number_birth_date"),
        (with_check("11010519491301002"), "id_number_birth_date"),
        (with_check("11010518991231002"), "id_number_birth_date"),
        (with_check("11010520260602002"), "id_number_birth_date"),
        ("110105490230002", "id_number_birth_date"),
        ("110105194912310021", "id_number_check_digit"),
        ("11010519491231001X", "id_number_check_digit"),
    ],
)
def test_each_broken_rule_has_its_code(raw, code):
    assert error_code(raw) == code


def test_error_is_a_value_error_whose_message_does_not_repeat_the_number():
    with pytest.raises(ValueError, match="check character") as caught:
        validate_id_number("110105194912310021")
    assert "110105" not in str(caught.value)


def test_birth_dates_from_1900_to_today_are_accepted():
    assert validate_id_number(with_check("11010519000101002"), today=TODAY).birth_date == date(1900, 1, 1)
    assert validate_id_number(with_check("11010520260601002"), today=TODAY).birth_date == TODAY


@pytest.mark.parametrize("province", ["71", "81", "82", "83", "45", "65"])
def test_taiwan_hong_kong_macao_and_residence_permit_codes_are_accepted(province):
    assert validate_id_number(with_check(f"{province}000019800101001")).region_code == f"{province}0000"


@pytest.mark.parametrize(("sequence_digit", "gender"), [("1", "male"), ("3", "male"), ("0", "female"), ("8", "female")])
def test_gender_follows_the_parity_of_the_seventeenth_digit(sequence_digit, gender):
    assert validate_id_number(with_check(f"4502031980010100{sequence_digit}")).gender == gender


def test_a_masked_number_with_its_birth_date_still_leaves_hundreds_of_candidates():
    """Files show the birth date in clear: the mask must hide more than what the date gives away."""
    masked = mask_id_number(STANDARD_EXAMPLE)
    known = masked[:6] + "19491231" + masked[14:]  # the birth date's characters, from the file
    hidden = [n for n, character in enumerate(known) if character == "*"]
    candidates = []
    for digits in product("0123456789", repeat=len(hidden)):
        number = list(known)
        for n, digit in zip(hidden, digits, strict=True):
            number[n] = digit
        body = "".join(number[:17])
        if number[17] in ("*", check_digit(body)):
            candidates.append(body + check_digit(body))
    assert STANDARD_EXAMPLE in candidates and len(candidates) >= 500


def test_masking_keeps_the_province_and_city_and_the_last_two_characters():
    id_number = validate_id_number(STANDARD_EXAMPLE)
    assert id_number.masked() == "1101************2X"
    assert mask_id_number("12345678") == "********"
    assert STANDARD_EXAMPLE not in repr(id_number)
    assert "1101************2X" in repr(id_number)


def test_check_digit_rejects_a_body_that_is_not_seventeen_digits():
    with pytest.raises(InvalidIdNumber):
        check_digit("1101051949123100")


def test_adjacent_weights_differ_modulo_eleven():
    """Why a swap of two adjacent different digits is always caught: it changes the weighted sum by
    (w_i - w_i+1)(a - b), which is non-zero modulo the prime 11 when the weights differ modulo 11
    (w_i = 2·w_i+1 mod 11, so w_i - w_i+1 = w_i+1) and 0 < |a - b| < 11. The check character
    counts with weight 1."""
    weights = (*WEIGHTS, 1)
    assert all((weights[i] - weights[i + 1]) % 11 for i in range(len(weights) - 1))
    assert all(weight % 11 for weight in weights)


@st.composite
def valid_numbers(draw):
    province = draw(st.sampled_from(sorted(PROVINCE_CODES)))
    area = draw(st.from_regex(r"\A[0-9]{4}\Z"))
    born = draw(st.dates(min_value=date(1900, 1, 1), max_value=TODAY))
    sequence = draw(st.from_regex(r"\A[0-9]{3}\Z"))
    return with_check(f"{province}{area}{born:%Y%m%d}{sequence}")


@given(valid_numbers())
def test_any_body_with_its_check_digit_validates(number):
    id_number = validate_id_number(number, today=TODAY)
    assert id_number.value == number
    assert id_number.gender == ("male" if int(number[16]) % 2 else "female")


@given(valid_numbers())
def test_every_single_character_change_is_detected(number):
    for position in range(18):
        replacements = "0123456789X" if position == 17 else "0123456789"
        for replacement in replacements.replace(number[position], ""):
            changed = number[:position] + replacement + number[position + 1 :]
            with pytest.raises(InvalidIdNumber):
                validate_id_number(changed, today=TODAY)


@given(valid_numbers())
def test_every_swap_of_adjacent_different_characters_is_detected(number):
    for position in range(17):
        first, second = number[position], number[position + 1]
        if first != second:
            swapped = number[:position] + second + first + number[position + 2 :]
            with pytest.raises(InvalidIdNumber):
                validate_id_number(swapped, today=TODAY)
