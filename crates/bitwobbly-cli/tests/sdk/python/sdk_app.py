"""Drives the real Python `sentry-sdk` against `bitwobbly serve` (the `sdk` test of bitwobbly-cli).

Every Sentry feature the SDK has is used the way an application uses it: exceptions raised in
nested functions, a message, a chained exception, a transaction with spans, server-mode
(request) sessions, an attachment with non-UTF-8 bytes, cron check-ins with `monitor_config`,
a user report and structured logs. The DSN comes from `SENTRY_DSN`.

Prints one JSON line on stdout with the ids the test asserts on. Exits non-zero when the SDK
lost anything or logged a warning or error (a failed send or flush logs one): the test also
reads the SDK's debug output on stderr.
"""

import json
import logging
import os
import sys
import time

import sentry_sdk
from sentry_sdk.crons import capture_checkin
from sentry_sdk.envelope import Envelope, Item, PayloadRef
from sentry_sdk.sessions import track_session
from sentry_sdk.utils import event_from_exception

RELEASE = "sdk-py@1.0.0"
ENVIRONMENT = "sdk-compat"
# Every byte value, then bytes that are not UTF-8 and line endings an attachment must keep.
ATTACHMENT = bytes(range(256)) * 4 + b"\x80\x81 not utf-8 \xc3\x28 \r\n\x00\xff\xfe"


class Problems(logging.Handler):
    """Keeps every warning and error the SDK logs (a failed send is logged as one)."""

    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(f"{record.levelname}: {record.getMessage()}")


problems = Problems()
lost: list[str] = []


def validate_order(order: int) -> None:
    raise ValueError(f"boom for order {order}")


def process_order(order: int) -> None:
    validate_order(order)


def handle_request(order: int) -> None:
    process_order(order)


def average(values: list[int]) -> float:
    return sum(values) / len(values)


def report(values: list[int]) -> float:
    return average(values)


def load_config(settings: dict[str, str]) -> str:
    try:
        return settings["database_url"]
    except KeyError as e:
        raise RuntimeError("config load failed") from e


def capture(fn, *args) -> str:
    """Runs `fn`, captures what it raises and returns the event id."""
    try:
        fn(*args)
    except Exception:
        event_id = sentry_sdk.capture_exception()
        assert event_id, "the SDK dropped the event"
        return event_id
    raise AssertionError(f"{fn.__name__} did not raise")


def request_session(outcome: str) -> None:
    """One request of a server: a request-mode session that ends ok, errored or crashed."""
    with sentry_sdk.isolation_scope() as scope:
        with track_session(scope, session_mode="request"):
            if outcome == "errored":
                capture(average, [])
            elif outcome == "crashed":
                try:
                    average([])
                except ZeroDivisionError as e:
                    client = sentry_sdk.get_client()
                    event, hint = event_from_exception(
                        e, client.options, mechanism={"type": "sdk-test", "handled": False}
                    )
                    sentry_sdk.capture_event(event, hint=hint)


