"""The widget in real headless Chromium, driven by Playwright."""

import re

import pytest

from bot.server.app import create_app
from tests.browser import CHROMIUM_ARGS, chromium_path, live_server
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def base_url(agent, project_settings):
    settings = project_settings.model_copy(update={
        "outbox_interval_s": 0, "rate_limit_per_minute": 1000})
    with live_server(create_app(settings, agent=agent)) as url:
        settings.allowed_origins.append(url)
        yield url


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        yield instance
        instance.close()


def say(page, text):
    count = page.locator(".bpw-msg.bpw-bot").count()
    page.fill("#bpw-input", text)
    page.keyboard.press("Enter")
    page.wait_for_function(
        "n => document.querySelectorAll('.bpw-msg.bpw-bot').length > n", arg=count)
    page.wait_for_selector(".bpw-typing", state="hidden")


def click_button(page, title):
    count = page.locator(".bpw-msg.bpw-bot").count()
    page.locator(".bpw-buttons").get_by_role("button", name=title, exact=True).click()
    page.wait_for_function(
        "n => document.querySelectorAll('.bpw-msg.bpw-bot').length > n", arg=count)
    page.wait_for_selector(".bpw-typing", state="hidden")


def bot_text(page):
    return " ".join(page.locator(".bpw-msg.bpw-bot").all_inner_texts())


@pytest.mark.parametrize("language,launcher,enquiry,yes,expected_unit", [
    ("fi", "Kysy yrityspalveluilta", "Haluaisin hakea terassilupaa kahvilalle kesäksi",
     "Kyllä, välitä", "Kaupungin infrastruktuuri"),
    ("sv", "Fråga företagstjänsterna", "Vi vill bygga en ny lagerhall, behövs bygglov?",
     "Ja, förmedla", "Byggnadstillsyn"),
    ("en", "Ask business services", "We need to recruit two welders, can the city help?",
     "Yes, forward it", "mployment"),
])
def test_browser_widget_whole_conversation(browser, base_url, agent, language, launcher,
                                           enquiry, yes, expected_unit):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.agent = agent
    page = context.new_page()
    page.goto(base_url + "/")
    if language != "fi":
        page.get_by_role("button", name="Kysy yrityspalveluilta").click()
        page.select_option("#bpw-lang", language)
        page.get_by_role("button", name=launcher).wait_for()
    else:
        page.get_by_role("button", name=launcher).click()
    assert page.locator("#bpw-panel").is_visible()
    say(page, enquiry)
    assert expected_unit.lower() in bot_text(page).lower()
    click_button(page, yes)
    say(page, {"fi": "Maija Meikäläinen", "sv": "Anna Andersson", "en": "Alex Smith"}[language])
    page.reload()
    page.wait_for_selector(".bpw-msg.bpw-user")
    assert enquiry in " ".join(page.locator(".bpw-msg.bpw-user").all_inner_texts())
    if not page.locator("#bpw-panel").is_visible():
        page.get_by_role("button", name=launcher).click()
    say(page, "Oy Testi Ab 3416721-2")
    say(page, "someone@example.fi")
    click_button(page, {"fi": "Lähetä", "sv": "Skicka", "en": "Send"}[language])
    assert "BP-" in bot_text(page)
    if language == "fi":
        page.screenshot(path=str(ROOT / "docs" / "widget.png"))
        reference = re.search(r"BP-\d{4}-\d{6}", bot_text(page)).group(0)
        reroute_as_staff(page, base_url, reference)
    context.close()


def staff_sign_in(page, base_url, username):
    page.goto(base_url + "/staff/login")
    page.fill("#username", username)
    page.fill("#password", "a long staff password")
    page.get_by_role("button", name="Kirjaudu sisään").click()
    page.wait_for_selector("h1")


