"""Entity extraction without spaCy: lookups on word beginnings and Finnish base forms."""

import pytest

from bot.nlu import entities as entities_module
from bot.nlu.entities import EntityExtractor
from bot.nlu.training_data import load_training_data


@pytest.fixture(scope="module")
def extractor() -> EntityExtractor:
    return EntityExtractor(load_training_data(["data/nlu"]).entity_patterns())


def found(extractor: EntityExtractor, text: str, language: str) -> list[tuple[str, str, str]]:
    return [(e["entity"], e["text"], e["value"]) for e in extractor.extract(text, language)]


@pytest.mark.parametrize(("text", "language", "expected"), [
    # Finnish stem changes need the base form: Kilpilahti -> Kilpilahdessa.
    ("Tontti Kilpilahdessa kiinnostaa", "fi", ("area", "Kilpilahdessa", "Kilpilahti")),
    ("Kahvila Vanhassa Porvoossa", "fi", ("area", "Vanhassa Porvoossa", "Vanha Porvoo")),
    ("Kuninkaanportissa olisi tilaa", "fi", ("area", "Kuninkaanportissa", "Kuninkaanportti")),
    # A word's beginning: Tarmola -> Tarmolasta, Sköldvik -> Sköldviks (synonym mapped).
    ("Varasto Tarmolasta", "fi", ("area", "Tarmolasta", "Tarmola")),
    ("Vi har en tomt i Sköldviks hamn", "sv", ("area", "Sköldviks", "Kilpilahti")),
    ("Our café is in Old Porvoo", "en", ("area", "Old Porvoo", "Vanha Porvoo")),
    # Languages asked for: the longest phrase wins and maps to a language code.
    ("Voisitteko vastata ruotsiksi", "fi", ("language", "ruotsiksi", "sv")),
    ("Kan ni svara på svenska", "sv", ("language", "på svenska", "sv")),
    ("Could you answer in English", "en", ("language", "in English", "en")),
    ("Puhutteko suomea", "fi", ("language", "suomea", "fi")),
])
def test_lookup_entities_match_inflected_forms(extractor, text, language, expected) -> None:
    assert expected in found(extractor, text, language)


def test_no_lookup_inside_a_longer_word_or_a_hyphenated_compound(extractor) -> None:
    assert found(extractor, "Onko englantilaistyyliselle pubille lupaa", "fi") == []
    assert found(extractor, "Is there an English-speaking group?", "en") == []


def test_company_with_a_legal_form_and_validated_entities(extractor) -> None:
    result = found(extractor, "Koodi Aho Oy, 1572860-0, info@example.fi", "fi")
    assert ("company", "Koodi Aho Oy", "Koodi Aho Oy") in result
    assert ("business_id", "1572860-0", "1572860-0") in result
    assert ("email", "info@example.fi", "info@example.fi") in result


def test_without_voikko_words_still_match_on_their_beginning(monkeypatch) -> None:
    def missing() -> None:
        raise OSError("libvoikko.so.1: cannot open shared object file")

    monkeypatch.setattr(entities_module.FinnishBaseForms, "__init__",
                        lambda self: missing())
    entities_module.finnish_base_forms.cache_clear()
    try:
        extractor = EntityExtractor(load_training_data(["data/nlu"]).entity_patterns())
        assert not extractor.finnish_lemmas
        assert ("area", "Tarmolasta", "Tarmola") in found(extractor, "Varasto Tarmolasta", "fi")
        assert not any(e[0] == "area" for e in found(extractor, "Kilpilahdessa", "fi"))
    finally:
        entities_module.finnish_base_forms.cache_clear()


def test_the_old_config_key_still_turns_base_forms_off() -> None:
    from bot.config import EntityExtractorConfig

    assert EntityExtractorConfig.model_validate({"finnish_pipeline": False}).finnish_lemmas is False