def main() -> int:
    logging.getLogger("sentry_sdk.errors").addHandler(problems)
    here = os.path.dirname(os.path.abspath(__file__))
    sentry_sdk.init(
        dsn=os.environ["SENTRY_DSN"],
        debug=True,
        release=RELEASE,
        environment=ENVIRONMENT,
        traces_sample_rate=1.0,
        enable_logs=True,
        auto_session_tracking=True,
        send_default_pii=True,
        project_root=here,
        in_app_include=["__main__"],
    )
    client = sentry_sdk.get_client()
    transport = client.transport
    record_lost_event = transport.record_lost_event

    def record_and_keep(reason, data_category=None, item=None, quantity=1):
        lost.append(f"{reason}: {data_category or (item and item.type)} x{quantity}")
        record_lost_event(reason, data_category=data_category, item=item, quantity=quantity)

    transport.record_lost_event = record_and_keep
    sentry_sdk.set_user({"id": "py-user-1", "email": "py@example.com"})
    out: dict = {"release": RELEASE, "environment": ENVIRONMENT}

    # A monitor whose next check-in never comes: the server must judge it missed.
    out["missed_slug"] = "py-missed"
    out["missed_check_in"] = capture_checkin(
        monitor_slug="py-missed",
        status="ok",
        duration=0.1,
        monitor_config={
            "schedule": {"type": "interval", "value": 1, "unit": "minute"},
            "checkin_margin": 0,
            "max_runtime": 1,
            "failure_issue_threshold": 1,
            "recovery_threshold": 1,
        },
    )

    # The same error twice (one issue, count 2), a different error (another issue).
    out["same_error"] = [capture(handle_request, 1), capture(handle_request, 2)]
    out["other_error"] = capture(report, [])
    out["message"] = sentry_sdk.capture_message("py message: cache warmed", level="warning")
    out["chained"] = capture(load_config, {})

    # An attachment on one event only.
    with sentry_sdk.new_scope() as scope:
        scope.add_attachment(
            bytes=ATTACHMENT, filename="py-blob.bin", content_type="application/octet-stream"
        )
        scope.set_tag("attachment", "yes")
        out["attachment_event"] = sentry_sdk.capture_message("py message with attachment")
    out["attachment_hex"] = ATTACHMENT.hex()

    # A transaction with spans.
    with sentry_sdk.start_transaction(op="task", name="py-checkout") as tx:
        with sentry_sdk.start_span(op="db.query", name="SELECT * FROM orders"):
            time.sleep(0.05)
        with sentry_sdk.start_span(op="http.client", name="GET /inventory"):
            time.sleep(0.02)
    out["transaction"] = {"name": "py-checkout", "trace_id": tx.trace_id}

    # Server-mode sessions: three clean requests, one errored, one crashed.
    for outcome in ["ok", "ok", "ok", "errored", "crashed"]:
        request_session(outcome)

    # Cron check-ins: an upsert with a crontab schedule ending ok, another ending in error.
    nightly = {
        "schedule": {"type": "crontab", "value": "0 3 * * *"},
        "timezone": "Europe/Berlin",
        "checkin_margin": 5,
        "max_runtime": 30,
        "failure_issue_threshold": 1,
        "recovery_threshold": 1,
    }
    started = capture_checkin(monitor_slug="py-nightly", status="in_progress", monitor_config=nightly)
    capture_checkin(monitor_slug="py-nightly", check_in_id=started, status="ok", duration=1.5)
    out["ok_check_in"] = started

    @sentry_sdk.monitor(
        monitor_slug="py-hourly",
        monitor_config={
            "schedule": {"type": "interval", "value": 1, "unit": "hour"},
            "checkin_margin": 10,
            "max_runtime": 5,
        },
    )
    def hourly_job() -> None:
        raise RuntimeError("hourly job failed")

    try:
        hourly_job()
    except RuntimeError:
        pass

    # A user report about the first error, sent through the SDK's own envelope transport (the
    # Python SDK has no feedback API of its own).
    feedback = Envelope(headers={"event_id": out["same_error"][0]})
    feedback.add_item(
        Item(
            payload=PayloadRef(
                json={
                    "event_id": out["same_error"][0],
                    "name": "Py User",
                    "email": "py@example.com",
                    "comments": "py feedback: the checkout broke",
                }
            ),
            type="user_report",
        )
    )
    transport.capture_envelope(feedback)

    # Structured logs.
    sentry_sdk.logger.info("py order {order_id} shipped", order_id=42)
    sentry_sdk.logger.warning("py stock low", attributes={"sku": "A-1"})
    out["logs"] = ["py order 42 shipped", "py stock low"]

    # A flush that runs out of time logs "flush timed out, dropped N events" at ERROR, which
    # `problems` keeps (the flush callback only reports progress).
    client.flush(timeout=30)
    client.close(timeout=30)
    out["lost"] = lost
    out["problems"] = problems.records
    print(json.dumps(out), flush=True)
    return 1 if lost or problems.records else 0


if __name__ == "__main__":
    sys.exit(main())