def reroute_as_staff(page, base_url, reference):
    """The unit's staff member finds the enquiry and moves it; another unit gets 404."""
    from bot.store.staff import StaffError, add_staff

    agent = page.context.agent
    for name, unit in [("browser.streets", "streets"), ("browser.env", "environment")]:
        try:
            add_staff(agent.store.db, name, "a long staff password", [unit])
        except StaffError:
            pass
    staff_sign_in(page, base_url, "browser.streets")
    page.get_by_role("link", name=reference).click()
    page.select_option("#to_unit", "building-control")
    page.fill("#reason", "Julkisivun muutos, ei katualue")
    page.get_by_role("button", name="Siirrä").click()
    page.wait_for_selector("h1")
    from bot.store.enquiries import get_enquiry

    assert get_enquiry(agent.store.db, reference).unit == "building-control"
    staff_sign_in(page, base_url, "browser.env")
    response = page.goto(base_url + f"/staff/enquiries/{reference}")
    assert response.status == 404


def test_browser_widget_switch_language_mid_conversation(browser, base_url):
    page = browser.new_page()
    page.goto(base_url + "/")
    page.get_by_role("button", name="Kysy yrityspalveluilta").click()
    say(page, "Hei")
    page.select_option("#bpw-lang", "sv")
    assert page.get_by_role("button", name="Skicka").is_visible()
    say(page, "Hej")
    assert "Hej! Jag är Business Porvoos" in bot_text(page)
    page.close()


def test_browser_widget_renders_text_never_html(browser, base_url):
    page = browser.new_page()
    page.goto(base_url + "/")
    page.get_by_role("button", name="Kysy yrityspalveluilta").click()
    say(page, '<img src=x onerror="window.pwned=1">')
    assert page.evaluate("window.pwned") is None
    assert page.locator(".bpw-log img").count() == 0
    page.close()


def test_browser_widget_delete_my_conversation_and_phone_size(browser, base_url):
    context = browser.new_context(viewport={"width": 375, "height": 667})
    page = context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())
    page.goto(base_url + "/")
    page.get_by_role("button", name="Kysy yrityspalveluilta").click()
    box = page.locator("#bpw-panel").bounding_box()
    assert box["width"] == 375
    say(page, "Hei")
    page.get_by_role("button", name="Poista keskusteluni").click()
    page.wait_for_function("() => document.body.innerText.includes('Keskustelu poistettiin')")
    page.reload()
    assert page.evaluate("localStorage.getItem('bpw-sender')") is None
    context.close()


def test_browser_widget_too_long_message_keeps_the_text(browser, base_url, agent):
    """A message over the limit is refused with the limit in the customer's language; the
    text stays in the input field (nothing the customer wrote is lost)."""
    page = browser.new_page()
    page.goto(base_url + "/")
    page.get_by_role("button", name="Kysy yrityspalveluilta").click()
    page.select_option("#bpw-lang", "sv")
    long_text = "Vi behöver bygglov för en ny hall. " * 80
    # The input field stops at the default limit; a server configured lower still says so.
    page.evaluate("document.querySelector('#bpw-input').maxLength = 100000")
    say(page, long_text)
    limit = agent.settings.max_message_chars
    assert f"högst {limit} tecken" in bot_text(page)
    assert page.input_value("#bpw-input") == long_text
    page.close()


AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"


def axe_violations(page):
    assert AXE.is_file(), "axe-core is missing: scripts/setup.sh runs `npm ci` for the tests"
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("""async () => {
        const r = await axe.run(document, {runOnly: {type: 'tag',
            values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}});
        return r.violations.map(v => ({id: v.id, impact: v.impact,
            nodes: v.nodes.map(n => n.target.join(' '))}));
    }""")
    return result


@pytest.mark.parametrize("language", ["fi", "sv", "en"])
def test_browser_axe_demo_page_with_the_widget_open(browser, base_url, language):
    context = browser.new_context(bypass_csp=True)  # our CSP rightly blocks injected scripts
    page = context.new_page()
    page.goto(base_url + "/")
    page.get_by_role("button", name="Kysy yrityspalveluilta").click()
    if language != "fi":
        page.select_option("#bpw-lang", language)
    say(page, {"fi": "Miten haen terassilupaa?", "sv": "Hur ansöker jag om bygglov?",
               "en": "How do I apply for a building permit?"}[language])
    page.get_by_role("button", name={"fi": "Tietosuoja", "sv": "Dataskydd",
                                     "en": "Privacy"}[language]).click()
    assert axe_violations(page) == []
    context.close()


