"""Helpers shared by the browser tests: open a deep link directly and wait for its script run."""

PAGE_NOT_FOUND = "Page not found"


def wait_for_script_run(page, timeout_ms: int = 120_000) -> None:
    """Wait until the app has rendered and the page's script run is over."""
    page.wait_for_selector("[data-testid=stMain]", timeout=timeout_ms)
    # The status widget ("Running…") disappears when the page's own script run has finished.
    page.wait_for_function("!document.querySelector('[data-testid=stStatusWidget]')",
                           timeout=timeout_ms)


def page_not_found_dialogs(page) -> int:
    """How many dialogs say "Page not found" (Streamlit's modal for an unknown URL path)."""
    return page.locator("[role=dialog]", has_text=PAGE_NOT_FOUND).count()


def open_page(page, url: str, timeout_ms: int = 120_000) -> None:
    """Open the deep link `url` directly (no visit to Home first), wait for its script run, and
    fail if Streamlit put a "Page not found" dialog over it."""
    page.goto(url)
    wait_for_script_run(page, timeout_ms)
    assert page_not_found_dialogs(page) == 0, f"'{PAGE_NOT_FOUND}' dialog over {url}"


def open_playground(page, url: str) -> None:
    """Open `url` and wait until the live chart is drawn and the page's script run is over."""
    open_page(page, url)
    page.wait_for_function("document.querySelector('.bnn-live') && "
                           "document.querySelector('.bnn-live')?.dataset.step !== undefined",
                           timeout=120_000)
    wait_for_script_run(page)


# The live chart's step, as the chart itself shows it (its `data-step`), in the page's JS.
STEP_JS = "Number(document.querySelector('.bnn-live')?.dataset.step)"


def wait_for_step(page, condition: str, timeout_ms: int = 60_000) -> None:
    """Wait until the live chart's step satisfies `condition`, e.g. ">= 30" or "=== 0"."""
    page.wait_for_function(f"{STEP_JS} {condition}", timeout=timeout_ms)


def live_step(page) -> int:
    """The step the live chart shows (one chart on the page: a full rerun can briefly hold the
    old chart element next to the new one)."""
    page.wait_for_function("document.querySelectorAll('.bnn-live').length === 1",
                           timeout=30_000)
    return int(page.evaluate(STEP_JS))
