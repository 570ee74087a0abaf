"""The HTML report in a real browser: offline, no console error, figures drawn, hostile text inert.

Runs headless Chromium (Debian's ``/usr/bin/chromium``) through Playwright's
Python package; the browser Playwright would download is never used. CI
installs both (``apt-get install -y chromium``, ``pip install playwright``);
elsewhere the module is skipped.

``FAIRAUDIT_UPDATE_SCREENSHOT=1`` also runs the demo at small sizes and saves
the top of its report to ``docs/img/report-top.png`` (the README's picture) and
the outline of that first screen to ``docs/img/report-top.txt``, which
``tests/test_report.py`` compares with the demo's, so the picture cannot go stale.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip("headless browser tests need Debian's chromium at /usr/bin/chromium "
                "(apt-get install -y chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api",
                               reason="headless browser tests need Playwright (pip install playwright)")

from fairaudit import EmbeddingSet, synthetic# noqa: E402
from fairaudit.classification.audit import classification_audit  # noqa: E402
from fairaudit.diagnostics.audit import embedding_diagnostics  # noqa: E402
from fairaudit.reporting.document import report  # noqa: E402
from fairaudit.verification.audit import verification_audit  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
HOSTILE = {
    "ethnicity": {"A": "<script>alert(1)</script>", "B": '"><img src=x onerror=alert(1)>', "N": "東京"},
    "gender": {"H": "Zoë", "M": "Ελλάδα \"q\" 'q'"},
}
TITLE = "<script>alert('t')</script> \"><img src=x onerror=alert(2)> Zoë 東京"


@pytest.fixture(scope="module")
def hostile_report(tmp_path_factory):
    base = synthetic.population("diveface", n_identities=10, samples_per_identity=3, dim=16, random_state=2)
    attrs = base.attributes
    for column, mapping in HOSTILE.items():
        attrs[column] = attrs[column].map(mapping)
    es = EmbeddingSet(base.embeddings, identity=base.identity, attributes=attrs)
    results = {
        TITLE: verification_audit(es, by=["ethnicity", "gender"], threshold="eer", n_boot=20),
        "<b>classification</b>": classification_audit(es, target="gender", by="ethnicity", n_seeds=2,
                                                      progress=False, keep_models="none"),
        "diagnostics ' \"": embedding_diagnostics(es, by=["gender", "ethnicity"], method="pca", cv=3),
    }
    return report(results, tmp_path_factory.mktemp("browser") / "report.html", title=TITLE, population=es)


@pytest.fixture(scope="module")
def browser():
    # a plain launch runs on a fresh temporary profile, removed on close
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        yield b
        b.close()


class Visit:
    """A page opened on a file:// URL, with every request, console message, error and dialog recorded."""

    def __init__(self, browser, path: Path, *, javascript: bool = True):
        self.url = path.resolve().as_uri()
        self.requests: list[str] = []
        self.console: list[tuple[str, str]] = []
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.context = browser.new_context(java_script_enabled=javascript, viewport={"width": 1280, "height": 900})
        self.page = self.context.new_page()
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("console", lambda m: self.console.append((m.type, m.text)))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))

        def on_dialog(dialog):
            self.dialogs.append(dialog.message)
            dialog.dismiss()

        self.page.on("dialog", on_dialog)
        self.page.goto(self.url, wait_until="load")

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def visit(browser, hostile_report):
    v = Visit(browser, hostile_report)
    yield v
    v.close()


def test_page_loads_offline_without_console_errors_or_network_requests(visit):
    visit.page.wait_for_timeout(300)
    assert visit.errors == []
    assert [m for m in visit.console if m[0] in ("error", "warning")] == []
    # only the report itself; images are data: URIs (recorded or not, depending on the browser)
    assert [u for u in visit.requests if u != visit.url and not u.startswith("data:")] == []
    assert visit.page.evaluate("document.readyState") == "complete"


def test_every_figure_is_drawn_with_a_nonzero_size(visit):
    sizes = visit.page.evaluate("""() => Array.from(document.querySelectorAll('img, svg')).map(e => {
        const r = e.getBoundingClientRect();
        return {tag: e.tagName, w: r.width, h: r.height, nw: e.naturalWidth || 0, src: (e.src || '').slice(0, 22)};
    })""")
    assert len(sizes) >= 10
    for s in sizes:
        assert s["w"] > 0 and s["h"] > 0, s
        if s["tag"] == "IMG":
            assert s["nw"] > 0 and s["src"] == "data:image/png;base64,", s
    assert visit.page.locator(".figure-error").count() == 0


