"""The dashboard in Debian's Chromium, headless, against a real ``apf serve --demo``.

One walk through the farm: sign in, see the demo printers live, upload a file, queue it,
start it on a chosen printer, pause and resume it, watch it finish, confirm the bed;
then a read-only key sees no control buttons. No error may reach the browser console.
The first-screen time is printed (a figure, not an assertion)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from apf_core.demo.gcode import demo_gcode

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,900",
)

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
if not (os.path.exists(CHROMIUM) and os.path.exists(DRIVER)):
    pytest.skip(
        "Chromium or chromedriver is missing (Debian: apt-get install chromium chromium-driver;"
        " scripts/test installs them when run as root)",
        allow_module_level=True,
    )

from selenium.common.exceptions import StaleElementReferenceException  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402

WAIT = 20


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _apf(*args: str, env: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "apf_core.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return done.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    data = tmp_path_factory.mktemp("dashboard")
    # jobs start only when the test says so (the dashboard's Start button)
    env = {**os.environ, "APF_DATA_DIR": str(data), "APF_AUTO_DISPATCH": "0"}
    env.pop("APF_DATABASE_URL", None)
    full = _apf("keys", "create", "--name", "operator", "--scopes", "read,write,control", env=env)
    viewer = _apf("keys", "create", "--name", "viewer", "--scopes", "read", env=env)
    port = _free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "apf_core.cli",
            "serve",
            "--demo",
            "--no-zeroconf",
            "--port",
            f"{port}",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not any("listening on" in x for x in lines):
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
    try:
        assert any("listening on" in x for x in lines), "".join(lines)
        yield {"url": f"http://127.0.0.1:{port}", "full": full, "read": viewer, "dir": str(data)}
    finally:
        proc.terminate()
        proc.wait(timeout=20)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def until(driver: Any, condition: Callable[[Any], Any], what: str, timeout: float = WAIT) -> Any:
    def check(d: Any) -> Any:
        try:
            return condition(d)
        except StaleElementReferenceException:  # the card was re-rendered meanwhile
            return False

    return WebDriverWait(driver, timeout, poll_frequency=0.05).until(check, message=what)


def card(driver: Any, name: str) -> Any:
    for element in driver.find_elements(By.CSS_SELECTOR, "article.printer"):
        if element.find_element(By.CSS_SELECTOR, "h3").text == name:
            return element
    return None


def click_in(driver: Any, scope: Callable[[], Any], label: str) -> None:
    """Click the button labelled ``label`` inside the element ``scope()`` returns."""

    def find(d: Any) -> Any:
        root = scope()
        if root is None:
            return False
        for button in root.find_elements(By.CSS_SELECTOR, "button"):
            if button.text == label and button.is_enabled():
                return button
        return False

    until(driver, find, f"button {label!r}").click()


def state_of(driver: Any, name: str) -> str:
    found = card(driver, name)
    return found.get_attribute("data-state") if found is not None else ""


def sign_in(driver: Any, url: str, key: str) -> None:
    driver.get(url + "/")
    driver.execute_script("sessionStorage.clear()")
    driver.get(url + "/")
    field = until(driver, lambda d: d.find_element(By.ID, "key"), "the sign-in form")
    field.send_keys(key)
    driver.find_element(By.CSS_SELECTOR, "form.signin button[type=submit]").click()
    until(
        driver, lambda d: len(d.find_elements(By.CSS_SELECTOR, "article.printer")) >= 4, "4 cards"
    )


def console_errors(driver: Any) -> list[dict[str, Any]]:
    return [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def test_operator_walkthrough_and_read_only_view(
    demo_server: dict[str, str], browser: Any, tmp_path: Path
) -> None:
    url = demo_server["url"]
    # a wrong key: the server's reason in words next to the form, and no way in
    browser.get(url + "/")
    until(browser, lambda d: d.find_element(By.ID, "key"), "the sign-in form").send_keys(
        "apf_live_" + "0" * 64
    )
    browser.find_element(By.CSS_SELECTOR, "form.signin button[type=submit]").click()
    refusal = until(browser, lambda d: d.find_element(By.CSS_SELECTOR, ".signin .notice.error"), "")
    assert "TOKEN_INVALID" in refusal.text and browser.find_element(By.ID, "nav").get_attribute(
        "hidden"
    )
    browser.get_log("browser")  # the 401 itself is logged by Chromium; later errors count

    sign_in(browser, url, demo_server["full"])
    assert "read, write, control" in browser.find_element(By.ID, "who").text
    until(browser, lambda d: d.find_element(By.ID, "live").text == "live", "the event stream")

    # the first screen again, from a cold page load with the key in the tab's storage
    browser.refresh()
    until(browser, lambda d: d.execute_script("return window.__apfFirstScreenMs"), "first screen")
    first_screen = browser.execute_script("return window.__apfFirstScreenMs")
    print(f"\ndashboard first screen (navigation start -> printer cards): {first_screen:.0f} ms")
    assert demo_server["full"] not in browser.current_url

    # upload a G-code file through the Files page
    gcode = tmp_path / "dash-test.gcode"
    gcode.write_text(
        demo_gcode("dash-test", minutes=20, layers=40, grams=4.0, filament="PLA", model="X1C")
    )
    browser.find_element(By.CSS_SELECTOR, 'nav a[data-page="files"]').click()
    until(browser, lambda d: d.find_element(By.ID, "upload-input"), "the upload field")
    browser.find_element(By.ID, "upload-input").send_keys(str(gcode))
    file_card = until(
        browser,
        lambda d: next(
            (
                c
                for c in d.find_elements(By.CSS_SELECTOR, "article.file")
                if c.find_element(By.CSS_SELECTOR, "h3").text == "dash-test.gcode"
            ),
            None,
        ),
        "the uploaded file's card",
    )
    assert "40" in file_card.text and "20 min" in file_card.text  # parsed metadata
    click_in(browser, lambda: file_card, "Queue")
    until(browser, lambda d: "Queued 1 copy" in file_card.text, "the queue confirmation")

    # start it on a chosen printer from the Queue page
    browser.find_element(By.CSS_SELECTOR, 'nav a[data-page="queue"]').click()

    def queued_row(d: Any) -> Any:
        for row in d.find_elements(By.CSS_SELECTOR, "#queue tr[data-job]"):
            if "dash-test.gcode" in row.text and "queued" in row.text:
                return row
        return None

    row = until(browser, queued_row, "the queued job")
    click_in(browser, lambda: queued_row(browser), "Why not?")  # the eligibility explanation
    until(browser, lambda d: "printer(s) can take this job" in queued_row(d).text, "eligibility")
    assert "X1C" in queued_row(browser).find_element(By.CSS_SELECTOR, "ul.why").text
    Select(row.find_element(By.CSS_SELECTOR, "select")).select_by_visible_text("X1C")
    click_in(browser, lambda: queued_row(browser), "Start")

    # watch it print on the simulated X1C, pause and resume it from its card
    browser.find_element(By.CSS_SELECTOR, 'nav a[data-page="farm"]').click()
    until(browser, lambda d: state_of(d, "X1C") == "printing", "X1C printing")
    assert browser.find_elements(By.CSS_SELECTOR, 'main button[data-scope="control"]')
    assert "dash-test.gcode" in card(browser, "X1C").text
    click_in(browser, lambda: card(browser, "X1C"), "Pause")
    until(browser, lambda d: state_of(d, "X1C") == "paused", "X1C paused")
    click_in(browser, lambda: card(browser, "X1C"), "Resume")
    until(browser, lambda d: state_of(d, "X1C") == "printing", "X1C printing again")
    progress = until(
        browser,
        lambda d: (
            float(card(d, "X1C").find_element(By.TAG_NAME, "progress").get_attribute("value")) > 0
        ),
        "progress",
    )
    assert progress

    # the print finishes: confirm the bed is clear
    click_in(browser, lambda: card(browser, "X1C"), "Bed clear: print good")
    until(browser, lambda d: state_of(d, "X1C") == "idle", "X1C idle after the bed check")
    assert "clear the bed" not in card(browser, "X1C").text
    assert console_errors(browser) == []

    # a read-only key: the same farm, no buttons that change anything
    browser.find_element(By.ID, "signout").click()
    sign_in(browser, url, demo_server["read"])
    assert "read" in browser.find_element(By.ID, "who").text
    for page in ("farm", "queue", "files", "stock"):
        browser.find_element(By.CSS_SELECTOR, f'nav a[data-page="{page}"]').click()
        until(browser, lambda d, p=page: d.title == f"APF · {p}", f"the {page} page")
        assert browser.find_elements(By.CSS_SELECTOR, "main button[data-scope]") == [], page
    assert browser.find_elements(By.ID, "dropzone") == []
    assert console_errors(browser) == []
    browser.find_element(By.CSS_SELECTOR, 'nav a[data-page="farm"]').click()
    until(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, "article.printer")) == 4, "cards")
    if os.environ.get("APF_DASHBOARD_SCREENSHOT"):  # the README's picture
        browser.save_screenshot(os.environ["APF_DASHBOARD_SCREENSHOT"])


def test_api_docs_from_the_dashboard_link_with_authorize_and_try_it(
    demo_server: dict[str, str], browser: Any
) -> None:
    """The footer's "API docs" link opens Swagger UI (served from the package, under the
    page's CSP); the tags come in order and "Authorize" + "Try it out" call with the key."""
    url = demo_server["url"]
    browser.get(url + "/")
    browser.execute_script("localStorage.clear()")  # no key kept from an earlier run
    browser.get_log("browser")
    browser.find_element(By.LINK_TEXT, "API docs").click()
    until(browser, lambda d: d.find_element(By.ID, "operations-tag-Printers"), "the Printers tag")
    # Swagger UI renders only what is in view: ask it for its order of the sections
    tags = browser.execute_script("return ui.specSelectors.taggedOperations().keySeq().toJS()")
    assert tags[:3] == ["Printers", "Jobs", "Files"] and tags[-1] == "Server"
    assert browser.find_element(By.ID, "operations-Printers-list_printers")
    # Markdown in the descriptions is rendered (the API description has **bold**)
    assert browser.find_elements(By.CSS_SELECTOR, ".info .renderedMarkdown strong")

    browser.find_element(By.CSS_SELECTOR, ".auth-wrapper button.authorize").click()
    field = until(browser, lambda d: d.find_element(By.CSS_SELECTOR, ".auth-container input"), "")
    field.send_keys(demo_server["read"])
    browser.find_element(By.CSS_SELECTOR, ".auth-container button[type=submit]").click()
    until(browser, lambda d: d.find_element(By.CSS_SELECTOR, ".btn-done"), "authorized").click()

    browser.find_element(By.CSS_SELECTOR, 'a[href="#/Server"]').click()  # the table of contents
    op = until(browser, lambda d: d.find_element(By.ID, "operations-Server-server_info"), "op")
    op.find_element(By.CSS_SELECTOR, ".opblock-summary-control").click()
    until(browser, lambda d: op.find_element(By.CSS_SELECTOR, ".try-out__btn"), "try it").click()
    until(browser, lambda d: op.find_element(By.CSS_SELECTOR, ".execute"), "execute").click()
    answer = until(
        browser,
        lambda d: op.find_element(
            By.CSS_SELECTOR, ".live-responses-table .response .highlight-code"
        ),
        "the live response",
    )
    status = op.find_element(
        By.CSS_SELECTOR, ".live-responses-table .response .response-col_status"
    )
    assert status.text.strip() == "200"
    assert '"scopes"' in answer.text and '"read"' in answer.text
    assert console_errors(browser) == []  # no CSP violation, no failed load


