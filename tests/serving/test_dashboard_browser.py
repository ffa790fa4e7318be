"""The dashboard in headless Chromium against a real `bentoml serve`, signed in with the API token.

The service starts warm up to the demo's cutoff, takes the journey feed after it and the demo's
incoming alerts; the pages are then driven as a responder would. Screenshots of each page go to
test-artifacts/screenshots/.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import NamedTuple

import httpx
import pandas as pd
import pytest
from programs import require
from service_client import outcome_json

from pipeline.incoming import INCOMING_FILE, incoming_cutoff
from pipeline.serve import bentoml_env, free_port, serve_command, stop_service, wait_until_ready
from serving.dashboard import auth
from serving.dashboard.app import REFRESH_S

pytestmark = [pytest.mark.integration, pytest.mark.browser]

CHROMIUM = Path(os.environ.get("JOURNEYRANK_CHROMIUM", "/usr/bin/chromium"))
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
TOKEN = "browser-test-token"
PUSH_ROWS = 500


@pytest.fixture(scope="module")
def server(served, sample_dir, tmp_path_factory):
    """A `bentoml serve` with the token set, a home of its own, fed like the demo feeds it.

    Yields its URL, /rank's answers (highest priority first) and the file the server logs to.
    """
    settings, _ = served
    home = tmp_path_factory.mktemp("dashboard-home")
    body = json.loads((sample_dir / INCOMING_FILE).read_text())
    cutoff = incoming_cutoff(
        pd.DataFrame({"fired_at": pd.to_datetime([a["fired_at"] for a in body["alerts"]])})
    )
    env = {
        **os.environ,
        **bentoml_env(settings),
        "JOURNEYRANK_HOME": str(home),
        "JOURNEYRANK_WARM_FROM": str(sample_dir.resolve()),
        "JOURNEYRANK_WARM_UNTIL": cutoff.isoformat(),
        "JOURNEYRANK_API_TOKEN": TOKEN,
    }
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with (home / "serve.log").open("w") as log:
        process = subprocess.Popen(
            serve_command(port),
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_until_ready(url, process)
        headers = {"authorization": f"Bearer {TOKEN}"}
        with httpx.Client(base_url=url, headers=headers, timeout=60) as client:
            outcomes = pd.read_parquet(sample_dir / "journey_outcomes.parquet")
            rows = outcome_json(outcomes[outcomes["window_start"] >= cutoff])
            for start in range(0, len(rows), PUSH_ROWS):
                client.post(
                    "/journey-metrics", json={"rows": rows[start : start + PUSH_ROWS]}
                ).raise_for_status()
            ranked = client.post("/rank", json=body)
            ranked.raise_for_status()
        answers = ranked.json()["ranked"]
        yield Served(url, [a["alert_id"] for a in answers], answers, home / "serve.log")
    finally:
        stop_service(process)


@pytest.fixture(scope="module")
def browser():
    require(CHROMIUM.exists(), f"Chromium ({CHROMIUM})")
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
    try:
        yield chromium
    finally:
        chromium.close()
        playwright.stop()


class Served(NamedTuple):
    url: str
    ranked: list[str]
    answers: list[dict]
    log: Path


class ConsoleErrors(list):
    """Errors the page wrote to the console or threw, collected while a test drives it."""

    def watch(self, page) -> None:
        page.on(
            "console", lambda m: self.append(f"console: {m.text}") if m.type == "error" else None
        )
        page.on("pageerror", lambda e: self.append(f"page error: {e}"))


@pytest.fixture(scope="module")
def signed_in(server, browser):
    """A browser context that signed in through the form once."""
    url = server.url
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.goto(f"{url}/ui/")
    page.fill("input[name=token]", TOKEN)
    page.click("button[type=submit]")
    page.wait_for_url(f"{url}/ui/")
    page.close()
    yield context
    context.close()


@pytest.fixture
def page(signed_in):
    page = signed_in.new_page()
    page.errors = ConsoleErrors()
    page.errors.watch(page)
    yield page
    assert page.errors == [], page.errors
    page.close()


def shoot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def queue_ids(page) -> list[str]:
    return page.eval_on_selector_all("#queue tr.row", "rows => rows.map(r => r.dataset.alert)")


def queue_incidents(page) -> list[str]:
    return page.eval_on_selector_all(
        "#queue tbody.incident", "bodies => bodies.map(b => b.dataset.incident)"
    )


def counted(answers: list[dict]) -> str:
    """What the queue's count says for these answers."""
    return f"{len({a['incident_id'] for a in answers})} incidents, {len(answers)} alerts"


def in_queue_order(answers: list[dict]) -> list[str]:
    """The alert ids as the queue shows them: by incident (the incident of the highest-priority
    alert first), each incident's alerts in /rank's order."""
    incidents = list(dict.fromkeys(a["incident_id"] for a in answers))
    return [a["alert_id"] for i in incidents for a in answers if a["incident_id"] == i]


def test_the_ui_asks_for_the_token_once_and_keeps_only_a_cookie(server, browser):
    url = server.url
    context = browser.new_context()
    page = context.new_page()
    errors = ConsoleErrors()
    errors.watch(page)
    page.goto(f"{url}/ui/")
    assert page.url == f"{url}/ui/login"
    shoot(page, "login")

    page.fill("input[name=token]", "not-the-token")
    page.click("button[type=submit]")
    assert "not right" in page.inner_text("form")
    errors.clear()  # the browser reports the 401 of a wrong token as a console error

    page.fill("input[name=token]", TOKEN)
    page.click("button[type=submit]")
    page.wait_for_url(f"{url}/ui/")
    assert page.is_visible("#queue")
    (cookie,) = [c for c in context.cookies() if c["name"] == auth.COOKIE]
    assert cookie["httpOnly"] and cookie["value"] != TOKEN and TOKEN not in page.url
    assert page.evaluate("document.cookie") == ""  # scripts cannot read it
    assert errors == []
    context.close()
    assert TOKEN not in server.log.read_text()


