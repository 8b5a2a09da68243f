"""Every text of the staff inbox in Finnish, Swedish and English."""

from __future__ import annotations

TEXTS: dict[str, dict[str, str]] = {
    "fi": {
        "statistics": "Tilannekuva", "statistics_help": "Yrityskyselyt yksiköittäin viimeisen "
        "8 viikon ajalta, laskettu tietokannasta. Jokaisen kaavion luvut ovat sen taulukossa.",
        "csv": "Lataa CSV", "stat_per_unit": "Kyselyt yksiköittäin",
        "stat_per_week": "Kyselyt viikoittain", "stat_per_language": "Kyselyt kielittäin",
        "stat_per_topic": "Yleisimmät aiheet",
        "stat_first_response": "Ensimmäinen vastaus yksiköittäin (työpäivinä)",
        "stat_open_by_age": "Avoimet kyselyt iän mukaan",
        "stat_reroutes": "Siirrot yksiköstä toiseen",
        "stat_unsure_per_language": "Ei ymmärretty tai tarkennettu, kielittäin",
        "col_unit": "Yksikkö", "col_enquiries": "Kyselyt", "col_week": "Viikko",
        "col_language": "Kieli", "col_topic": "Aihe", "col_median_days": "Mediaani (työpv)",
        "col_within_promise": "Luvatussa ajassa %", "col_promised_days": "Luvattu (työpv)",
        "col_answered": "Vastattu", "col_waiting": "Odottaa", "col_age_days": "Ikä (pv)",
        "col_open": "Avoinna", "col_from_unit": "Yksiköstä", "col_to_unit": "Yksikköön",
        "col_reroutes": "Siirrot", "col_fallback_pct": "Ei ymmärretty %",
        "col_clarify_pct": "Tarkentava kysymys %", "col_messages": "Viestit",
        "no_data": "Ei tietoja.", "stat_ratings": "Asiakkaiden arviot (1-5)",
        "col_average_score": "Keskiarvo", "col_ratings": "Arvioita",
        "candidate": "Uusi mallikandidaatti", "candidate_help": "Kouluttaa mallin nykyisestä "
        "aineistosta ja vertaa sitä käytössä olevaan (taustalla, muutamia minuutteja).",
        "start_candidate": "Kouluta ja vertaa", "refresh": "Päivitä tilanne",
        "job_training": "Koulutetaan", "job_evaluating": "Verrataan",
        "job_done": "Valmis", "job_failed": "Epäonnistui",
        "gate_passed": "Kandidaatti läpäisi vertailun. Ota se käyttöön:",
        "review": "Tarkistettavat viestit", "review_help": "Viestit, joita avustaja ei ymmärtänyt "
        "varmasti (henkilötiedot peitetty). Valitse oikea aie: `bpbot data pull` vie valinnat "
        "koulutusaineistoon.", "review_reason": "Syy", "review_guess": "Mallin arvaus",
        "review_count": "Kertaa", "review_label": "Oikea aie", "save_label": "Tallenna",
        "not_an_enquiry": "Ei yrityskysely", "skip": "Ohita",
        "review_empty": "Ei tarkistettavaa.", "reason_fallback": "Ei ymmärretty",
        "reason_clarify": "Tarkentava kysymys", "reason_low_confidence": "Epävarma ohjaus",
        "reason_something_else": "Asiakas valitsi \"jokin muu\"",
        "reason_reroute": "Henkilöstö siirsi", "nav_inbox": "Kyselyt",
        "nav_review": "Tarkistettavat", "nav_statistics": "Tilannekuva",
        "title": "Yrityskyselyt", "login": "Kirjaudu sisään", "username": "Käyttäjätunnus",
        "password": "Salasana", "logout": "Kirjaudu ulos", "bad_login":
        "Käyttäjätunnus tai salasana on väärin.", "inbox": "Saapuneet kyselyt",
        "too_many_logins": "Liian monta kirjautumisyritystä. Odota minuutti ja yritä uudelleen.",
        "undelivered": "Toimittamatta jääneet ilmoitukset",
        "undelivered_help": "Näiden kyselyjen sähköposteja ei saatu perille yrityksistä "
        "huolimatta. Korjaa syy (esim. sähköpostipalvelin) ja aja `bpbot outbox retry`.",
        "locked": "Tili on lukittu liian monen väärän salasanan vuoksi. Odota 15 minuuttia tai "
        "pyydä ylläpitäjää avaamaan se.",
        "filters": "Rajaa", "status": "Tila", "unit": "Yksikkö", "language": "Kieli",
        "since": "Alkaen", "until": "Asti", "any": "Kaikki", "apply": "Näytä",
        "export": "Lataa CSV", "reference": "Viite", "received": "Saapunut",
        "customer": "Asiakas", "topic": "Aihe", "none_found": "Ei kyselyjä näillä ehdoilla.",
        "words": "Asiakkaan omin sanoin", "contact": "Yhteystiedot", "company": "Yritys",
        "business_id": "Y-tunnus", "email": "Sähköposti", "phone": "Puhelin",
        "reply_language": "Vastauskieli", "consent": "Suostumus", "transcript": "Keskustelu",
        "history": "Tapahtumat", "change_status": "Vaihda tila", "save": "Tallenna",
        "note": "Muistiinpano", "add_note": "Lisää muistiinpano", "reroute": "Siirrä toiselle "
        "yksikölle", "reason": "Syy", "move": "Siirrä", "back": "Takaisin listaan",
        "complaint": "Palaute / valitus", "new": "Uusi", "in_progress": "Käsittelyssä",
        "answered": "Vastattu",
        "closed": "Suljettu", "bot": "Avustaja", "customer_turn": "Asiakas",
        "not_found": "Kyselyä ei löydy yksiköidesi kyselyistä.",
        "saved": "Tallennettu.", "nav": "Staff-valikko",
        "csrf": "Lomake on vanhentunut tai ei tullut tältä sivustolta. Lataa sivu uudelleen ja "
        "yritä uudestaan.", "error_status": "Tuntematon tila.",
        "error_note": "Muistiinpano on tyhjä.", "error_reason": "Kerro siirron syy: "
        "ylläpitäjät oppivat siitä.", "error_same_unit": "Kysely on jo tällä yksiköllä.",
    },
    "sv": {
        "statistics": "Lägesbild", "statistics_help": "Företagsärenden per enhet de senaste "
        "8 veckorna, räknade ur databasen. Varje diagrams siffror finns i dess tabell.",
        "csv": "Ladda ner CSV", "stat_per_unit": "Ärenden per enhet",
        "stat_per_week": "Ärenden per vecka", "stat_per_language": "Ärenden per språk",
        "stat_per_topic": "Vanligaste ämnen",
        "stat_first_response": "Första svar per enhet (i arbetsdagar)",
        "stat_open_by_age": "Öppna ärenden efter ålder",
        "stat_reroutes": "Flyttningar mellan enheter",
        "stat_unsure_per_language": "Inte förstått eller preciserat, per språk",
        "col_unit": "Enhet", "col_enquiries": "Ärenden", "col_week": "Vecka",
        "col_language": "Språk", "col_topic": "Ämne", "col_median_days": "Median (arbetsd.)",
        "col_within_promise": "Inom utlovad tid %", "col_promised_days": "Utlovat (arbetsd.)",
        "col_answered": "Besvarade", "col_waiting": "Väntar", "col_age_days": "Ålder (d)",
        "col_open": "Öppna", "col_from_unit": "Från enhet", "col_to_unit": "Till enhet",
        "col_reroutes": "Flyttningar", "col_fallback_pct": "Inte förstått %",
        "col_clarify_pct": "Preciserande fråga %", "col_messages": "Meddelanden",
        "no_data": "Inga uppgifter.", "stat_ratings": "Kundernas betyg (1-5)",
        "col_average_score": "Medeltal", "col_ratings": "Betyg",
        "candidate": "Ny modellkandidat", "candidate_help": "Tränar en modell på nuvarande "
        "data och jämför den med den som används (i bakgrunden, några minuter).",
        "start_candidate": "Träna och jämför", "refresh": "Uppdatera läget",
        "job_training": "Tränas", "job_evaluating": "Jämförs",
        "job_done": "Klar", "job_failed": "Misslyckades",
        "gate_passed": "Kandidaten klarade jämförelsen. Ta den i bruk:",
        "review": "Meddelanden att granska", "review_help": "Meddelanden som assistenten inte "
        "var säker på (personuppgifter dolda). Välj rätt avsikt: `bpbot data pull` för in valen "
        "i träningsdata.", "review_reason": "Orsak", "review_guess": "Modellens gissning",
        "review_count": "Gånger", "review_label": "Rätt avsikt", "save_label": "Spara",
        "not_an_enquiry": "Inget företagsärende", "skip": "Hoppa över",
        "review_empty": "Inget att granska.", "reason_fallback": "Inte förstått",
        "reason_clarify": "Preciserande fråga", "reason_low_confidence": "Osäker hänvisning",
        "reason_something_else": "Kunden valde \"något annat\"",
        "reason_reroute": "Personalen flyttade", "nav_inbox": "Ärenden",
        "nav_review": "Att granska", "nav_statistics": "Lägesbild",
        "title": "Företagsärenden", "login": "Logga in", "username": "Användarnamn",
        "password": "Lösenord", "logout": "Logga ut", "bad_login":
        "Användarnamnet eller lösenordet är fel.", "inbox": "Inkomna ärenden",
        "too_many_logins": "För många inloggningsförsök. Vänta en minut och försök igen.",
        "undelivered": "Meddelanden som inte levererats",
        "undelivered_help": "E-posten för de här ärendena gick inte fram trots flera försök. "
        "Åtgärda orsaken (t.ex. e-postservern) och kör `bpbot outbox retry`.",
        "locked": "Kontot är låst efter för många fel lösenord. Vänta 15 minuter eller be "
        "en administratör att låsa upp det.",
        "filters": "Avgränsa", "status": "Status", "unit": "Enhet", "language": "Språk",
        "since": "Från", "until": "Till", "any": "Alla", "apply": "Visa",
        "export": "Ladda ner CSV", "reference": "Referens", "received": "Inkommet",
        "customer": "Kund", "topic": "Ämne", "none_found": "Inga ärenden med dessa villkor.",
        "words": "Kundens egna ord", "contact": "Kontaktuppgifter", "company": "Företag",
        "business_id": "FO-nummer", "email": "E-post", "phone": "Telefon",
        "reply_language": "Svarsspråk", "consent": "Samtycke", "transcript": "Konversation",
        "history": "Händelser", "change_status": "Ändra status", "save": "Spara",
        "note": "Anteckning", "add_note": "Lägg till anteckning", "reroute": "Flytta till en "
        "annan enhet", "reason": "Orsak", "move": "Flytta", "back": "Tillbaka till listan",
        "complaint": "Respons / klagomål", "new": "Ny", "in_progress": "Under behandling",
        "answered": "Besvarad",
        "closed": "Stängd", "bot": "Assistent", "customer_turn": "Kund",
        "not_found": "Ärendet finns inte bland dina enheters ärenden.", "saved": "Sparat.",
        "nav": "Personalmeny",
        "csrf": "Formuläret har gått ut eller kom inte från den här webbplatsen. Ladda om "
        "sidan och försök igen.", "error_status": "Okänd status.",
        "error_note": "Anteckningen är tom.", "error_reason": "Ange orsaken till flytten: "
        "administratörerna lär sig av den.", "error_same_unit": "Ärendet finns redan hos "
        "den här enheten.",
    },
    "en": {
        "statistics": "Situational picture", "statistics_help": "Business enquiries per unit "
        "over the last 8 weeks, computed from the database. Each chart's figures are in its "
        "table.", "csv": "Download CSV", "stat_per_unit": "Enquiries per unit",
        "stat_per_week": "Enquiries per week", "stat_per_language": "Enquiries per language",
        "stat_per_topic": "Most common topics",
        "stat_first_response": "First response per unit (working days)",
        "stat_open_by_age": "Open enquiries by age",
        "stat_reroutes": "Re-routes between units",
        "stat_unsure_per_language": "Not understood or clarified, per language",
        "col_unit": "Unit", "col_enquiries": "Enquiries", "col_week": "Week",
        "col_language": "Language", "col_topic": "Topic", "col_median_days": "Median (days)",
        "col_within_promise": "Within promise %", "col_promised_days": "Promised (days)",
        "col_answered": "Answered", "col_waiting": "Waiting", "col_age_days": "Age (days)",
        "col_open": "Open", "col_from_unit": "From unit", "col_to_unit": "To unit",
        "col_reroutes": "Re-routes", "col_fallback_pct": "Not understood %",
        "col_clarify_pct": "Clarifying question %", "col_messages": "Messages",
        "no_data": "No data.", "stat_ratings": "Customer ratings (1-5)",
        "col_average_score": "Average", "col_ratings": "Ratings",
        "candidate": "A new candidate model", "candidate_help": "Trains a model on the data "
        "as it is now and compares it with the live one (in the background, a few minutes).",
        "start_candidate": "Train and compare", "refresh": "Refresh the status",
        "job_training": "Training", "job_evaluating": "Comparing",
        "job_done": "Done", "job_failed": "Failed",
        "gate_passed": "The candidate passed the gate. Make it live:",
        "review": "Messages to review", "review_help": "Messages the assistant was not sure "
        "of (personal data masked). Choose the right intent: `bpbot data pull` takes the "
        "labels into the training data.", "review_reason": "Reason",
        "review_guess": "The model's guess", "review_count": "Times",
        "review_label": "Right intent", "save_label": "Save",
        "not_an_enquiry": "Not a business enquiry", "skip": "Skip",
        "review_empty": "Nothing to review.", "reason_fallback": "Not understood",
        "reason_clarify": "Clarifying question", "reason_low_confidence": "Unsure route",
        "reason_something_else": "The customer chose \"something else\"",
        "reason_reroute": "Re-routed by staff", "nav_inbox": "Enquiries",
        "nav_review": "To review", "nav_statistics": "Situational picture",
        "title": "Business enquiries", "login": "Sign in", "username": "Username",
        "password": "Password", "logout": "Sign out", "bad_login":
        "The username or password is wrong.", "inbox": "Incoming enquiries",
        "too_many_logins": "Too many sign-in attempts. Wait a minute and try again.",
        "undelivered": "Undelivered notifications",
        "undelivered_help": "The e-mails of these enquiries could not be delivered despite "
        "several attempts. Fix the cause (such as the mail server) and run "
        "`bpbot outbox retry`.",
        "locked": "The account is locked after too many wrong passwords. Wait 15 minutes or "
        "ask an administrator to unlock it.",
        "filters": "Filter", "status": "Status", "unit": "Unit", "language": "Language",
        "since": "From", "until": "To", "any": "All", "apply": "Show",
        "export": "Download CSV", "reference": "Reference", "received": "Received",
        "customer": "Customer", "topic": "Topic", "none_found": "No enquiries match.",
        "words": "The customer's own words", "contact": "Contact details",
        "company": "Company", "business_id": "Business ID", "email": "E-mail",
        "phone": "Phone", "reply_language": "Reply language", "consent": "Consent",
        "transcript": "Conversation", "history": "History", "change_status": "Change status",
        "save": "Save", "note": "Note", "add_note": "Add note", "reroute": "Move to another "
        "unit", "reason": "Reason", "move": "Move", "back": "Back to the list", "new": "New",
        "complaint": "Feedback / complaint",
        "in_progress": "In progress", "answered": "Answered", "closed": "Closed",
        "bot": "Assistant", "customer_turn": "Customer",
        "not_found": "No such enquiry among your units' enquiries.", "saved": "Saved.",
        "nav": "Staff menu",
        "csrf": "The form has expired or did not come from this site; reload the page and try "
        "again.", "error_status": "Unknown status.", "error_note": "The note is empty.",
        "error_reason": "Give a reason for the move: maintainers learn from it.",
        "error_same_unit": "The enquiry is already with this unit.",
    },
}
