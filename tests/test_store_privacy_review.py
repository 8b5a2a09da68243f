"""Review labels and exports: personal data masked, erased and purged with the conversation."""

from datetime import UTC, datetime, timedelta

import pytest
import yaml
from sqlalchemy import func, select, update

from bot.store import review
from bot.store.enquiries import NewEnquiry, create_enquiry
from bot.store.models import Conversation, Enquiry, ReviewLabel, ReviewLabelSender
from bot.store.privacy import erase, purge
from bot.store.staff import StaffMember, reroute
from bot.store.trackers import SQLTrackerStore

FALLBACK = {"intent": {"name": "nlu_fallback", "confidence": 0.3},
            "language": {"name": "fi"}, "routing": {}}
# (sender, customer's name, what they wrote that the assistant did not understand)
CUSTOMERS = [
    ("rv-maija", "Maija Meikäläinen",
     "Moi, Maija Meikäläinen täällä, mun kissa karkas, maija@kahvila.example.fi 040 1234567"),
    ("rv-olena", "Olena Kovalenko", "Olena Kovalenkolle pitäisi saada lupa pihalle"),
]
ADMIN = StaffMember(1, "admin", (), True, "fi")


def _conversation(db, sender: str, name: str, text: str, enquiry: bool = True) -> str | None:
    store = SQLTrackerStore(db)
    store.append(sender, [
        {"event": "user", "text": text, "timestamp": 1.0, "parse_data": {"text": text,
                                                                          **FALLBACK}},
        {"event": "slot", "name": "name", "value": name, "timestamp": 2.0}], 0, "fi")
    if not enquiry:
        return None
    _, reference = create_enquiry(db, NewEnquiry(
        sender, "fi", "fi", "terrace_permit", 0.9, "streets", "streets@example.fi", name,
        None, None, f"{sender}@example.fi", None, "2026-11", f"{name}: terassilupa",
        [{"from": "customer", "text": text}]))
    return reference


def _labels(db) -> list[str]:
    with db.session() as session:
        return sorted(session.scalars(select(ReviewLabel.text)))


def _label_all(db) -> None:
    for item in review.review_items(db):
        review.label(db, item.text, item.language, "terrace_permit", "maintainer")


@pytest.mark.parametrize("how", ["email", "reference", "sender"])
def test_store_privacy_review_erase_takes_the_conversations_labels(db, how):
    """Before: erase left the review labels, the customer's text in them."""
    references = {s: _conversation(db, s, n, t) for s, n, t in CUSTOMERS}
    _label_all(db)
    assert len(_labels(db)) == 2
    criterion = {"email": {"email": "rv-maija@example.fi"},
                 "reference": {"reference": references["rv-maija"]},
                 "sender": {"sender_id": "rv-maija"}}[how]
    removed = erase(db, **criterion)
    assert removed.review_labels == 1 and removed.conversations == 1
    assert _labels(db) == ["[name] pitäisi saada lupa pihalle"]
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(ReviewLabelSender)) == 1


def test_store_privacy_review_erase_takes_a_label_from_a_rerouted_enquiry(db):
    reference = _conversation(db, "rv-moved", "Maija Meikäläinen", "/greet")
    reroute(db, ADMIN, reference, "environment", "Maija Meikäläinen asked for the wrong unit",
            "environment@example.fi")
    [item] = review.review_items(db)
    assert item.reason == "reroute" and item.text == "[name]: terassilupa"
    review.label(db, item.text, "fi", "environmental_permit", "maintainer")
    assert erase(db, reference=reference).review_labels == 1 and _labels(db) == []


def test_store_privacy_review_purge_takes_old_conversations_and_old_labels(db):
    """Before: purge left the labels of the conversations it deleted."""
    for sender, name, text in CUSTOMERS:
        _conversation(db, sender, name, text, enquiry=False)
    _conversation(db, "rv-recent", "Anna Andersson", "Jag vet inte vad jag behöver",
                  enquiry=False)
    _label_all(db)
    long_ago = datetime.now(UTC) - timedelta(days=400)
    with db.session() as session:
        session.execute(update(Conversation).where(Conversation.sender_id == "rv-maija")
                        .values(updated_at=long_ago))
        session.execute(update(ReviewLabel).where(ReviewLabel.text.like("%pihalle%"))
                        .values(labelled_at=long_ago))
    removed = purge(db, retention_days=365)
    assert removed.conversations == 1 and removed.review_labels == 2
    assert _labels(db) == ["Jag vet inte vad jag behöver"]


def test_store_privacy_review_items_labels_and_pull_mask_names_and_contacts(db, tmp_path):
    """Before: the customer's name stood unmasked in the inbox and in review.yml."""
    for sender, name, text in CUSTOMERS:
        _conversation(db, sender, name, text, enquiry=False)
    items = {i.text: i for i in review.review_items(db)}
    assert sorted(items) == ["Moi, [name] täällä, mun kissa karkas, [email] [phone]",
                             "[name] pitäisi saada lupa pihalle"]
    assert {s for i in items.values() for s in i.senders} == {"rv-maija", "rv-olena"}
    _label_all(db)
    added = review.pull(db, tmp_path)
    written = (tmp_path / "fi" / review.PULLED_FILE).read_text(encoding="utf-8")
    assert added == {tmp_path / "fi" / review.PULLED_FILE: 2}
    for secret in ("Maija", "Meikäläinen", "Olena", "Kovalenko", "maija@", "1234567"):
        assert secret not in written
    parsed = yaml.safe_load(written)
    assert parsed["nlu"][0]["intent"] == "terrace_permit"


def test_store_privacy_review_corrections_export_masks_the_customers_name(db):
    """Before: `bpbot corrections export` showed the customer's name in text and reason."""
    reference = _conversation(db, "rv-export", "Maija Meikäläinen", "/greet")
    with db.session() as session:
        session.execute(update(Enquiry).values(
            customer_text="Maija Meikäläinen tarvitsee luvan, soita 040 1234567"))
    reroute(db, ADMIN, reference, "environment", "Meikäläisen asia\nkuuluu ympäristölle",
            "environment@example.fi")
    text = review.corrections_as_nlu(db, {"environment": ["environmental_permit", "noise"]})
    assert "Maija" not in text and "Meikäl" not in text and "1234567" not in text
    parsed = yaml.safe_load(text)
    assert parsed["nlu"] == [{"intent": "environmental_permit", "metadata": {"language": "fi"},
                              "examples": "- [name] tarvitsee luvan, soita [phone]\n"}]
    assert "# fi: streets -> environment; reason: [name] asia kuuluu ympäristölle" in text


@pytest.mark.parametrize(("text", "names", "expected"), [
    ("olen Matti Virtanen, Virtasen kahvila", ["Matti Virtanen"], "olen [name], [name] kahvila"),
    ("Anna minulle lupa", ["Olena Kovalenko"], "Anna minulle lupa"),
    ("hej, jag heter anna andersson", ["Anna Andersson"], "hej, jag heter [name]"),
    ("Li tarvitsee lisää", ["Li"], "[name] tarvitsee lisää"),
    ("mail me at a.b@example.fi or +358 40 123 4567", [], "mail me at [email] or [phone]"),
    ("hetu 131052-308T, Y-tunnus 3416721-2", [], "hetu [id], Y-tunnus [business-id]"),
])
def test_store_privacy_review_masker(text, names, expected):
    assert review.masked(text, names) == expected