def test_browser_staff_inbox_accessible_and_screenshot(browser, base_url, agent):
    from bot.store.enquiries import NewEnquiry, create_enquiry
    from bot.store.staff import StaffError, add_staff

    try:
        add_staff(agent.store.db, "inbox.admin", "a long admin password", [], is_admin=True)
    except StaffError:
        pass
    text = "Haluaisimme laajentaa terassia kolmella pöydällä kesäksi."
    new = NewEnquiry("inbox-1", "fi", "fi", "terrace_permit", 0.93, "streets",
                     "street-permits@example.fi", "Maija Meikäläinen", "Kahvila Kantele Oy",
                     "3416721-2", "maija@kahvila.example.fi", None, "2026-11", text,
                     [{"from": "customer", "text": text}])
    _, reference = create_enquiry(agent.store.db, new)
    context = browser.new_context(bypass_csp=True, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(base_url + "/staff/login")
    assert axe_violations(page) == []
    page.fill("#username", "inbox.admin")
    page.fill("#password", "a long admin password")
    page.get_by_role("button", name="Kirjaudu sisään").click()
    page.wait_for_selector("table")
    assert axe_violations(page) == []
    page.screenshot(path=str(ROOT / "docs" / "inbox.png"))
    page.get_by_role("link", name=reference).click()
    page.wait_for_selector("blockquote")
    assert text in page.inner_text("blockquote")
    assert axe_violations(page) == []
    context.close()


def open_staff_page(browser, base_url, agent, username, role, path):
    """Sign in as a member of `role` (made once) and open `path`; the context and page."""
    from bot.store.staff import StaffError, add_staff

    try:
        add_staff(agent.store.db, username, "a long staff password", [], role=role)
    except StaffError:
        pass
    context = browser.new_context(bypass_csp=True, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    staff_sign_in(page, base_url, username)
    page.goto(base_url + path)
    return context, page


@pytest.mark.parametrize("language", ["fi", "sv", "en"])
def test_browser_review_inbox_accessible(browser, base_url, agent, language):
    """The maintainers' review inbox: listed unsure messages, axe-clean in fi, sv and en."""
    import httpx

    httpx.post(base_url + "/webhooks/rest/webhook", json={
        "sender": f"review-{language}", "message": "blaa blaa mitä tämä nyt on qwerty"})
    context, page = open_staff_page(browser, base_url, agent, "review.maintainer",
                                    "maintainer", f"/staff/review?lang={language}")
    page.wait_for_selector("table")
    assert "qwerty" in page.inner_text("table")
    assert axe_violations(page) == []
    context.close()


@pytest.mark.parametrize("language", ["fi", "sv", "en"])
def test_browser_statistics_accessible(browser, base_url, agent, language):
    """The situational picture: SVG charts with their tables, axe-clean in fi, sv and en."""
    from bot.store.enquiries import NewEnquiry, create_enquiry

    create_enquiry(agent.store.db, NewEnquiry(
        "stats-1", language, language, "terrace_permit", 0.9, "streets",
        "street-permits@example.fi", "Maija", None, None, "maija@example.fi", None, "2026-11",
        "Terassi"))
    context, page = open_staff_page(browser, base_url, agent, "picture.coordinator",
                                    "coordinator", f"/staff/statistics?lang={language}")
    page.wait_for_selector("svg.chart")
    assert page.locator("table").count() >= 3
    assert axe_violations(page) == []
    context.close()


@pytest.mark.parametrize("language", ["fi", "sv", "en"])
def test_browser_rating_page_accessible(browser, base_url, agent, language):
    """The customer's rating page (from the one-click link), axe-clean in fi, sv and en."""
    from bot.store import ratings
    from bot.store.enquiries import NewEnquiry, create_enquiry

    _, reference = create_enquiry(agent.store.db, NewEnquiry(
        f"rate-{language}", language, language, "terrace_permit", 0.9, "streets",
        "street-permits@example.fi", "Maija", None, None, "maija@example.fi", None, "2026-11",
        "Terassi"))
    link = ratings.links(base_url, agent.settings.session_secret, reference)[4]
    context = browser.new_context(bypass_csp=True)
    page = context.new_page()
    page.goto(link)
    assert "4/5" in page.inner_text("main")
    assert page.get_attribute("html", "lang") == language
    assert axe_violations(page) == []
    context.close()
