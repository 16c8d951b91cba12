"""The API from the terminal: ``hookline webhooks …``, ``hookline events …`` and
``hookline simulate``. Tables for people, ``--json`` for scripts."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import click

from hookline.domain.events import EventType
from hookline.text import table, when
from hookline.tools.client import ApiError, HooklineClient
from hookline.tools.simulate import run_simulation

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON, for scripts.")


def _client() -> HooklineClient:
    try:
        return HooklineClient()
    except ApiError as exc:
        raise click.ClickException(str(exc)) from None


def _call(work: Callable[[HooklineClient], Any]) -> Any:
    try:
        return work(_client())
    except ApiError as exc:
        raise click.ClickException(str(exc)) from None


def show(result: Any, as_json: bool, columns: Sequence[str]) -> None:
    if as_json:
        click.echo(json.dumps(result, indent=2))
    else:
        click.echo(table(result if isinstance(result, list) else [result], columns))


WEBHOOK_COLUMNS = ("webhook_id", "posting_id", "event_type", "http_method", "is_active", "url")


@click.group()
def webhooks() -> None:
    """Manage webhooks (HOOKLINE_URL, HOOKLINE_API_KEY)."""


@webhooks.command("create")
@click.option("--posting-id", required=True)
@click.option("--url", required=True)
@click.option("--event-type", required=True, type=click.Choice([t.value for t in EventType]))
@click.option("--method", "http_method", type=click.Choice(["post", "get"]), default="post")
@json_option
def webhooks_create(
    posting_id: str, url: str, event_type: str, http_method: str, as_json: bool
) -> None:
    """Register a webhook; prints its signing secret once."""
    created = _call(lambda c: c.create_webhook(posting_id, url, event_type, http_method))
    show(created, as_json, (*WEBHOOK_COLUMNS, "secret"))


@webhooks.command("list")
@click.option("--posting-id")
@click.option("--event-type", type=click.Choice([t.value for t in EventType]))
@json_option
def webhooks_list(posting_id: str | None, event_type: str | None, as_json: bool) -> None:
    """The workspace's webhooks."""
    found = _call(lambda c: c.list_webhooks(posting_id=posting_id, event_type=event_type))
    show(found, as_json, WEBHOOK_COLUMNS)


def _webhook_action(name: str, method: str, action: str, help_text: str) -> None:
    @webhooks.command(name, help=help_text)
    @click.argument("webhook_id")
    @json_option
    def command(webhook_id: str, as_json: bool) -> None:
        result = _call(lambda c: c.webhook_call(method, action, webhook_id))
        columns = ("event_id", "deliveries") if action == "test" else WEBHOOK_COLUMNS
        show(result, as_json, columns)


_webhook_action("fetch", "GET", "fetch", "One webhook.")
_webhook_action("deactivate", "POST", "deactivate", "Stop deliveries; cancel pending ones.")
_webhook_action("activate", "POST", "activate", "Re-activate a webhook.")
_webhook_action("test", "POST", "test", "Send the seed's sample event of its type now.")


@webhooks.command("deliveries")
@click.argument("webhook_id")
@click.option("--status", type=click.Choice(["pending", "succeeded", "failed", "cancelled"]))
@click.option("--limit", type=click.IntRange(1, 100), default=20, show_default=True)
@json_option
def webhooks_deliveries(webhook_id: str, status: str | None, limit: int, as_json: bool) -> None:
    """A webhook's deliveries, newest first, with their last attempt."""
    params: dict[str, Any] = {"limit": limit} | ({"status": status} if status else {})
    page = _call(lambda c: c.webhook_call("GET", "deliveries", webhook_id, params=params))
    if as_json:
        click.echo(json.dumps(page, indent=2))
        return
    rows = []
    for delivery in page["data"]:
        last = delivery["attempts"][0] if delivery["attempts"] else {}
        rows.append(
            {
                "delivery_id": delivery["delivery_id"],
                "event_type": delivery["event_type"],
                "status": delivery["status"],
                "attempts": delivery["attempt_count"],
                "last_answer": last.get("status_code") or last.get("error"),
                "created": when(delivery["created_at"]),
            }
        )
    click.echo(
        table(rows, ("delivery_id", "event_type", "status", "attempts", "last_answer", "created"))
    )


@webhooks.command("redeliver")
@click.argument("delivery_id")
@json_option
def webhooks_redeliver(delivery_id: str, as_json: bool) -> None:
    """One more attempt of a delivery, now."""
    result = _call(lambda c: c.request("POST", f"/api/webhook/redeliver/{delivery_id}"))
    show(result, as_json, ("delivery_id", "status"))


@click.group()
def events() -> None:
    """Publish and inspect events (HOOKLINE_URL, HOOKLINE_API_KEY)."""


@events.command("publish")
@click.option(
    "--type", "event_type", required=True, type=click.Choice([t.value for t in EventType])
)
@click.option(
    "--payload",
    "payload_file",
    type=click.File("r"),
    default="-",
    show_default=True,
    help="A JSON file with the payload; - reads standard input.",
)
@click.option("--idempotency-key")
@json_option
def events_publish(
    event_type: str, payload_file, idempotency_key: str | None, as_json: bool
) -> None:  # type: ignore[no-untyped-def]
    """Publish an event (needs a publisher key)."""
    try:
        payload = json.load(payload_file)
    except json.JSONDecodeError as exc:
        raise click.ClickException(f"the payload is not valid JSON: {exc}") from None
    result = _call(lambda c: c.publish(event_type, payload, idempotency_key))
    show(result, as_json, ("event_id", "deliveries"))


@events.command("show")
@click.argument("event_id")
@json_option
def events_show(event_id: str, as_json: bool) -> None:
    """An event and each delivery's status."""
    event = _call(lambda c: c.event(event_id))
    if as_json:
        click.echo(json.dumps(event, indent=2))
        return
    click.echo(
        f"{event['event_id']}  {event['event_type']}  interview {event['interview_id']}  "
        f"posting {event['posting_id']}  {when(event['created_at'])}"
    )
    click.echo(table(event["deliveries"], ("delivery_id", "webhook_id", "status", "attempt_count")))


@click.command()
@click.option("--interviews", type=click.IntRange(1, 10_000), default=5, show_default=True)
@click.option("--posting", "posting_id", required=True, help="The job posting's id.")
@click.option(
    "--analysis-delay",
    type=float,
    default=2.0,
    show_default=True,
    help="Seconds between the completions and the reports.",
)
@json_option
def simulate(interviews: int, posting_id: str, analysis_delay: float, as_json: bool) -> None:
    """Publish realistic candidate journeys (needs a publisher key)."""
    published = _call(lambda c: run_simulation(c, interviews, posting_id, analysis_delay))
    show(published, as_json, ("event_id", "event_type", "deliveries"))
