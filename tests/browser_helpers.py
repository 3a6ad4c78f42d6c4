"""Helpers shared by the browser tests of the live playground."""


def open_playground(page, url: str) -> None:
    """Open `url` and wait until the live chart is drawn and the page's script run is over."""
    page.goto(url)
    page.wait_for_function("document.querySelector('.bnn-live') && "
                           "document.querySelector('.bnn-live').dataset.step !== undefined",
                           timeout=120_000)
    # The status widget ("Running…") disappears when the page's own script run has finished.
    page.wait_for_function("!document.querySelector('[data-testid=stStatusWidget]')",
                           timeout=120_000)
