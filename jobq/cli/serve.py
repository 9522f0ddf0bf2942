"""``jobq serve``: the HTTP API, the dashboard and /metrics on uvicorn.

Imported by ``jobq --help`` to list the command, so FastAPI and uvicorn are imported only
when the command runs.
"""

from __future__ import annotations

import click

from jobq.cli.context import CliState, ConfigProblem, reports_errors, store_options
from jobq.config import api_token
from jobq.errors import ConfigError


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. Another than this machine's own (127.0.0.1, ::1, "
              "localhost) needs a token.")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True)
@click.option("--token", metavar="TOKEN", help="The bearer token changing calls must send "
              "(default: $JOBQ_API_TOKEN, else one is made and printed once).")
@click.option("--allow-host", "allow_hosts", multiple=True, metavar="NAME",
              help="Also answer requests whose Host header names NAME (the name a reverse "
              "proxy forwards). Repeatable.")
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"]),
              default="info", show_default=True)
@store_options
@click.pass_obj
@reports_errors
def serve_command(state: CliState, host: str, port: int, token: str | None,
                  allow_hosts: tuple[str, ...], log_level: str) -> None:
    """Serve the JSON API, the dashboard (/) and Prometheus metrics (/metrics).

    Reading needs nothing; every changing call (enqueue, retry, cancel) needs
    Authorization: Bearer TOKEN. Without --app it can read, retry and cancel, but enqueues
    nothing (it knows no tasks). See docs/web.md.
    """
    try:
        import uvicorn

        from jobq import web
    except ImportError as exc:
        raise ConfigProblem(
            f"jobq serve needs the web extra ({exc.name or exc} is missing): "
            "pip install -e '.[web]' in a jobq checkout"
        ) from None
    given = token or api_token()
    if given is None and not web.is_loopback(host):
        raise click.UsageError(
            f"--host {host} is reachable from other machines: pass --token (or set "
            "$JOBQ_API_TOKEN) to choose the token changing calls need"
        )
    token = given or web.new_token()
    app = state.open()
    try:
        asgi = web.create_app(app, token=token, allow_hosts=(host, *allow_hosts))
    except ConfigError as exc:
        raise click.BadParameter(str(exc), param_hint="--token") from None
    where = f"[{host}]" if ":" in host else host
    click.echo(f"jobq serve: the dashboard is at http://{where}:{port}/")
    if given is None:
        # Printed this once, never logged: changing calls need it.
        click.echo(f"API token for this run (set $JOBQ_API_TOKEN or --token to choose one): "
                   f"{token}")
    if not state.app_ref:
        click.echo("no --app: POST /api/jobs cannot enqueue (no tasks are known here)")
    uvicorn.run(asgi, host=host, port=port, log_level=log_level, server_header=False)
