"""Personal data at rest: tokens bound to their field, keys that rotate, indexes that survive it."""

import base64
import json
import os
import stat

import pytest
from hypothesis import given
from hypothesis import strategies as st
from liaison_infra.pii import (
    Keyring,
    PiiError,
    ensure_keyring_file,
    mask_address,
    mask_middle,
    mask_phone,
    rotate,
)

ID = "person.id_number"
PHONE = "person.phone"
ID_NUMBER = "11010519491231002X"
PROPERTY_KEYRING = Keyring({1: os.urandom(32)}, 1)


@pytest.fixture
def path(tmp_path):
    return ensure_keyring_file(tmp_path / "keys" / "pii.json")


@pytest.fixture
def keyring(path) -> Keyring:
    return Keyring.from_file(path)


def test_a_value_round_trips_as_a_compact_ascii_token(keyring) -> None:
    token = keyring.encrypt(ID_NUMBER, context=ID)
    assert token.startswith("v1:")
    assert token.isascii()
    assert ID_NUMBER not in token
    assert keyring.decrypt(token, context=ID) == ID_NUMBER


def test_a_file_is_sealed_as_bytes_and_opened_only_for_its_context(keyring) -> None:
    workbook = b"PK\x03\x04" + bytes(range(256)) * 40
    sealed = keyring.seal(workbook, context="import.workbook")
    assert sealed.startswith(b"v1:") and len(sealed) == len(workbook) + 3 + 12 + 16 and workbook not in sealed
    assert keyring.unseal(sealed, context="import.workbook") == workbook
    with pytest.raises(PiiError, match="does not authenticate"):
        keyring.unseal(sealed, context=ID)
    tampered = bytearray(sealed)
    tampered[40] ^= 0x01
    with pytest.raises(PiiError, match="does not authenticate"):
        keyring.unseal(bytes(tampered), context="import.workbook")
    with pytest.raises(PiiError, match="not sealed"):
        keyring.unseal(workbook, context="import.workbook")


def test_the_same_value_encrypts_differently_each_time(keyring) -> None:
    assert keyring.encrypt(ID_NUMBER, context=ID) != keyring.encrypt(ID_NUMBER, context=ID)


def test_a_tampered_token_is_refused(keyring) -> None:
    version, body = keyring.encrypt(ID_NUMBER, context=ID).split(":")
    raw = bytearray(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    raw[14] ^= 0x01
    tampered = f"{version}:{base64.urlsafe_b64encode(bytes(raw)).rstrip(b'=').decode()}"
    with pytest.raises(PiiError, match="does not authenticate"):
        keyring.decrypt(tampered, context=ID)


def test_a_token_copied_into_another_field_is_refused(keyring) -> None:
    token = keyring.encrypt("13812345678", context=PHONE)
    with pytest.raises(PiiError, match="does not authenticate"):
        keyring.decrypt(token, context=ID)


@pytest.mark.parametrize(
    "token", ["v7:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "v0:AAAA", "11010519491231002X", "v1:AAAA"]
)
def test_unknown_versions_and_malformed_tokens_are_refused(keyring, token) -> None:
    with pytest.raises(PiiError):
        keyring.decrypt(token, context=ID)


def test_unknown_version_names_the_version(keyring) -> None:
    token = keyring.encrypt(ID_NUMBER, context=ID).replace("v1:", "v9:")
    with pytest.raises(PiiError, match="unknown key version 9"):
        keyring.decrypt(token, context=ID)


def test_after_rotation_old_tokens_decrypt_and_new_ones_use_the_new_version(path, keyring) -> None:
    old = keyring.encrypt(ID_NUMBER, context=ID)
    rotated = rotate(path)
    reloaded = Keyring.from_file(path)
    new = reloaded.encrypt(ID_NUMBER, context=ID)
    assert rotated.current == reloaded.current == 2
    assert new.startswith("v2:")
    assert reloaded.decrypt(old, context=ID) == reloaded.decrypt(new, context=ID) == ID_NUMBER
    assert reloaded.needs_reencryption(old)
    assert not reloaded.needs_reencryption(new)
    with pytest.raises(PiiError, match="unknown key version 2"):
        keyring.decrypt(new, context=ID)


def test_blind_index_is_deterministic_stripped_and_separated_by_field(keyring) -> None:
    index = keyring.blind_index(ID_NUMBER, context=ID)
    assert index.startswith("v1:")
    assert keyring.blind_index(f"  {ID_NUMBER}\n", context=ID) == index
    assert keyring.blind_index(ID_NUMBER, context=PHONE) != index
    assert keyring.blind_index(ID_NUMBER.lower(), context=ID) != index


def test_blind_indexes_after_rotation_still_find_values_indexed_before(path, keyring) -> None:
    before = keyring.blind_index(ID_NUMBER, context=ID)
    rotated = rotate(path)
    after = rotated.blind_index(ID_NUMBER, context=ID)
    assert after.startswith("v2:")
    assert after != before
    assert rotated.blind_indexes(ID_NUMBER, context=ID) == [after, before]


def test_the_keyring_file_is_private_and_reused(path) -> None:
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    document = json.loads(path.read_text())
    assert document["current"] == 1
    assert len(base64.b64decode(document["keys"]["1"])) == 32
    content = path.read_text()
    assert ensure_keyring_file(path) == path
    assert path.read_text() == content
    rotate(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(json.loads(path.read_text())["keys"]) == ["1", "2"]


@pytest.mark.parametrize(
    "document",
    [
        "not json",
        {"current": 2, "keys": {"1": base64.b64encode(bytes(32)).decode()}},
        {"current": 1, "keys": {"1": base64.b64encode(bytes(16)).decode()}},
        {"current": 1, "keys": {"1": "not base64!"}},
    ],
)
def test_a_malformed_keyring_file_is_refused(tmp_path, document) -> None:
    path = tmp_path / "pii.json"
    path.write_text(document if isinstance(document, str) else json.dumps(document))
    with pytest.raises(PiiError, match="malformed"):
        Keyring.from_file(path)


def test_masking() -> None:
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone(" 13812345678 ") == "138****5678"
    assert mask_middle(ID_NUMBER, 6, 4) == "110105********002X"
    assert mask_middle("abc", 2, 2) == "***"
    assert mask_middle("abcdef", 1, 0, char="#") == "a#####"
    assert mask_address("广东省广州市越秀区解放北路1号") == "广东省广州市*********"
    assert mask_address("柳州市鱼峰区胜利路12号3栋2单元501") == "柳州市鱼峰区" + "*" * 14
    assert mask_address("广西壮族自治区柳州市鱼峰区") == "广西壮族自治区柳州市***"
    assert mask_address("胜利路12号3栋501") == "*" * 11, "an address without its divisions shows nothing"
    assert mask_address("北京市") == "***"


@given(plaintext=st.text(), context=st.text(min_size=1))
def test_any_text_round_trips(plaintext, context) -> None:
    token = PROPERTY_KEYRING.encrypt(plaintext, context=context)
    assert PROPERTY_KEYRING.decrypt(token, context=context) == plaintext


@given(value=st.text(), keep_start=st.integers(0, 8), keep_end=st.integers(0, 8))
def test_a_mask_keeps_the_length(value, keep_start, keep_end) -> None:
    assert len(mask_middle(value, keep_start, keep_end)) == len(value)
