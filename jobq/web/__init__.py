"""``jobq serve``: the HTTP API, the dashboard and Prometheus metrics (the ``web`` extra).

``create_app(app, token=...)`` builds the FastAPI application; ``import jobq`` never
imports this package.
"""

from jobq.web.app import create_app
from jobq.web.guard import is_loopback, new_token

__all__ = ["create_app", "is_loopback", "new_token"]