def test_the_queue_shows_incidents_with_their_alerts_folded_under_them(server, page):
    url, answers = server.url, server.answers
    page.goto(f"{url}/ui/")
    assert queue_ids(page) == in_queue_order(answers)
    assert queue_incidents(page) == list(dict.fromkeys(a["incident_id"] for a in answers))
    assert page.inner_text("#count") == counted(answers)
    assert page.locator("#queue tr.member:visible").count() == 0  # folded
    biggest = max(queue_incidents(page), key=lambda i: sum(a["incident_id"] == i for a in answers))
    body = page.locator(f"#queue tbody.incident[data-incident='{biggest}']")
    body.locator("button.fold").click()
    mine = [a["alert_id"] for a in answers if a["incident_id"] == biggest]
    assert body.locator("tr.member:visible").count() == len(mine) > 1
    shoot(page, "queue")


def test_a_filter_narrows_the_queue_in_place(server, page):
    url, ranked, answers = server.url, server.ranked, server.answers
    page.goto(f"{url}/ui/")
    tier = answers[-1]["tier"]
    chosen = [a for a in answers if a["tier"] == tier]
    expected = in_queue_order(chosen)
    assert len(expected) < len(ranked)
    page.select_option("#filter-tier", tier)
    page.wait_for_function(
        "text => document.getElementById('count').textContent === text", arg=counted(chosen)
    )
    assert queue_ids(page) == expected
    assert f"tier={tier}" in page.url  # the filtered view can be shared and reloaded

    page.reload()
    assert queue_ids(page) == expected
    journey = next(a["journey"] for a in answers if a["tier"] == tier and a["journey"])
    page.select_option("#filter-journey", journey)
    both = [a for a in answers if a["tier"] == tier and a["journey"] == journey]
    page.wait_for_function(
        "text => document.getElementById('count').textContent === text", arg=counted(both)
    )
    assert queue_ids(page) == in_queue_order(both)


def test_clicking_a_row_opens_its_drill_down(server, page):
    url, ranked, answers = server.url, server.ranked, server.answers
    page.goto(f"{url}/ui/")
    page.click(f"#queue tbody.incident[data-incident='{answers[0]['incident_id']}'] button.fold")
    page.click(f"#queue tr.row[data-alert='{ranked[0]}'] td.playbook")
    page.wait_for_url(f"{url}/ui/alerts/{ranked[0]}")
    assert page.get_attribute("#alert-title", "data-alert") == ranked[0]
    assert page.is_visible("svg[aria-label=contributions]")
    assert page.is_visible("svg[aria-label='completion rate']")
    first = answers[0]
    assert page.inner_text("#probability") == f"{100 * first['impact_probability']:.1f}%"
    if first["playbook"]:
        assert first["playbook"] in page.inner_text("#playbook")
    assert first["route"] in page.inner_text("#route")
    shoot(page, "alert")


def test_an_incident_opens_its_drill_down_with_the_timeline_root_cause_and_changes(server, page):
    url, answers = server.url, server.answers
    incident = answers[0]["incident_id"]
    page.goto(f"{url}/ui/")
    page.click(f"#queue tbody.incident[data-incident='{incident}'] a.incident-link")
    page.wait_for_url(f"{url}/ui/incidents/{incident}")
    assert page.get_attribute("#incident-title", "data-incident") == incident
    mine = {a["alert_id"] for a in answers if a["incident_id"] == incident}
    shown = page.eval_on_selector_all("#alerts tr.member", "rows => rows.map(r => r.dataset.alert)")
    assert mine <= set(shown)
    assert page.inner_text("#root").strip()
    assert page.is_visible("#changes")
    if page.locator("svg[aria-label='completion rate']").count():
        assert page.locator("svg line.event").count() >= len(shown)
    shoot(page, "incident")


def test_journey_health_draws_a_funnel_per_journey(server, page):
    url, answers = server.url, server.answers
    page.goto(f"{url}/ui/")
    page.click("#nav-health")
    page.wait_for_url(f"{url}/ui/health")
    journeys = page.eval_on_selector_all("section.journey", "s => s.map(x => x.dataset.journey)")
    assert set(journeys) >= {a["journey"] for a in answers if a["journey"]}
    assert page.locator("svg.funnel").count() == len(journeys)
    # every ranked alert of a mapped stage shows up beside its stage
    chips = page.locator("section.journey a.tier-chip").count()
    assert chips > 0
    shoot(page, "health")


def test_the_queue_refreshes_itself(server, page, sample_dir):
    """Runs last: it ranks one more alert, which the open page then shows without a reload."""
    url, ranked = server.url, server.ranked
    page.clock.install()  # the page's timers run when the test moves the clock, not in real time
    page.goto(f"{url}/ui/")
    assert len(queue_ids(page)) == len(ranked)
    before = page.inner_text("#count")
    late = {**json.loads((sample_dir / INCOMING_FILE).read_text())["alerts"][-1]}
    late["alert_id"] = "alrt-dashboard-refresh"
    headers = {"authorization": f"Bearer {TOKEN}"}
    httpx.post(
        f"{url}/rank", json={"alerts": [late]}, headers=headers, timeout=30
    ).raise_for_status()
    page.clock.run_for(REFRESH_S * 1000 + 1000)
    page.wait_for_function(
        "before => document.getElementById('count').textContent !== before", arg=before
    )
    assert page.inner_text("#count").endswith(f"{len(ranked) + 1} alerts")
    assert "alrt-dashboard-refresh" in queue_ids(page)
