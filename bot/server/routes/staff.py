"""The staff inbox: sign-in, the enquiry list, an enquiry, status, notes, re-routing, CSV."""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from bot import candidates
from bot.notify.outbox import failed_deliveries
from bot.server.deps import AgentDep
from bot.server.security import client_key
from bot.server.staff_auth import check_csrf, new_csrf, read_session, write_session
from bot.server.staff_texts import TEXTS
from bot.store import limits, ratings, review, statistics
from bot.store import staff as store
from bot.store.enquiries import get_enquiry
from bot.store.staff import STATUSES, EnquiryFilter, StaffError, StaffMember, neutralise

router = APIRouter(prefix="/staff", tags=["staff"], include_in_schema=False)
templates = Jinja2Templates(directory=str(Path(__file__).resolve().parent.parent / "templates"))
FormField = Annotated[str, Form()]
# Sign-in attempts per minute (right or wrong) from one address, and for one account name.
LOGINS_PER_ADDRESS_PER_MINUTE = 20
LOGINS_PER_ACCOUNT_PER_MINUTE = 15


class Page:
    """What every staff page needs: session, member, language, texts."""

    def __init__(self, request: Request, agent: Any) -> None:
        self.request = request
        self.agent = agent
        self.session = read_session(request)
        if not self.session.get("csrf"):
            self.session["csrf"] = new_csrf()
        uid = self.session.get("uid")
        # A cookie of an ended session (signed out, here or elsewhere) names no member.
        self.member: StaffMember | None = (
            store.get_member(agent.store.db, int(uid), int(self.session.get("v") or 0))
            if uid is not None else None)
        wanted = request.query_params.get("lang")
        if wanted in TEXTS:
            self.session["lang"] = wanted
        self.lang = self.session.get("lang") or (self.member.language if self.member else "fi")
        self.t = TEXTS[self.lang]

    def unit_names(self) -> dict[str, str]:
        """Unit id -> name in the page's language."""
        return {uid: u.names.get(self.lang) for uid, u in self.agent.router.table.units.items()}

    def render(self, template: str, title: str, status: int = 200, **context: Any
               ) -> HTMLResponse:
        """A page, with the session cookie refreshed."""
        response = templates.TemplateResponse(
            self.request, template, {"t": self.t, "lang": self.lang, "member": self.member,
                                     "csrf": self.session["csrf"], "page_title": title,
                                     **context}, status_code=status)
        write_session(response, self.request, self.session)
        return response

    def redirect(self, url: str) -> RedirectResponse:
        """303 to `url`, with the session cookie."""
        response = RedirectResponse(url, status_code=303)
        write_session(response, self.request, self.session)
        return response

    def require(self) -> StaffMember:
        """The signed-in member.

        Raises:
            HTTPException: 303 to the sign-in page.
        """
        if self.member is None:
            raise HTTPException(303, headers={"Location": "/staff/login"})
        return self.member

    def enquiry(self, reference: str) -> Any:
        """The enquiry, if this member may see it.

        Raises:
            HTTPException: 404, with the text in the page's language, for an enquiry that
                does not exist and for one of another unit alike: the answer does not tell
                which references exist.
        """
        member = self.require()
        found = get_enquiry(self.agent.store.db, reference)
        if found is None or not member.may_see(found.unit):
            raise HTTPException(404, self.t["not_found"])
        return found


@router.get("/login")
def login_form(request: Request, agent: AgentDep) -> HTMLResponse:
    """The sign-in form."""
    page = Page(request, agent)
    return page.render("staff/login.html", page.t["login"])


@router.post("/login")
def login(request: Request, agent: AgentDep, username: FormField,
                password: FormField, csrf: FormField) -> Response:
    """Check the password; start a session.

    Attempts are limited per address and per account name (shared by every process)
    before any hash is checked, and too many wrong passwords lock the account for a while
    (counted in the database). The hashing runs in this thread with no database
    connection held (a plain function: FastAPI runs it outside the event loop).
    No database connection free in time answers 503 with Retry-After.
    """
    page = Page(request, agent)
    check_csrf(page.session, csrf, page.t["csrf"])
    name = username.strip().lower()
    try:
        wait = limits.hit(agent.store.db, [
            (f"login:address:{client_key(request)}", LOGINS_PER_ADDRESS_PER_MINUTE),
            (f"login:account:{name}", LOGINS_PER_ACCOUNT_PER_MINUTE)])
        if wait is not None:
            response = page.render("staff/login.html", page.t["login"], status=429,
                                   error=page.t["too_many_logins"])
            response.headers["Retry-After"] = str(wait)
            return response
        member = store.authenticate(agent.store.db, name, password)
    except PoolTimeoutError:
        busy = page.render("staff/login.html", page.t["login"], status=503,
                           error=page.t["login_busy"])
        busy.headers["Retry-After"] = "2"
        return busy
    except store.AccountLockedError:
        return page.render("staff/login.html", page.t["login"], status=423,
                           error=page.t["locked"])
    if member is None:
        return page.render("staff/login.html", page.t["login"], status=401,
                           error=page.t["bad_login"])
    page.session = {"uid": member.id, "v": member.session_version, "csrf": new_csrf(),
                    "lang": page.session.get("lang") or member.language}
    return page.redirect("/staff")


