"""Sending an alert to the configured channels: a webhook (Slack-compatible JSON: `text` for Slack, the same
facts as fields for anything else) retried with backoff, and e-mail over SMTP. Each channel's outcome is
returned (and recorded on the alert by lib.budgets.alerts), never raised: an alert is shown in the console
whether or not it could be delivered."""

from __future__ import annotations

import smtplib
import time
from collections.abc import Callable
from email.message import EmailMessage

import httpx

from lib.core.settings import Settings

WEBHOOK_ATTEMPTS = 3
WEBHOOK_BACKOFF_S = (1.0, 4.0)  # waits between attempts
WEBHOOK_TIMEOUT_S = 10.0
SMTP_TIMEOUT_S = 20.0
STATE_WORDS = {
    "warning": "passed its alert threshold",
    "projected": "is projected to exceed its amount",
    "exceeded": "is exceeded",
    "ok": "is back within its threshold",
}


def alert_payload(alert: dict) -> dict:
    """The webhook's JSON: `text` (what Slack shows) and the structured fields of the alert.

    `alert` has: id, budget_id, budget (label), scope, target, period, period_start (ISO date), state, spent,
    amount, projected, threshold."""
    text = (
        f"Budget {alert['budget']} {STATE_WORDS[alert['state']]}: ${alert['spent']:,.2f} spent of "
        f"${alert['amount']:,.2f} ({alert['spent'] / alert['amount'] * 100:.0f}%), projected "
        f"${alert['projected']:,.2f} for the {alert['period']} from {alert['period_start']}."
    )
    return {"text": text, **{k: alert[k] for k in sorted(alert)}}


def send_webhook(
    url: str,
    payload: dict,
    sleep: Callable[[float], None] = time.sleep,
    transport=None,
    attempts: int = WEBHOOK_ATTEMPTS,
) -> dict:
    """POST the payload; a network error or a non-2xx answer is retried after each of WEBHOOK_BACKOFF_S."""
    error = None
    for attempt in range(1, attempts + 1):
        try:
            with httpx.Client(timeout=WEBHOOK_TIMEOUT_S, transport=transport) as client:
                r = client.post(url, json=payload)
            if 200 <= r.status_code < 300:
                return {"status": "sent", "attempts": attempt}
            error = f"HTTP {r.status_code}"
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            error = f"{type(exc).__name__}"  # the exception text may quote the URL, whose path is a secret
        if attempt < attempts:
            sleep(WEBHOOK_BACKOFF_S[min(attempt - 1, len(WEBHOOK_BACKOFF_S) - 1)])
    return {"status": "failed", "attempts": attempts, "error": error}


def send_email(settings: Settings, subject: str, body: str) -> dict:
    recipients = [a.strip() for a in (settings.ALERT_EMAIL_TO or "").split(",") if a.strip()]
    msg = EmailMessage()
    msg["Subject"] = subject
    msg["From"] = settings.SMTP_FROM or (settings.SMTP_USERNAME or "litellm-console@localhost")
    msg["To"] = ", ".join(recipients)
    msg.set_content(body)
    try:
        with smtplib.SMTP(settings.SMTP_HOST, settings.SMTP_PORT, timeout=SMTP_TIMEOUT_S) as smtp:
            smtp.ehlo()
            if smtp.has_extn("starttls"):
                smtp.starttls()
                smtp.ehlo()
            if settings.SMTP_USERNAME:
                smtp.login(settings.SMTP_USERNAME, settings.SMTP_PASSWORD or "")
            smtp.send_message(msg)
        return {"status": "sent", "attempts": 1}
    except (OSError, smtplib.SMTPException) as exc:
        # the exception's type and the server's reply code; its text may quote the login
        code = getattr(exc, "smtp_code", None)
        return {"status": "failed", "attempts": 1, "error": type(exc).__name__ + (f" (SMTP {code})" if code else "")}


def channels(settings: Settings) -> list[str]:
    out = []
    if settings.ALERT_WEBHOOK_URL:
        out.append("webhook")
    if settings.SMTP_HOST and settings.ALERT_EMAIL_TO:
        out.append("email")
    return out


def deliver(settings: Settings, alert: dict, sleep: Callable[[float], None] = time.sleep) -> dict[str, dict]:
    """Send the alert to every configured channel; {channel: outcome}."""
    payload = alert_payload(alert)
    out = {}
    for channel in channels(settings):
        if channel == "webhook":
            out[channel] = send_webhook(settings.ALERT_WEBHOOK_URL, payload, sleep=sleep)
        else:
            subject = f"[LiteLLM Console] Budget {alert['budget']}: {alert['state']}"
            out[channel] = send_email(settings, subject, payload["text"])
    return out


def test_payload(sent_by: str, at: str) -> dict:
    """The test webhook's JSON: `text` (what Slack shows), `test: true`, who sent it and when (ISO, UTC)."""
    text = f"Test notification from LiteLLM Console, sent by {sent_by} at {at}: budget alerts will arrive here."
    return {"text": text, "test": True, "sent_by": sent_by, "at": at}


def send_test(settings: Settings, sent_by: str, at: str) -> dict[str, dict]:
    """One test message to each channel the settings in effect configure, sent once (no retries: the person
    waits for the answer). {channel: outcome}; a channel not configured: {"status": "not configured"}."""
    configured = channels(settings)
    payload = test_payload(sent_by, at)
    out = {}
    if "webhook" in configured:
        out["webhook"] = send_webhook(settings.ALERT_WEBHOOK_URL, payload, attempts=1)
    else:
        out["webhook"] = {"status": "not configured"}
    if "email" in configured:
        out["email"] = send_email(settings, "[LiteLLM Console] Test notification", payload["text"])
    else:
        out["email"] = {"status": "not configured"}
    return out
