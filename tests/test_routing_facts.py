import shutil
import textwrap

import pytest
import yaml

from bot.errors import RoutingTableError
from bot.routing import FACT_KINDS, load_routing

REQUIRED_INTENTS = ["terrace_permit", "building_permit", "building_sign", "change_of_use",
                    "environmental_permit", "food_premises", "green_transition_fund",
                    "business_plot", "start_business", "recruitment", "market_stall",
                    "procurement"]


@pytest.fixture()
def routing_copy(tmp_path, root):
    target = tmp_path / "routing"
    shutil.copytree(root / "routing", target)
    return target


GOOD = """\
version: 1
facts:
  terrace_permit:
    fees:
      fi: "Katso hinnasto."
      sv: "Se prislistan."
      en: "See the price list."
      source: https://www.porvoo.fi/fi/terassit/
"""


def _facts(text: str) -> str:
    return textwrap.dedent(text)


# (facts.yml text, the line the error must name, the key, words of the message)
MISTAKES = [
    (GOOD.replace("terrace_permit:", "terace_permit:"), 3, "facts.terace_permit",
     ["unknown intent: 'terace_permit' has no route", "Did you mean 'terrace_permit'",
      "routes.yml"]),
    (GOOD.replace("terrace_permit:", "greet:"), 3, "facts.greet",
     ["conversational intent", "routable"]),
    (GOOD.replace("fees:", "fee:"), 4, "facts.terrace_permit.fee",
     ["unknown key 'fee'", "Did you mean 'fees'", "processing_time", "where_to_apply"]),
    (GOOD.replace('      sv: "Se prislistan."\n', ""), 4, "facts.terrace_permit.fees.sv",
     ["Swedish text ('sv') is missing", "fi, sv and en"]),
    (GOOD.replace('      fi: "Katso hinnasto."\n', ""), 4, "facts.terrace_permit.fees.fi",
     ["Finnish text ('fi') is missing"]),
    (GOOD.replace('en: "See the price list."', 'en: ""'), 7, "facts.terrace_permit.fees.en",
     ["at least 1 character"]),
    (GOOD.replace("      source: https://www.porvoo.fi/fi/terassit/\n", ""), 4,
     "facts.terrace_permit.fees.source", ["'source' is missing"]),
    (GOOD.replace("https://www.porvoo.fi/fi/terassit/", "www.porvoo.fi/fi/terassit"), 8,
     "facts.terrace_permit.fees.source", ["expected a web address", "https://"]),
    (GOOD.replace("source: https://www.porvoo.fi/fi/terassit/",
                  "source: {fi: https://www.porvoo.fi/fi/, se: https://www.porvoo.fi/sv/}"), 8,
     "facts.terrace_permit.fees.source.se", ["unknown key 'se'", "Did you mean 'sv'"]),
    (GOOD.replace("source: https://www.porvoo.fi/fi/terassit/",
                  "source: {fi: https://www.porvoo.fi/fi/, sv: porvoo}"), 8,
     "facts.terrace_permit.fees.source.sv", ["expected a web address"]),
    (GOOD.replace("source: https://www.porvoo.fi/fi/terassit/", "source: {}"), 8,
     "facts.terrace_permit.fees.source", ["at least one page"]),
    (GOOD.replace("facts:", "fact:"), 2, "fact", ["unknown key 'fact'", "facts"]),
    (GOOD.replace('      fi: "Katso hinnasto."', '      fi: ["Katso", "hinnasto"]'), 5,
     "facts.terrace_permit.fees.fi", ["valid string"]),
]


@pytest.mark.parametrize("text,line,key,words", MISTAKES)
def test_routing_facts_errors_name_file_line_and_key(routing_copy, text, line, key, words):
    (routing_copy / "facts.yml").write_text(text, encoding="utf-8")
    with pytest.raises(RoutingTableError) as err:
        load_routing(routing_copy)
    message = str(err.value)
    assert f"facts.yml, line {line}, key '{key}'" in message
    assert err.value.line == line and err.value.key == key
    for word in words:
        assert word in message