@router.post("/logout")
def logout(request: Request, agent: AgentDep, csrf: FormField) -> Response:
    """End the session, and every other session of the member (sign out everywhere)."""
    page = Page(request, agent)
    check_csrf(page.session, csrf, page.t["csrf"])
    if page.member is not None:
        store.end_sessions(agent.store.db, page.member.id)
    page.session = {"csrf": new_csrf(), "lang": page.lang}
    return page.redirect("/staff/login")


def _filters(request: Request) -> EnquiryFilter:
    q = request.query_params

    def day(value: str | None) -> date | None:
        try:
            return date.fromisoformat(value) if value else None
        except ValueError:
            return None

    status = q.get("status") if q.get("status") in STATUSES else None
    language = q.get("language") if q.get("language") in TEXTS else None
    return EnquiryFilter(status, q.get("unit") or None, language, day(q.get("since")),
                         day(q.get("until")))


@router.get("")
def inbox(request: Request, agent: AgentDep) -> HTMLResponse:
    """The member's enquiries with filters."""
    page = Page(request, agent)
    member = page.require()
    filters = _filters(request)
    names = page.unit_names()
    units = [(u, names[u]) for u in names if member.may_see(u)]
    query = urlencode({k: v for k, v in request.query_params.items() if k != "lang"})
    failed = failed_deliveries(agent.store.db) if member.is_admin else []
    return page.render("staff/list.html", page.t["inbox"], filters=filters, units=units,
                       statuses=STATUSES, unit_names=names, query=query, failed=failed,
                       enquiries=store.list_enquiries(agent.store.db, member, filters))


