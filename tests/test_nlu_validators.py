import pytest

from bot.nlu import validators
from bot.nlu.entities import extract_validated

BUSINESS_IDS = [("3416721-2", True), ("1068403-9", True), ("0737546-2", True),
                ("1234567-8", False), ("3416721-3", False), ("34167-2", False),
                ("341672-2", True), ("abc", False)]
PERSONAL_IDS = [("131052-308T", True), ("131052A308T", True), ("131052-308U", False),
                ("321352-308T", False),
                ("310290-123T", False)]  # the right control character, but 31 February
PHONES = [("040 123 4567", "+358401234567"), ("+358 50 765 4321", "+358507654321"),
          ("09 123 4567", "+35891234567"), ("12", None), ("4567", None),
          ("+46 8 123 456 78", "+46812345678"),  # Swedish: before, rejected
          ("+47 22 12 34 56", "+4722123456"),  # Norwegian
          ("0123456", None)]  # before, accepted


@pytest.mark.parametrize("value,valid", BUSINESS_IDS)
def test_validators_business_id_checksum(value, valid):
    assert validators.business_id_is_valid(value) is valid


@pytest.mark.parametrize("value,valid", PERSONAL_IDS)
def test_validators_personal_id_checksum(value, valid):
    assert validators.personal_id_is_valid(value) is valid


@pytest.mark.parametrize("value,expected", PHONES)
def test_validators_phone_normalised(value, expected):
    assert validators.normalise_phone(value) == expected


@pytest.mark.parametrize("text", ["Hetu 131052-308T, kiitos"])
def test_validators_mask_personal_ids(text):
    assert "131052-308T" not in validators.mask_personal_ids(text)
    assert "[henkilötunnus]" in validators.mask_personal_ids(text)


@pytest.mark.parametrize("text,entity,value", [
    ("Y-tunnus 3416721-2", "business_id", "3416721-2"),
    ("mail: Info@Yritys.example.fi.", "email", "info@yritys.example.fi"),
    ("soita 044-987 6543", "phone", "+358449876543"),
    ("hetu 131052-308T", "personal_id", "131052-308T"),
])
def test_entities_validated_extractors(text, entity, value):
    found = {e["entity"]: e for e in extract_validated(text)}
    assert found[entity]["value"] == value


def test_entities_invalid_business_id_flagged():
    (ent,) = [e for e in extract_validated("FO 1234567-8") if e["entity"] == "business_id"]
    assert ent["valid"] is False
