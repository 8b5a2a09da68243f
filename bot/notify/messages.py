"""The staff notification of an enquiry: e-mail text and webhook JSON.

The e-mail is written in the customer's language and, when it differs, also in the unit's
working language (the first language of the unit's contact), so that staff and customer
read the same facts.
"""

from __future__ import annotations

import json
from typing import Any

from bot.routing import RoutingTable
from bot.store.enquiries import Notification
from bot.store.models import Enquiry

LABELS: dict[str, dict[str, str]] = {
    "fi": {"subject": "Uusi yrityskysely", "reference": "Viite", "unit": "Yksikkö",
           "intent": "Aihe (tunnistettu)", "name": "Nimi", "company": "Yritys",
           "business_id": "Y-tunnus", "email": "Sähköposti", "phone": "Puhelin",
           "reply_language": "Vastauskieli", "consent": "Suostumus annettu",
           "words": "Asiakkaan omin sanoin", "transcript": "Keskustelu",
           "customer": "Asiakas", "bot": "Avustaja", "none": "-"},
    "sv": {"subject": "Nytt företagsärende", "reference": "Referens", "unit": "Enhet",
           "intent": "Ämne (identifierat)", "name": "Namn", "company": "Företag",
           "business_id": "FO-nummer", "email": "E-post", "phone": "Telefon",
           "reply_language": "Svarsspråk", "consent": "Samtycke givet",
           "words": "Kundens egna ord", "transcript": "Konversation",
           "customer": "Kund", "bot": "Assistent", "none": "-"},
    "en": {"subject": "New business enquiry", "reference": "Reference", "unit": "Unit",
           "intent": "Topic (recognised)", "name": "Name", "company": "Company",
           "business_id": "Business ID", "email": "E-mail", "phone": "Phone",
           "reply_language": "Reply language", "consent": "Consent given",
           "words": "The customer's own words", "transcript": "Conversation",
           "customer": "Customer", "bot": "Assistant", "none": "-"},
}
STATUS_NAMES = {
    "fi": {"new": "vastaanotettu", "in_progress": "käsittelyssä", "answered": "vastattu",
           "closed": "suljettu"},
    "sv": {"new": "mottaget", "in_progress": "under behandling", "answered": "besvarat",
           "closed": "avslutat"},
    "en": {"new": "received", "in_progress": "in progress", "answered": "answered",
           "closed": "closed"},
}
COMPLAINT_LABELS = {"fi": "Palaute / valitus", "sv": "Respons / klagomål",
                    "en": "Feedback / complaint"}
COPY_TEXTS = {
    "fi": {"subject": "Kyselysi on vastaanotettu", "intro": "Kiitos yhteydenotosta! Kyselysi on "
           "välitetty eteenpäin.", "unit": "Vastaanottaja",
           "reference": "Viitenumero", "expect": "Vastaus tulee yleensä {days} arkipäivän "
           "kuluessa.", "footer": "Tämä on automaattinen viesti; "
           "voit pyytää tietojesi poistoa vastaamalla tähän viestiin."},
    "sv": {"subject": "Ditt ärende har tagits emot", "intro": "Tack för att du kontaktade oss! "
           "Ditt ärende har förmedlats.", "unit": "Mottagare",
           "reference": "Referensnummer", "expect": "Svaret kommer vanligen inom {days} "
           "vardagar.", "footer": "Det här är ett automatiskt "
           "meddelande; du kan be att dina uppgifter raderas genom att svara på det."},
    "en": {"subject": "Your enquiry has been received", "intro": "Thank you for getting in touch! "
           "Your enquiry has been forwarded.", "unit": "Recipient",
           "reference": "Reference", "expect": "You will usually get a reply within {days} "
           "working days.", "footer": "This is an automatic "
           "message; you can ask for your data to be deleted by replying to it."},
}
LANGUAGE_NAMES = {"fi": {"fi": "suomi", "sv": "ruotsi", "en": "englanti"},
                  "sv": {"fi": "finska", "sv": "svenska", "en": "engelska"},
                  "en": {"fi": "Finnish", "sv": "Swedish", "en": "English"}}


def _section(enquiry: Enquiry, lang: str, unit_name: str) -> str:
    t = LABELS[lang]
    rows = [
        (t["reference"], enquiry.reference),
        (t["unit"], unit_name),
        (t["intent"], enquiry.intent),
        (t["name"], enquiry.customer_name),
        (t["company"], enquiry.company),
        (t["business_id"], enquiry.business_id),
        (t["email"], enquiry.customer_email),
        (t["phone"], enquiry.customer_phone),
        (t["reply_language"], LANGUAGE_NAMES[lang].get(enquiry.reply_language,
                                                       enquiry.reply_language)),
        (t["consent"], f"{enquiry.consent_at:%Y-%m-%d %H:%M} UTC ({enquiry.notice_version})"),
    ]
    lines = [f"{label}: {value or t['none']}" for label, value in rows]
    lines += ["", f"{t['words']}:", enquiry.customer_text, "", f"{t['transcript']}:"]
    for turn in enquiry.transcript:
        who = t["customer"] if turn.get("from") == "customer" else t["bot"]
        lines.append(f"  {who}: {turn.get('text')}")
    return "\n".join(lines)