def test_hostile_text_is_shown_literally_and_never_executed(visit):
    page = visit.page
    page.wait_for_timeout(300)
    assert visit.dialogs == []
    text = page.evaluate("document.body.innerText")
    for value in [*HOSTILE["ethnicity"].values(), *HOSTILE["gender"].values(), TITLE, "<b>classification</b>",
                  "diagnostics ' \""]:
        assert value in text, value
    assert page.title() == TITLE
    assert page.evaluate("document.querySelectorAll('script').length") == 1  # the report's own
    assert page.evaluate("document.querySelectorAll('[onerror], [onload], [onclick]').length") == 0
    assert page.evaluate("document.querySelectorAll('b').length") == 0
    srcs = page.evaluate("Array.from(document.images).map(i => i.getAttribute('src').slice(0, 5))")
    assert set(srcs) == {"data:"}


def test_tables_sort_when_a_header_is_clicked(visit):
    page = visit.page
    table = page.locator("#data table.sortable").first
    header = table.locator("thead th").nth(3)  # genuine pairs
    header.click()
    assert header.get_attribute("aria-sort") == "ascending"
    values = [float(v) for v in table.locator("tbody td:nth-child(4)").evaluate_all(
        "cells => cells.map(c => c.getAttribute('data-sort'))")]
    assert values == sorted(values)
    header.click()
    assert header.get_attribute("aria-sort") == "descending"
    assert visit.errors == []


def test_report_reads_the_same_without_javascript(browser, hostile_report, visit):
    with_js = visit.page.evaluate("document.body.innerText")
    plain = Visit(browser, hostile_report, javascript=False)
    try:
        text = plain.page.evaluate("document.body.innerText")
        assert plain.page.locator("img").count() == visit.page.locator("img").count()
    finally:
        plain.close()
    for needle in ("Findings", "Verification", "Classification", "Diagnostics", "Method", TITLE, "fail"):
        assert needle in text
    # the script adds only sort arrows (CSS) and attributes: the text is the same
    assert text.replace("\u2195", "") == with_js.replace("\u2195", "")


def test_print_layout_breaks_pages_before_sections(visit):
    page = visit.page
    page.emulate_media(media="print")
    breaks = page.evaluate("""() => Array.from(document.querySelectorAll('section.major'))
        .map(s => getComputedStyle(s).breakBefore)""")
    assert breaks and set(breaks) == {"page"}
    assert page.evaluate("getComputedStyle(document.querySelector('nav.toc')).display") == "none"
    pdf = page.pdf(format="A4")
    assert pdf[:4] == b"%PDF" and len(pdf) > 10_000
    page.emulate_media(media="screen")


def test_screenshot_of_the_top(visit, tmp_path):
    path = tmp_path / "report-top.png"
    visit.page.screenshot(path=str(path))
    assert path.stat().st_size > 10_000


@pytest.mark.skipif(os.environ.get("FAIRAUDIT_UPDATE_SCREENSHOT") != "1",
                    reason="set FAIRAUDIT_UPDATE_SCREENSHOT=1 to refresh docs/img/report-top.png")
def test_update_readme_screenshot_of_the_demo_report(browser, tmp_path):
    from fairaudit.cli.commands import main

    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--n-identities", "60", "--dim", "64", "--n-boot", "200"]) == 0
    v = Visit(browser, out / "report.html")
    try:
        assert v.errors == [] and v.dialogs == []
        target = ROOT / "docs" / "img" / "report-top.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        v.page.screenshot(path=str(target))
    finally:
        v.close()
    assert target.stat().st_size > 10_000
    # the outline the picture shows, which tests/test_report.py compares with the demo's first screen
    from fairaudit.reporting.rendering import first_screen_outline

    outline = first_screen_outline((out / "report.html").read_text(encoding="utf-8"))
    (target.with_suffix(".txt")).write_text("\n".join(outline) + "\n", encoding="utf-8")
