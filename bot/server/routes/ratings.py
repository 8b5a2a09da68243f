"""The customer's rating page: one click in the e-mail records the score; a comment may follow."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from bot.server.deps import AgentDep
from bot.store import ratings

router = APIRouter(tags=["ratings"], include_in_schema=False)
templates = Jinja2Templates(directory=str(Path(__file__).resolve().parent.parent / "templates"))
TEXTS = {
    "fi": {"title": "Kiitos arviostasi", "thanks": "Kiitos! Arviosi {score}/5 on tallennettu.",
           "change": "Voit muuttaa arviota:", "comment": "Haluatko kertoa lisää? (vapaaehtoinen)",
           "send": "Lähetä", "saved": "Kiitos palautteestasi.", "score": "Arvio"},
    "sv": {"title": "Tack för ditt betyg", "thanks": "Tack! Ditt betyg {score}/5 har sparats.",
           "change": "Du kan ändra betyget:", "comment": "Vill du berätta mer? (frivilligt)",
           "send": "Skicka", "saved": "Tack för din respons.", "score": "Betyg"},
    "en": {"title": "Thank you for your rating", "thanks": "Thank you! Your rating {score}/5 "
           "has been saved.", "change": "You can change it:",
           "comment": "Would you like to tell us more? (optional)", "send": "Send",
           "saved": "Thank you for your feedback.", "score": "Rating"},
}
NOT_FOUND = ("Arviointilinkkiä ei löydy; se voi olla katkennut tai kysely poistettu. / "
             "Betygslänken hittades inte; den kan vara avbruten eller ärendet raderat. / "
             "No such rating link; it may have been mistyped or the enquiry deleted.")


def _page(request: Request, lang: str, reference: str, token: str, score: int,
          saved: bool = False) -> HTMLResponse:
    t = TEXTS.get(lang, TEXTS["en"])
    return templates.TemplateResponse(request, "rate.html", {
        "t": t, "lang": lang if lang in TEXTS else "en", "reference": reference,
        "token": token, "score": score, "scores": ratings.SCORES, "saved": saved})


@router.get("/rate/{reference}")
def rate_link(request: Request, agent: AgentDep, reference: str, score: int = 0,
              token: str = "") -> HTMLResponse:
    """The link in the e-mail: records the score and thanks the customer."""
    settings = agent.settings
    if score not in ratings.SCORES or not ratings.valid(settings.session_secret, reference,
                                                         token):
        raise HTTPException(404, NOT_FOUND)
    lang = ratings.rate(agent.store.db, reference, score)
    if lang is None:
        raise HTTPException(404, NOT_FOUND)
    return _page(request, lang, reference, token, score)


@router.post("/rate/{reference}")
def rate_comment(request: Request, agent: AgentDep, reference: str,
                 score: Annotated[int, Form()], token: Annotated[str, Form()],
                 comment: Annotated[str, Form()] = "") -> HTMLResponse:
    """A changed score and an optional comment."""
    settings = agent.settings
    if score not in ratings.SCORES or not ratings.valid(settings.session_secret, reference,
                                                         token):
        raise HTTPException(404, NOT_FOUND)
    lang = ratings.rate(agent.store.db, reference, score, comment)
    if lang is None:
        raise HTTPException(404, NOT_FOUND)
    return _page(request, lang, reference, token, score, saved=True)
