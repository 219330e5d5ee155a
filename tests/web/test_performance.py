"""Time to first paint and to interactive against the local server, and the size of what is served.
The figures go to test-output/perf.json (and the test output); the bounds are loose, for slow CI machines."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support.server import REPO, BluServer
from tests.web.conftest import Console, ContextFactory, login_context

pytestmark = pytest.mark.browser

METRICS_JS = """() => {
    const nav = performance.getEntriesByType('navigation')[0];
    const paint = Object.fromEntries(performance.getEntriesByType('paint').map(p => [p.name, p.startTime]));
    const ready = performance.getEntriesByName('blu-interactive')[0];
    const assets = performance.getEntriesByType('resource')
        .filter(r => r.name.includes('/assets/'))
        .map(r => ({name: r.name.split('/').pop(), bytes: r.decodedBodySize, transferred: r.transferSize}));
    return {
        dom_content_loaded_ms: Math.round(nav.domContentLoadedEventEnd),
        first_contentful_paint_ms: Math.round(paint['first-contentful-paint'] ?? -1),
        interactive_ms: Math.round(ready ? ready.startTime : -1),
        html_bytes: nav.decodedBodySize,
        assets,
    };
}"""


def measure(page: Any, url: str, ready: str) -> dict[str, Any]:
    page.goto(url)
    page.wait_for_selector(f"html[data-ready={ready}]")
    page.wait_for_load_state("load")
    return dict(page.evaluate(METRICS_JS))


def test_time_to_interactive_and_asset_sizes(new_context: ContextFactory, blu: BluServer, console: Console) -> None:
    results: dict[str, Any] = {}
    # Cold caches each time: a new context is a new browser profile.
    results["login_page"] = measure(
        new_context(extra_http_headers={"X-Forwarded-For": "10.0.0.4"}).new_page(), blu.url + "/", "login"
    )
    context = new_context()
    login_context(context, blu.url)
    results["chat_page"] = measure(context.new_page(), blu.url + "/#/new", "app")
    out = REPO / "test-output" / "perf.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    for name, figures in results.items():
        assert 0 < figures["first_contentful_paint_ms"] < 3000, (name, figures)
        assert 0 < figures["interactive_ms"] < 4000, (name, figures)
        assert sum(a["bytes"] for a in figures["assets"]) < 400_000, (name, figures)
