"""The application the browser test serves and works: ``tests.web.browser_app:app``.

Its URL is a placeholder; the test points it at its own store. Its tasks are a shop's, so
the screenshot of the dashboard (docs/dashboard.png) shows something like real use.
"""

from __future__ import annotations

from pathlib import Path

import jobq

app = jobq.App("sqlite:///browser-placeholder.db")


@app.task(name="images.resize")
def resize(path: str, width: int) -> str:
    return f"{path}@{width}"


@app.task(name="mail.send_welcome", queue="mail", retries=2,
          backoff=jobq.Backoff(base=0, cap=0), dont_retry_on=ValueError)
def send_welcome(address: str) -> str:
    if "@" not in address:
        raise ValueError(f"not an e-mail address: {address!r}")
    return f"welcomed {address}"


@app.task(name="billing.render_invoice", queue="billing")
def render_invoice(order: int) -> str:
    raise KeyError(f"template invoice.html: no value for <b>{{{{ total }}}}</b> (order {order})")


@app.task(name="partner.sync_stock")
def sync_stock(marker: str) -> str:
    """Fails the first time (the partner's API timed out), works when retried."""
    flag = Path(marker)
    if not flag.exists():
        flag.write_text("tried once")
        raise TimeoutError("partner API did not answer within 10s")
    return "stock synced"
