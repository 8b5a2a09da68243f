"""Several needs in one message (bot/service.py): clauses, sure and possible needs."""

import pytest

from bot.service import clauses

CLAUSES = [
    ("Tarvitsen terassiluvan ja lisäksi pitäisi palkata kokki.",
     [("Tarvitsen terassiluvan", False, True), ("lisäksi pitäisi palkata kokki.", True, True)]),
    ("Vi behöver bygglov. Dessutom vill vi anställa två personer",
     [("Vi behöver bygglov.", False, True),
      ("Dessutom vill vi anställa två personer", True, True)]),
    ("We need a terrace permit and also want to hire two baristas",
     [("We need a terrace permit", False, True), ("also want to hire two baristas", True, True)]),
    # A clause joined within a sentence continues its request; the next sentence does not.
    ("We want to demolish an old warehouse and buy the neighbouring city-owned plot. "
     "Our company has thirty employees in the old town",
     [("We want to demolish an old warehouse", False, True),
      ("buy the neighbouring city-owned plot.", True, True),
      ("Our company has thirty employees in the old town", False, False)]),
    ("terassilupa", []),
    ("Hei", []),
]
TWO_NEEDS = [
    ("fi", "Haemme rakennuslupaa uudelle hallille ja lisäksi tarvitsemme ympäristöluvan "
           "maalaamolle.", {"building-control", "environment"}),
    ("sv", "Vi behöver bygglov för en ny hall och dessutom miljötillstånd för "
           "lackeringen.", {"building-control", "environment"}),
    ("en", "We need a building permit for a new hall and also an environmental permit for "
           "the paint shop.", {"building-control", "environment"}),
]
ONE_NEED = [
    ("fi", "Haluaisin hakea terassilupaa kahvilalle kesäksi"),
    ("fi", "Meillä on pieni leipomo vanhassa kaupungissa. Haluaisimme laittaa pari "
           "pöytää kadulle kesäksi."),
    ("sv", "Vi har ett kafé i Gamla Borgå och vill söka tillstånd för en uteservering."),
    ("en", "We run a small bakery in the old town and would like to put two tables on the "
           "street this summer."),
]


@pytest.mark.parametrize("text,expected", CLAUSES)
def test_routing_needs_clauses(text, expected):
    assert clauses(text) == expected


@pytest.mark.parametrize("lang,text,units", TWO_NEEDS)
def test_routing_needs_two_in_one_message(router, lang, text, units):
    """Both units: sure, or the second offered as a possible need (one click)."""
    result = router.route(text)
    found = result.get("units") or [result["unit"], *result.get("possible_units", [])]
    assert set(found) == units, result
    assert result["unit"] in units and not result["needs_clarification"]


@pytest.mark.parametrize("lang,text", ONE_NEED)
def test_routing_needs_one_need_is_not_split(router, lang, text):
    result = router.route(text)
    assert "units" not in result and result["unit"] == "streets", result


@pytest.mark.parametrize("lang,text", [("fi", "Paljonko terassilupa maksaa?"),
                                       ("en", "How much does a terrace permit cost?")])
def test_routing_needs_a_question_names_its_need(router, lang, text):
    assert router.route(text)["unit"] == "streets"


class _Classifier:
    labels = ["terrace_permit", "recruitment", "greet"]


class _Config:
    fallback_threshold = 0.45
    ambiguity_margin = 0.1


class FixedNLU:
    """Rankings by clause text: enough to check how needs are decided."""

    classifier = _Classifier()
    classifier_config = _Config()

    def __init__(self, by_text):
        self.by_text = by_text

    def rank(self, texts, top=10):
        return [[{"name": n, "confidence": c} for n, c in self.by_text[t]] for t in texts]


@pytest.mark.parametrize("whole_recruitment,expected", [
    (0.3, [("streets", False), ("employment", False)]),   # both supported: two matters
    (0.01, [("streets", False), ("employment", True)]),   # hardly supported: offered
])
def test_routing_needs_sure_and_possible(routing_table, whole_recruitment, expected):
    from bot.service import Router

    first, second = "we need a terrace permit", "also want to hire two cooks"
    nlu = FixedNLU({first: [("terrace_permit", 0.97), ("recruitment", 0.02)],
                    second: [("recruitment", 0.96), ("terrace_permit", 0.03)]})
    router = Router(nlu, routing_table)  # type: ignore[arg-type]
    parsed = {"text": f"{first} and {second}", "entities": [], "intent_ranking": [
        {"name": "terrace_permit", "confidence": 1 - whole_recruitment},
        {"name": "recruitment", "confidence": whole_recruitment}]}
    needs = router.needs(parsed)
    assert [(n["unit"], n["possible"]) for n in needs] == expected