def email_text(enquiry: Enquiry, unit_names: dict[str, str], unit_language: str
               ) -> tuple[str, str]:
    """(subject, body) of the e-mail to the unit."""
    languages = [enquiry.language]
    if unit_language != enquiry.language:
        languages.append(unit_language)
    subject = " / ".join(LABELS[lang]["subject"] for lang in languages)
    sections = [_section(enquiry, lang, unit_names.get(lang, enquiry.unit))
                for lang in languages]
    return f"[{enquiry.reference}] {subject}", ("\n\n" + "-" * 60 + "\n\n").join(sections)


def webhook_payload(enquiry: Enquiry) -> str:
    """The JSON body of the unit's webhook (signed when delivered)."""
    body: dict[str, Any] = {
        "type": "enquiry.created", "reference": enquiry.reference, "unit": enquiry.unit,
        "language": enquiry.language, "reply_language": enquiry.reply_language,
        "intent": enquiry.intent, "confidence": enquiry.confidence,
        "customer": {"name": enquiry.customer_name, "company": enquiry.company,
                     "business_id": enquiry.business_id, "email": enquiry.customer_email,
                     "phone": enquiry.customer_phone},
        "text": enquiry.customer_text, "transcript": enquiry.transcript,
        "created_at": enquiry.created_at.isoformat(),
    }
    return json.dumps(body, ensure_ascii=False)


def status_name(status: str, lang: str) -> str:
    """An enquiry status in the customer's language."""
    return STATUS_NAMES.get(lang, STATUS_NAMES["en"]).get(status, status)


def customer_copy(enquiry: Enquiry, unit_name: str, response_days: int) -> tuple[str, str]:
    """(subject, body) of the copy sent to the customer, in their reply language."""
    lang = enquiry.reply_language if enquiry.reply_language in COPY_TEXTS else enquiry.language
    t = COPY_TEXTS.get(lang, COPY_TEXTS["en"])
    # No free text: the address is not verified, and the city must not mail anyone's words
    # to anyone; the reference, the unit and the expected reply are what the customer needs.
    body = "\n".join([
        t["intro"], "", f"{t['reference']}: {enquiry.reference}", f"{t['unit']}: {unit_name}",
        t["expect"].format(days=response_days), "", t["footer"]])
    return f"[{enquiry.reference}] {t['subject']}", body


def enquiry_notifications(enquiry: Enquiry, table: RoutingTable) -> list[Notification]:
    """What a new enquiry sends: the unit's e-mail, its webhook, the customer's copy."""
    unit = table.units[enquiry.unit]
    contact_languages = table.contact(unit.id, language=enquiry.language).languages
    subject, body = email_text(
        enquiry, {code: unit.names.get(code) or unit.id for code in ("fi", "sv", "en")},
        "fi" if "fi" in contact_languages else contact_languages[0])
    if enquiry.intent == "complaint":
        subject = f"{subject} ({COMPLAINT_LABELS.get(enquiry.language, COMPLAINT_LABELS['en'])})"
    out = [Notification("email", enquiry.unit_contact, subject, body)]
    if unit.webhook_url:
        out.append(Notification("webhook", unit.webhook_url, None, webhook_payload(enquiry)))
    if enquiry.customer_email:
        lang = enquiry.reply_language
        copy_subject, copy_body = customer_copy(
            enquiry, unit.names.get(lang) or unit.names.get("fi") or unit.id,
            unit.response_time_days)
        out.append(Notification("email", enquiry.customer_email, copy_subject, copy_body))
    return out


RATING_TEXTS = {
    "fi": {"subject": "Miten onnistuimme?", "intro": "Kyselyysi {reference} on vastattu. "
           "Arvioisitko palvelun (1 = huono, 5 = erinomainen)? Valitse arvio alta; avautuvalla "
           "sivulla voit lisätä kommentin ja lähettää arvion.",
           "expires": "Linkit toimivat {days} päivää, ja arvion voi lähettää kerran.",
           "footer": "Arvio on vapaaehtoinen. Tämä on automaattinen viesti."},
    "sv": {"subject": "Hur lyckades vi?", "intro": "Ditt ärende {reference} har besvarats. "
           "Vill du betygsätta servicen (1 = dålig, 5 = utmärkt)? Välj ett betyg nedan; på "
           "sidan som öppnas kan du lägga till en kommentar och skicka betyget.",
           "expires": "Länkarna fungerar i {days} dagar, och betyget kan skickas en gång.",
           "footer": "Betyget är frivilligt. Det här är ett automatiskt meddelande."},
    "en": {"subject": "How did we do?", "intro": "Your enquiry {reference} has been answered. "
           "Would you rate the service (1 = poor, 5 = excellent)? Choose a score below; on the "
           "page that opens you can add a comment and send your rating.",
           "expires": "The links work for {days} days, and a rating can be sent once.",
           "footer": "Rating is optional. This is an automatic message."},
}


def rating_request(enquiry: Enquiry, links: dict[int, str], valid_days: int = 30
                   ) -> tuple[str, str]:
    """(subject, body) asking the customer to rate, in their reply language.

    Args:
        enquiry: The answered enquiry.
        links: The link of each score (it opens the rating page; only its form records).
        valid_days: How long the links work (said in the e-mail).
    """
    lang = enquiry.reply_language if enquiry.reply_language in RATING_TEXTS else "en"
    t = RATING_TEXTS[lang]
    body = "\n".join([t["intro"].format(reference=enquiry.reference), "",
                      *(f"{score}: {links[score]}" for score in sorted(links)), "",
                      t["expires"].format(days=valid_days), t["footer"]])
    return f"[{enquiry.reference}] {t['subject']}", body
