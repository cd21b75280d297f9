"""Posting a report to a group robot: the message bodies of 企业微信 and 钉钉 robots and of a generic
JSON webhook, 钉钉's optional 加签 (timestamp + HMAC-SHA256 signature as query parameters), and the
reply check (a JSON ``errcode`` other than 0 is a failure, like an HTTP error).

The URL and the secret never leave this module in clear: errors are told with the URL masked.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime

from django.conf import settings

from reports.models import Webhook, mask_url

TIMEOUT_SECONDS = 10


class WebhookError(Exception):
    """The robot did not take the message (told without the URL)."""


def body(kind: str, *, title: str, text: str, url: str) -> dict:
    """The JSON posted: 企业微信 and 钉钉 take ``{"msgtype": "text", "text": {"content": …}}``;
    a generic webhook ``{"title", "text", "url"}``."""
    if kind in (Webhook.Kind.WECOM, Webhook.Kind.DINGTALK):
        return {"msgtype": "text", "text": {"content": f"{text}\n{url}"}}
    return {"title": title, "text": text, "url": url}


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """钉钉 加签: base64(HMAC-SHA256(key=secret, "timestamp\\nsecret")), URL-encoded."""
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return urllib.parse.quote_plus(base64.b64encode(digest))


def signed_url(webhook: Webhook, now: datetime) -> str:
    if webhook.kind != Webhook.Kind.DINGTALK or not webhook.secret:
        return webhook.url
    timestamp = int(now.timestamp() * 1000)
    joiner = "&" if "?" in webhook.url else "?"
    return f"{webhook.url}{joiner}timestamp={timestamp}&sign={dingtalk_sign(webhook.secret, timestamp)}"


def _clean(text: str, webhook: Webhook) -> str:
    """An error message with the URL and the secret masked."""
    for secret in (webhook.url, webhook.secret):
        if secret:
            text = text.replace(secret, mask_url(secret))
    query = urllib.parse.urlsplit(webhook.url).query
    if query:
        text = text.replace(query, "…")
    return text[:400]


def post(webhook: Webhook, payload: dict, now: datetime) -> None:
    """POST the payload; raise ``WebhookError`` unless the robot answered 2xx and (when it answers
    JSON with an ``errcode``) errcode 0."""
    data = json.dumps(payload, ensure_ascii=False).encode()
    request = urllib.request.Request(signed_url(webhook, now), data=data, method="POST",
                                     headers={"Content-Type": "application/json; charset=utf-8"})
    timeout = getattr(settings, "PORTAL_WEBHOOK_TIMEOUT", TIMEOUT_SECONDS)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (http/https only, checked on save)
            raw = response.read(65536)
    except urllib.error.HTTPError as exc:
        raise WebhookError(f"HTTP {exc.code}") from None
    except Exception as exc:  # refused, timed out, DNS…: retried
        raise WebhookError(_clean(f"{type(exc).__name__}: {exc}", webhook)) from None
    try:
        answer = json.loads(raw.decode("utf-8", "replace") or "null")
    except ValueError:
        return  # a generic webhook may answer plain text
    if isinstance(answer, dict) and "errcode" in answer and answer["errcode"] not in (0, "0"):
        raise WebhookError(_clean(f"errcode {answer['errcode']}: {answer.get('errmsg', '')}", webhook))