def test_stock_orders_events_keyboard_and_phone_width(
    demo_server: dict[str, str], browser: Any
) -> None:
    url = demo_server["url"]
    browser.set_window_size(1280, 900)
    sign_in(browser, url, demo_server["full"])
    browser.get_log("browser")

    # keyboard: the skip link is the first stop, shows when focused and moves focus to the content
    skip = browser.execute_script(
        "return document.querySelector('a[href], button:not([hidden]), input, select, textarea,"
        ' [tabindex]:not([tabindex="-1"])\')'
    )
    assert skip.get_attribute("class") == "skip"
    browser.execute_script("arguments[0].focus()", skip)
    top, height = browser.execute_script(
        "const r = arguments[0].getBoundingClientRect(); return [r.top, r.height]", skip
    )
    assert top >= 0 and height > 0, "the focused skip link is on screen"
    skip.send_keys(Keys.ENTER)
    until(
        browser, lambda d: d.execute_script("return document.activeElement.id") == "main", "focus"
    )
    browser.find_element(By.CSS_SELECTOR, 'nav a[data-page="stock"]').send_keys(Keys.ENTER)

    # stock: out of stock, under its threshold, and plenty are told apart
    def stock_class(sku: str) -> Any:
        rows = browser.find_elements(By.CSS_SELECTOR, f'tr[data-sku="{sku}"]')
        return rows[0].get_attribute("class") if rows else None

    until(browser, lambda d: stock_class("PS-BLK") is not None, "the stock table")
    assert (stock_class("CC-ORG"), stock_class("PS-WHT"), stock_class("PS-BLK")) == (
        "out",
        "low",
        "",
    )

    # orders: Produce on the open demo order says what it did, in words
    def demo_order() -> Any:
        for row in browser.find_elements(By.CSS_SELECTOR, "tr[data-order]"):
            if "DEMO-1001" in row.text:
                return row
        return None

    until(browser, lambda d: demo_order(), "the open demo order")
    click_in(browser, demo_order, "Produce")
    until(browser, lambda d: "Produce:" in (demo_order().text if demo_order() else ""), "produced")

    # events: the type filter keeps only the matching events (Produce queued jobs)
    browser.find_element(By.CSS_SELECTOR, 'nav a[data-page="events"]').click()
    typed = until(browser, lambda d: d.find_element(By.ID, "ev-type"), "the events filter")
    typed.send_keys("job.*")

    def shown_types(d: Any) -> set[str]:
        return {
            li.get_attribute("data-type")
            for li in d.find_elements(By.CSS_SELECTOR, "#event-log li")
        }

    types = until(browser, shown_types, "job events from Produce")
    assert all(t.startswith("job.") for t in types), types
    typed.send_keys(Keys.CONTROL, "a")
    typed.send_keys("no.such.event")
    until(browser, lambda d: not shown_types(d), "an empty log for an unknown type")

    # a phone: no page scrolls sideways
    browser.set_window_size(390, 844)
    for page in ("farm", "queue", "files", "stock", "events"):
        browser.get(f"{url}/#{page}")
        until(browser, lambda d: d.find_element(By.CSS_SELECTOR, "main h2"), f"the {page} page")
        overflow = browser.execute_script(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"the {page} page is {overflow}px wider than a 390px phone"
    browser.set_window_size(1280, 900)
    assert console_errors(browser) == []
