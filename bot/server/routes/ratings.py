"""The customer's rating page: the link in the e-mail shows the choices; the form records.

Opening the link (GET, which mail scanners do too) records nothing. The form's POST records
the score and an optional comment once; a second POST, a used link and an expired one are
told so in the customer's language.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from bot.server.deps import AgentDep
from bot.store import ratings
from bot.store.ratings import Outcome

router = APIRouter(tags=["ratings"], include_in_schema=False)
templates = Jinja2Templates(directory=str(Path(__file__).resolve().parent.parent / "templates"))
TEXTS = {
    "fi": {"title": "Arvioi palvelumme", "thanks_title": "Kiitos arviostasi",
           "intro": "Kyselysi {reference}: miten onnistuimme? (1 = huono, 5 = erinomainen)",
           "chosen": "Valitsit arvion {score}/5. Lähetä se alla olevalla painikkeella.",
           "thanks": "Kiitos! Arviosi {score}/5 on tallennettu.",
           "already": "Tämän kyselyn arvio on jo vastaanotettu. Kiitos!",
           "expired": "Tämä arviointilinkki on vanhentunut: linkit toimivat {days} päivää.",
           "comment": "Haluatko kertoa lisää? (vapaaehtoinen)", "send": "Lähetä arvio",
           "score": "Arvio"},
    "sv": {"title": "Betygsätt vår service", "thanks_title": "Tack för ditt betyg",
           "intro": "Ditt ärende {reference}: hur lyckades vi? (1 = dålig, 5 = utmärkt)",
           "chosen": "Du valde betyget {score}/5. Skicka det med knappen nedan.",
           "thanks": "Tack! Ditt betyg {score}/5 har sparats.",
           "already": "Betyget för det här ärendet har redan tagits emot. Tack!",
           "expired": "Den här betygslänken har gått ut: länkarna fungerar i {days} dagar.",
           "comment": "Vill du berätta mer? (frivilligt)", "send": "Skicka betyget",
           "score": "Betyg"},
    "en": {"title": "Rate our service", "thanks_title": "Thank you for your rating",
           "intro": "Your enquiry {reference}: how did we do? (1 = poor, 5 = excellent)",
           "chosen": "You chose {score}/5. Send it with the button below.",
           "thanks": "Thank you! Your rating {score}/5 has been saved.",
           "already": "The rating of this enquiry has already been received. Thank you!",
           "expired": "This rating link has expired: the links work for {days} days.",
           "comment": "Would you like to tell us more? (optional)", "send": "Send rating",
           "score": "Rating"},
}
NOT_FOUND = ("Arviointilinkkiä ei löydy; se voi olla katkennut tai kysely poistettu. / "
             "Betygslänken hittades inte; den kan vara avbruten eller ärendet raderat. / "
             "No such rating link; it may have been mistyped or the enquiry deleted.")
# The page's answer per outcome, on opening the link and on sending its form.
_STATUS = {Outcome.OPEN: 200, Outcome.RECORDED: 200, Outcome.ALREADY_RATED: 409,
           Outcome.EXPIRED: 410}


def _page(request: Request, result: ratings.LinkResult, reference: str, token: str,
          score: int, days: int, *, opened: bool = False) -> HTMLResponse:
    """The rating page for `result` (404 with the text in every language: no enquiry).

    Raises:
        HTTPException: 404 for an unknown enquiry or a token that is not its own.
    """
    if result.outcome is Outcome.NOT_FOUND:
        raise HTTPException(404, NOT_FOUND)
    lang = result.language if result.language in TEXTS else "en"
    # A used link opened again is only a page view; its form sent again is a conflict.
    status = 200 if opened and result.outcome is Outcome.ALREADY_RATED else _STATUS[
        result.outcome]
    return templates.TemplateResponse(request, "rate.html", {
        "t": TEXTS[lang], "lang": lang, "reference": reference, "token": token,
        "score": score, "scores": ratings.SCORES, "days": days,
        "state": result.outcome.value}, status_code=status,
        headers={"Cache-Control": "no-store"})


@router.get("/rate/{reference}")
def rate_link(request: Request, agent: AgentDep, reference: str, score: int = 0,
              token: str = "") -> HTMLResponse:
    """The link in the e-mail: the score choices as a form (`score` chosen); records nothing."""
    settings = agent.settings
    result = ratings.open_link(agent.store.db, settings.session_secret, reference, token,
                               days=settings.rating_link_days)
    return _page(request, result, reference, token, score if score in ratings.SCORES else 0,
                 settings.rating_link_days, opened=True)


@router.post("/rate/{reference}")
def rate_form(request: Request, agent: AgentDep, reference: str,
              score: Annotated[int, Form()], token: Annotated[str, Form()] = "",
              comment: Annotated[str, Form()] = "") -> HTMLResponse:
    """The form: records the score and the comment once (the token is the capability)."""
    settings = agent.settings
    if score not in ratings.SCORES:
        raise HTTPException(422, f"score {score} is not one of 1-5")
    result = ratings.rate_once(agent.store.db, settings.session_secret, reference, token,
                               score, comment, days=settings.rating_link_days)
    return _page(request, result, reference, token, score, settings.rating_link_days)