@router.get("/export.csv")
def export_csv(request: Request, agent: AgentDep) -> Response:
    """The listed enquiries as CSV."""
    page = Page(request, agent)
    member = page.require()
    rows = store.list_enquiries(agent.store.db, member, _filters(request), limit=100000)
    return Response(store.enquiries_csv(rows), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="enquiries.csv"'})


@router.get("/enquiries/{reference}")
def enquiry_page(request: Request, agent: AgentDep, reference: str) -> HTMLResponse:
    """One enquiry: the customer's words, contact data, transcript, history and actions."""
    page = Page(request, agent)
    found = page.enquiry(reference)
    names = page.unit_names()
    message = page.t["saved"] if request.query_params.get("saved") else None
    return page.render("staff/detail.html", reference, e=found, unit_names=names,
                       all_units=list(names.items()), statuses=STATUSES, message=message,
                       error=request.query_params.get("error"))


@router.post("/enquiries/{reference}/status")
def change_status(request: Request, agent: AgentDep, reference: str,
                        status: FormField, csrf: FormField) -> Response:
    """Set the enquiry's status."""
    page = Page(request, agent)
    check_csrf(page.session, csrf, page.t["csrf"])
    page.enquiry(reference)
    settings = agent.settings

    def change() -> None:
        store.set_status(agent.store.db, page.require(), reference, status)
        if status == "answered":  # the customer may rate it (with the form's consent)
            ratings.request_rating(agent.store.db, reference, settings.public_url,
                                   settings.session_secret, settings.rating_link_days)

    return _after(page, reference, change)


@router.post("/enquiries/{reference}/note")
def add_note(request: Request, agent: AgentDep, reference: str, note: FormField,
                   csrf: FormField) -> Response:
    """Add a note."""
    page = Page(request, agent)
    check_csrf(page.session, csrf, page.t["csrf"])
    page.enquiry(reference)
    return _after(page, reference, lambda: store.add_note(
        agent.store.db, page.require(), reference, note))


@router.post("/enquiries/{reference}/reroute")
def reroute(request: Request, agent: AgentDep, reference: str, to_unit: FormField,
                  reason: FormField, csrf: FormField) -> Response:
    """Move the enquiry to another unit; record the correction; notify the new unit."""
    from bot.notify.messages import email_text

    page = Page(request, agent)
    check_csrf(page.session, csrf, page.t["csrf"])
    found = page.enquiry(reference)
    table = agent.router.table
    if to_unit not in table.units:
        raise HTTPException(422, f"Unknown unit '{to_unit}'.")
    contact = table.contact(to_unit, language=found.language).email
    names = {code: table.units[to_unit].names.get(code) for code in ("fi", "sv", "en")}
    member = page.require()
    done = _after(page, reference, lambda: store.reroute(
        agent.store.db, member, reference, to_unit, reason, contact,
        notify=lambda e: email_text(e, names, "fi")))
    if done.headers["location"].endswith("saved=1") and not member.may_see(to_unit):
        return page.redirect("/staff")  # it is now another unit's enquiry
    return done


def _after(page: Page, reference: str, action: Any) -> Response:
    try:
        action()
    except StaffError as exc:
        message = page.t.get(exc.code or "", str(exc))
        return page.redirect(f"/staff/enquiries/{reference}?" + urlencode({"error": message}))
    return page.redirect(f"/staff/enquiries/{reference}?saved=1")


@router.get("/review")
def review_page(request: Request, agent: AgentDep) -> HTMLResponse:
    """Messages the assistant was unsure of, for maintainers to label."""
    page = Page(request, agent)
    member = page.require()
    if not member.may_review:
        raise HTTPException(404, page.t["not_found"])
    names = page.unit_names()
    table = agent.router.table
    intents = [(i, names.get(table.routes[i].unit) if i in table.routes else None)
               for i in agent.router.nlu.manifest.get("intents") or []
               if i not in ("nlu_fallback", review.NOT_AN_ENQUIRY)]
    return page.render("staff/review.html", page.t["review"], intents=intents,
                       items=review.review_items(agent.store.db),
                       job=candidates.view(candidates.latest(agent.store.db), page.lang),
                       saved=request.query_params.get("saved") == "1")


@router.post("/review/candidate")
def review_candidate(request: Request, agent: AgentDep, csrf: FormField) -> Response:
    """Train a candidate on the data as it is now and run the gate, in the background."""
    page = Page(request, agent)
    member = page.require()
    if not member.may_review:
        raise HTTPException(404, page.t["not_found"])
    check_csrf(page.session, csrf, page.t["csrf"])
    candidates.start(agent.store.db, agent.settings, member.username)
    return page.redirect("/staff/review#candidate")


@router.post("/review/label")
def review_label(request: Request, agent: AgentDep, text: FormField, language: FormField,
                 label: FormField, csrf: FormField) -> Response:
    """Label one message (or skip it); it leaves the list."""
    page = Page(request, agent)
    member = page.require()
    if not member.may_review:
        raise HTTPException(404, page.t["not_found"])
    check_csrf(page.session, csrf, page.t["csrf"])
    known = set(agent.router.nlu.manifest.get("intents") or []) | {review.SKIP}
    if label not in known or language not in TEXTS:
        raise HTTPException(422, f"Unknown intent '{label}' or language '{language}'.")
    review.label(agent.store.db, text, language, label, member.username)
    return page.redirect("/staff/review?saved=1")


# Which column a table's bar chart shows (the label is the first column; re-routes: both).
_CHART_VALUE = {"reroutes": 2, "per_week_unit": 2, "per_week_topic": 2,
                "per_week_language": 2}
_UNIT_COLUMNS = {"unit", "from_unit", "to_unit"}


def _statistics(page: Page) -> list[statistics.Table]:
    member = page.require()
    if not member.may_see_statistics:
        raise HTTPException(404, page.t["not_found"])
    table = page.agent.router.table
    promised = {uid: u.response_time_days for uid, u in table.units.items()}
    names = page.unit_names()
    tables = statistics.compute(page.agent.store.db, promised)
    for t in tables:  # unit ids as the page's names
        at = [i for i, c in enumerate(t.columns) if c in _UNIT_COLUMNS]
        t.rows = [[names.get(v, v) if i in at else v for i, v in enumerate(row)]
                  for row in t.rows]
    return tables


@router.get("/statistics")
def statistics_page(request: Request, agent: AgentDep) -> HTMLResponse:
    """The shared situational picture: charts with their data tables (admins, coordinators)."""
    page = Page(request, agent)
    tables = _statistics(page)
    charts = []
    for t in tables:
        value = _CHART_VALUE.get(t.name, 1)
        if value == 2:  # two label columns: "from → to", "week · unit"
            joint = " → " if t.name == "reroutes" else " · "
            chart = [(f"{r[0]}{joint}{r[1]}", float(r[value] or 0)) for r in t.rows]
        else:
            chart = t.chart(value)
        charts.append((t, chart))
    return page.render("staff/statistics.html", page.t["statistics"], tables=charts)


@router.get("/statistics.csv")
def statistics_csv(request: Request, agent: AgentDep) -> Response:
    """One table of the statistics page as CSV (column names in the page's language)."""
    page = Page(request, agent)
    wanted = request.query_params.get("table")
    found = next((t for t in _statistics(page) if t.name == wanted), None)
    if found is None:
        raise HTTPException(404, page.t["not_found"])
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([page.t["col_" + c] for c in found.columns])
    writer.writerows([[neutralise("" if v is None else str(v)) for v in row]
                      for row in found.rows])
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="statistics-{found.name}.csv"'})
