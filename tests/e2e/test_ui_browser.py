"""The web UI in a real browser: Debian's chromium driven by Playwright, against a server
over a workspace the demo filled. Content is asserted, not pixels; every page's requests
must stay on loopback; screenshots land in tests/artifacts/ui/ (gitignored).

Without chromium the tests skip loudly outside CI and fail in CI (CI=true)."""

from __future__ import annotations

import os
import shutil
import warnings
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from tests.integration.server_fixtures import LiveServer, live_server

from monoloop.workspace import Workspace, open_workspace

pytestmark = [pytest.mark.slow, pytest.mark.browser]

CHROMIUM = shutil.which("chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SHOTS = Path(__file__).resolve().parents[1] / "artifacts" / "ui"
LOCAL = {"127.0.0.1", "localhost", "::1"}


def _need_browser() -> str:
    if CHROMIUM is not None:
        return CHROMIUM
    message = "chromium is not installed (apt-get install chromium): the browser tests cannot run"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    warnings.warn(message, stacklevel=2)
    pytest.skip(message)


@pytest.fixture(scope="module")
def demo_ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    _need_browser()
    from monoloop.demo.run import run_demo

    directory = tmp_path_factory.mktemp("ui-demo")
    run_demo(directory / "demo", keep=True, on_step=lambda *_a, **_k: None)
    ws = open_workspace(directory / "demo" / "churn")
    try:
        yield ws
    finally:
        ws.close()


@pytest.fixture(scope="module")
def server(demo_ws: Workspace) -> Iterator[LiveServer]:
    with live_server(demo_ws) as live:
        yield live


class Browser:
    """One browser context with every request recorded."""

    def __init__(self, context: object, base: str) -> None:
        from playwright.sync_api import BrowserContext

        assert isinstance(context, BrowserContext)
        self.context = context
        self.base = base
        self.requests: list[str] = []
        context.on("request", lambda r: self.requests.append(r.url))
        self.page = context.new_page()

    def open(self, path: str) -> object:
        response = self.page.goto(self.base + path)
        assert response is not None
        return response

    def shot(self, name: str) -> None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        path = SHOTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        print(f"screenshot: {path}")

    def assert_loopback_only(self) -> None:
        remote = [
            u
            for u in self.requests
            if urlsplit(u).scheme in {"http", "https", "ws", "wss"}
            and urlsplit(u).hostname not in LOCAL
        ]
        assert not remote, f"pages requested non-loopback URLs: {remote}"
        assert self.requests, "no request was recorded"


@pytest.fixture(scope="module")
def chromium() -> Iterator[object]:
    executable = _need_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=FLAGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def browser(chromium: object, server: LiveServer) -> Iterator[Browser]:
    from playwright.sync_api import Browser as PlaywrightBrowser

    assert isinstance(chromium, PlaywrightBrowser)
    context = chromium.new_context(viewport={"width": 1366, "height": 800})
    b = Browser(context, server.url)
    try:
        yield b
        b.assert_loopback_only()
    finally:
        context.close()


def login(b: Browser, token: str, then: str = "/") -> None:
    b.open(f"/login?next={then}")
    b.page.get_by_label("API token").fill(token)
    b.page.get_by_role("button", name="Log in").click()
    b.page.wait_for_url(f"{b.base}{then}")


def test_login_runs_run_compare_logout(browser: Browser, server: LiveServer) -> None:
    b = browser
    b.open("/")
    assert "/login" in b.page.url, "a page without a session goes to the login"
    b.page.get_by_label("API token").fill("mlt_not_a_token")
    b.page.get_by_role("button", name="Log in").click()
    b.page.get_by_role("alert").wait_for()
    assert "not valid" in b.page.get_by_role("alert").inner_text()
    b.shot("login-refused")

    login(b, server.token("read"))
    cookie = next(c for c in b.context.cookies() if c["name"] == "monoloop_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert b.page.get_by_role("heading", name="Runs", level=1).is_visible()
    assert "churn:evaluate" in b.page.inner_text("table")
    b.page.keyboard.press("Tab")
    assert b.page.evaluate("document.activeElement.textContent") == "Skip to content"
    b.page.keyboard.press("Tab")
    assert b.page.evaluate("document.activeElement.textContent") == "Runs"
    b.shot("runs")

    b.page.get_by_label("Filter").fill("metrics.auc > 0")
    b.page.get_by_role("button", name="Apply").click()
    rows = b.page.locator("table.runs tbody tr")
    assert rows.count() >= 2
    assert all("churn:evaluate" in rows.nth(i).inner_text() for i in range(rows.count()))

    b.page.locator("table.runs tbody tr").first.get_by_role("link").first.click()
    b.page.get_by_role("heading", name="Params").wait_for()
    assert "Git commit" in b.page.inner_text("main")
    assert "auc" in b.page.inner_text("main")
    b.shot("run")

    b.page.go_back()
    boxes = b.page.locator("table.runs tbody input[type=checkbox]")
    boxes.nth(0).check()
    boxes.nth(1).check()
    b.page.get_by_role("button", name="Compare selected").click()
    b.page.get_by_role("heading", name="Compare runs").wait_for()
    assert "auc" in b.page.inner_text("main")
    b.shot("compare")

    b.page.get_by_role("button", name="Log out").click()
    b.page.wait_for_url(f"{b.base}/login")
    assert not [c for c in b.context.cookies() if c["name"] == "monoloop_session"]
    b.open("/")
    assert "/login" in b.page.url


def test_click_through_runs_model_deployment_lineage_audit(
    browser: Browser, server: LiveServer
) -> None:
    b = browser
    login(b, server.token("read"))
    b.page.get_by_role("link", name="Models").click()
    b.page.get_by_role("heading", name="Models", level=1).wait_for()
    assert "champion" in b.page.inner_text("main")
    b.shot("models")

    b.page.get_by_role("link", name="churn", exact=True).click()
    b.page.get_by_role("heading", name="Alias history").wait_for()
    assert "promote" in b.page.inner_text("table.moves") or "set" in b.page.inner_text(
        "table.moves"
    )
    assert b.page.locator("svg#chart-importance").count() == 1
    b.shot("model")

    b.page.go_back()
    b.page.get_by_role("link", name="champion →").click()
    b.page.get_by_role("heading", name="Lineage").wait_for()
    graph = b.page.locator("svg#lineage-graph")
    assert (
        graph.is_visible()
        and "Lineage of churn version" in graph.locator("title").first.text_content()
    )  # type: ignore[operator]
    edges = graph.locator("path.edge")
    assert edges.count() >= 8, "data -> runs -> commit -> version -> aliases -> deployments"
    arrows = graph.locator('path.edge[marker-end="url(#lineage-arrow)"]')
    assert arrows.count() == edges.count()
    kinds = graph.locator("a.node").evaluate_all("ns => ns.map(n => n.classList[1])")
    assert {
        f"node-{k}" for k in ("data", "run", "commit", "version", "alias", "deployment")
    } <= set(kinds)
    assert graph.locator("a.node:not([href])").count() == 0, "every node is a link"
    card = b.page.locator("#card")
    assert card.locator("h3").first.inner_text().startswith("Model card: churn version")
    assert card.locator("table").count() >= 1, "the card's Markdown tables are HTML tables"
    assert not b.page.get_by_role("button", name="Promote to champion").count(), (
        "a read token must see no promote button"
    )
    b.shot("version")

    b.page.locator("#lineage").get_by_role("link", name="churn-api (primary)").click()
    b.page.get_by_role("heading", name="churn-api").wait_for()
    assert "primary" in b.page.inner_text("main")
    for chart in ("rate", "latency", "errors", "log-rate", "log-p99"):
        assert b.page.locator(f"svg#chart-churn-api-{chart}").count() == 1, chart
    b.shot("deployments")

    b.page.get_by_role("link", name="Monitoring", exact=True).first.click()
    b.page.get_by_role("heading", name="Drift over time").first.wait_for()
    assert b.page.locator("svg#chart-drift-psi").count() >= 1
    assert "Continuous training" in b.page.inner_text("main")
    b.shot("monitoring")

    b.page.get_by_role("link", name="Audit").click()
    assert "Head #" in b.page.inner_text("#chain")
    b.page.get_by_role("link", name="Verify the chain now").click()
    assert "Chain verified" in b.page.inner_text("#chain")
    b.shot("audit-verify")
    b.page.go_back()
    b.page.get_by_label("Kind").fill("model.*")
    b.page.get_by_role("button", name="Filter").click()
    kinds = b.page.locator("table tbody tr td:nth-child(4)").all_inner_texts()
    assert kinds and all(k.startswith("model.") for k in kinds)
    b.shot("audit")

    for path in ("/", "/models", "/deployments", "/monitoring", "/audit", "/audit/verify"):
        response = b.open(path)
        assert response.status == 200  # type: ignore[attr-defined]


def test_scopes_decide_the_controls_and_the_server_refuses(
    browser: Browser, server: LiveServer
) -> None:
    b = browser
    login(b, server.token("promote"), then="/models/churn/versions/1")
    b.page.get_by_role("heading", name="Lineage").wait_for()
    assert b.page.get_by_role("button", name="Promote to champion").is_visible()
    b.shot("version-promote-scope")

    login(b, server.token("read"), then="/models/churn/versions/1")
    b.page.get_by_role("heading", name="Lineage").wait_for()
    assert not b.page.get_by_role("button", name="Promote to champion").count()
    refused = b.page.evaluate(
        """async () => (await fetch('/models/churn/promote', {method: 'POST',
            headers: {'Content-Type': 'application/json'},
            body: JSON.stringify({version: 1, to: 'champion'})})).status"""
    )
    assert refused == 403
    form_post = b.page.evaluate(
        """async () => (await fetch('/login', {method: 'POST',
            headers: {'Content-Type': 'application/x-www-form-urlencoded'},
            body: 'token=x'})).status"""
    )
    assert form_post == 415, "form posts stay refused (CSRF)"


def test_deployments_page_shows_a_live_servers_errors_and_figures(
    browser: Browser, server: LiveServer, demo_ws: Workspace
) -> None:
    """A real `monoloop serve` over the demo's workspace answers requests and refuses bad
    ones (422); the page shows them as errors, live, with that process reporting."""
    import re

    import httpx

    from monoloop.demo.operate import DEPLOYMENT, served, wait_until
    from monoloop.predictions.log import inputs, read
    from monoloop.serving.traffic import server_traffic

    records = inputs(read(demo_ws, DEPLOYMENT, last_n=5)).to_dict(orient="records")
    bad = [{**records[0], "tenure_months": "long"}]
    with served(demo_ws.root, {}) as (url, proc), httpx.Client(base_url=url, timeout=30) as http:

        def ready() -> bool:
            assert proc.poll() is None, "monoloop serve exited"
            try:
                return http.get("/readyz").status_code == 200
            except httpx.TransportError:
                return False

        wait_until("monoloop serve to be ready", ready)
        for _ in range(8):
            assert http.post(f"/v1/deployments/{DEPLOYMENT}/predict", json=records).is_success
        for _ in range(4):
            refused = http.post(f"/v1/deployments/{DEPLOYMENT}/predict", json=bad)
            assert refused.status_code == 422
        wait_until(  # the process writes its counters every 0.5 s (the demo's setting)
            "the serving process's counters",
            lambda: server_traffic(demo_ws, DEPLOYMENT).live.errors_4xx >= 4,
        )
        b = browser
        login(b, server.token("read"), then="/deployments")
        live = b.page.locator(f"#live-{DEPLOYMENT}")
        rate = live.locator('[data-figure="error-rate"]').inner_text()
        assert re.search(r"\(4 of \d+\)", rate), rate
        assert not rate.startswith("0%") and live.locator('[data-figure="p99"]').inner_text()
        assert live.locator('[data-figure="instances"]').inner_text() == "1"
        rows = b.page.locator("table.instances tbody tr")
        process = rows.filter(has=b.page.locator(f"td:text-is('{proc.pid}')"))
        assert re.search(r"reporting\s+12\s+4$", process.inner_text().strip()), (
            "12 requests, 4 failed"
        )
        errors = b.page.locator(f"svg#chart-{DEPLOYMENT}-errors")
        assert errors.is_visible() and "no data yet" not in errors.inner_html()
        b.shot("deployments-errors")