@pytest.mark.parametrize("text,words", [
    ("facts: [oops\n", ["facts.yml", "invalid YAML at line 2"]),
])
def test_routing_facts_invalid_yaml(routing_copy, text, words):
    (routing_copy / "facts.yml").write_text(text, encoding="utf-8")
    with pytest.raises(RoutingTableError) as err:
        load_routing(routing_copy)
    for word in words:
        assert word in str(err.value)


@pytest.mark.parametrize("text", ["", "version: 1\n", "version: 1\nfacts: {}\n"])
def test_routing_facts_empty_file_means_no_facts(routing_copy, text):
    (routing_copy / "facts.yml").write_text(text, encoding="utf-8")
    assert load_routing(routing_copy).facts == {}


@pytest.mark.parametrize("missing", [True])
def test_routing_facts_file_is_optional(routing_copy, missing):
    (routing_copy / "facts.yml").unlink()
    table = load_routing(routing_copy)
    assert table.facts_for("terrace_permit", "fees", "fi") is None


@pytest.mark.parametrize("language,url", [
    ("fi", "https://www.porvoo.fi/fi/"), ("sv", "https://www.porvoo.fi/sv/"),
    ("en", "https://www.porvoo.fi/sv/")])  # no English page: en falls back... to fi first
def test_routing_facts_per_language_source(routing_copy, language, url):
    text = GOOD.replace("source: https://www.porvoo.fi/fi/terassit/",
                        "source: {fi: https://www.porvoo.fi/fi/, sv: https://www.porvoo.fi/sv/}")
    (routing_copy / "facts.yml").write_text(text, encoding="utf-8")
    fact = load_routing(routing_copy).facts_for("terrace_permit", "fees", language)
    assert fact is not None
    expected = url if language != "en" else "https://www.porvoo.fi/fi/"
    assert fact.source == expected


@pytest.mark.parametrize("intent", REQUIRED_INTENTS)
def test_routing_facts_cover_the_common_intents(routing_table, intent):
    kinds = [k for k in FACT_KINDS if routing_table.facts_for(intent, k, "fi") is not None]
    assert len(kinds) >= 2, f"{intent} has facts of {kinds} only"


def test_routing_facts_every_fact_has_all_three_languages(root, routing_table):
    raw = yaml.safe_load((root / "routing" / "facts.yml").read_text(encoding="utf-8"))
    assert raw["facts"]
    for intent, by_kind in raw["facts"].items():
        assert intent in routing_table.routes
        for kind, entry in by_kind.items():
            assert kind in FACT_KINDS
            for language in ("fi", "sv", "en"):
                assert entry[language].strip(), (intent, kind, language)
                fact = routing_table.facts_for(intent, kind, language)
                assert fact is not None and fact.text == entry[language]
                assert fact.source.startswith("https://")
            texts = {entry["fi"], entry["sv"], entry["en"]}
            assert len(texts) == 3, f"{intent}.{kind}: a text is not translated"


def test_routing_facts_never_name_a_precise_price(root):
    text = (root / "routing" / "facts.yml").read_text(encoding="utf-8")
    assert "€" not in text and " euro" not in text.lower()


@pytest.mark.parametrize("intent,kind,language,starts", [
    ("terrace_permit", "processing_time", "fi", "Terassilupa käsitellään yleensä"),
    ("terrace_permit", "processing_time", "sv", "Ett terrasstillstånd"),
    ("terrace_permit", "processing_time", "en", "A terrace permit"),
    ("terrace_permit", "processing_time", "de", "A terrace permit"),  # unknown: English
    ("procurement", "where_to_apply", "fi", "Kaupungin kilpailutukset"),
])
def test_routing_facts_for(routing_table, intent, kind, language, starts):
    fact = routing_table.facts_for(intent, kind, language)
    assert fact is not None and fact.text.startswith(starts)
    assert fact.intent == intent and fact.kind == kind


@pytest.mark.parametrize("intent,kind", [
    (None, "fees"), ("terrace_permit", "colour"), ("no_such_intent", "fees"),
    ("greet", "fees")])
def test_routing_facts_for_missing(routing_table, intent, kind):
    assert routing_table.facts_for(intent, kind, "fi") is None
