"""Realistic people for the records tests, with ID numbers that pass the GB 11643 check."""

from typing import Any

from liaison_records.domain.idcard import check_digit


def id_number(region: str, birth: str, sequence: str) -> str:
    body = f"{region}{birth}{sequence}"
    return body + check_digit(body)


CHEN = id_number("450203", "19480503", "123")  # sequence 123: odd → male
LIN = id_number("450203", "19520817", "246")  # even → female


def chen(**overrides: Any) -> dict[str, Any]:
    return {
        "station_id": "st-shengli",
        "category": "returnee",
        "name": "陈小明",
        "id_number": CHEN,
        "phones": ["13877212345"],
        "address": {"community": "胜利社区", "building": "华侨新村3栋", "detail": "柳州市鱼峰区胜利路12号3栋2单元501"},
        "country": "VN",
        "return_year": 1978,
        "settlement": "柳州华侨农场",
        "former_employer": "柳州华侨塑料厂",
        "employment": "retired",
        "hardship": ["living_alone"],
        **overrides,
    }


def lin(**overrides: Any) -> dict[str, Any]:
    return {
        "station_id": "st-shengli",
        "category": "relative",
        "relation": "spouse",
        "name": "林美华",
        "id_number": LIN,
        "phones": ["13977254321"],
        "country": "ID",
        **overrides,
    }
