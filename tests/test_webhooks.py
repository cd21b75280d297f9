"""Group robots (企业微信 / 钉钉 / generic JSON webhook): the scheduled reports are posted to them once,
through the same deliveries as e-mail (claim, recovery after a dead worker, retries with backoff),
in each robot's message format; the bureau's page adds, masks and removes them.

A fake robot on loopback (``http.server`` in a thread) records each post and answers as told."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
from django.conf import settings
from django.urls import reverse

from core.models import SecurityEvent
from reports import services
from reports.models import Delivery, Report, ReportLog, Webhook
from tests.test_reports import DEC_5_0800, reports, rworld, sweep_at  # noqa: F401 (rworld: a fixture)

KEY = "0123456789abcdef-SECRET-KEY"
NOV = "2026年11月"


class Robot:
    """The fake robot: ``posts`` is [(path, query, json)], ``answers`` a queue of (status, body)."""

    def __init__(self):
        self.posts: list[tuple[str, dict, dict]] = []
        self.answers: list[tuple[int, dict]] = []
        robot = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                parts = urlsplit(self.path)
                robot.posts.append((parts.path, parse_qs(parts.query), json.loads(self.rfile.read(length))))
                status, answer = robot.answers.pop(0) if robot.answers else (200, {"errcode": 0, "errmsg": "ok"})
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def robot(monkeypatch):
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    server = Robot()
    yield server
    server.close()


def hook(w, robot, kind, *, alliance=None, secret="", path="/send"):
    return Webhook.objects.create(county=w.yn, alliance=alliance, name=f"{kind}群", kind=kind,
                                  url=f"{robot.base}{path}?key={KEY}", secret=secret, created_at=DEC_5_0800)


def dead_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/send?key={KEY}"


def test_each_report_is_posted_once_in_each_robots_format(rworld, robot, as_user):  # noqa: F811
    w = rworld
    wecom = hook(w, robot, Webhook.Kind.WECOM, path="/wecom")
    ding = hook(w, robot, Webhook.Kind.DINGTALK, alliance=w.alliance_a, secret="SECdingtalk", path="/ding")
    generic = hook(w, robot, Webhook.Kind.GENERIC, alliance=w.alliance_b, path="/generic")
    sweep_at(DEC_5_0800)
    sweep_at(DEC_5_0800 + timedelta(seconds=1))  # the doubled sweep posts nothing again
    sweep_at(DEC_5_0800 + timedelta(minutes=20))

    robot_rows = Delivery.objects.filter(address_key__startswith="webhook:")
    assert robot_rows.count() == len(robot.posts) >= 3
    assert set(robot_rows.values_list("state", flat=True)) == {Delivery.State.SENT}
    assert not robot_rows.filter(report__county=w.wy).exists()  # 万源市's reports reach no 郁南县 robot
    by_path: dict[str, list] = {}
    for path, query, body in robot.posts:
        by_path.setdefault(path, []).append((query, body))
    contents = [body["text"]["content"] for _q, body in by_path["/wecom"]]
    assert len(contents) == len(set(contents)) == robot_rows.filter(webhook=wecom).count()

    county = reports(period="2026-11").get(alliance=None)
    assert county.state == Report.State.SENT
    url = settings.PORTAL_BASE_URL.rstrip("/") + reverse("reports:detail", kwargs={"scheduled_report_pk": county.pk})
    # 企业微信: {"msgtype": "text", "text": {"content": …}}, the title, the period and the link.
    (query, body), = [(q, b) for q, b in by_path["/wecom"] if county.title in b["text"]["content"]]
    assert body == {"msgtype": "text", "text": {"content": f"【医共体治理门户】{county.title}\n报告期：{NOV}\n{url}"}}
    assert query == {"key": [KEY]}
    # 钉钉 with 加签: timestamp (ms) and sign = base64(HMAC-SHA256(secret, "timestamp\nsecret")).
    alliance_a = reports(period="2026-11").get(alliance=w.alliance_a)
    (query, body), = [(q, b) for q, b in by_path["/ding"] if alliance_a.title in b["text"]["content"]]
    assert set(body) == {"msgtype", "text"} and body["msgtype"] == "text"
    timestamp = query["timestamp"][0]
    assert int(timestamp) == int(DEC_5_0800.timestamp() * 1000)
    expected = base64.b64encode(hmac.new(b"SECdingtalk", f"{timestamp}\nSECdingtalk".encode(),
                                         hashlib.sha256).digest()).decode()
    assert query["sign"] == [expected] and query["key"] == [KEY]
    # Generic: {"title", "text", "url"}.
    alliance_b = reports(period="2026-11").get(alliance=w.alliance_b)
    body, = [b for _q, b in by_path["/generic"] if b["title"] == alliance_b.title]
    assert set(body) == {"title", "text", "url"} and NOV in body["text"]
    assert body["url"].endswith(reverse("reports:detail", kwargs={"scheduled_report_pk": alliance_b.pk}))
    # The delivery log names the robot and never its key.
    delivery = county.deliveries.get(webhook=wecom)
    assert delivery.recipient == wecom.name and KEY not in delivery.reason
    assert ReportLog.objects.filter(delivery=delivery, event="sent").count() == 1
    assert not ReportLog.objects.filter(note__contains=KEY).exists()
    assert ding.deliveries.count() and generic.deliveries.count()
    html = as_user(w.bureau).get(reverse("reports:detail", kwargs={"scheduled_report_pk": county.pk})).content.decode()
    assert wecom.name in html and wecom.masked_url in html and KEY not in html


def test_a_robot_removed_before_its_post_fails_that_delivery_only(rworld, robot):  # noqa: F811
    w = rworld
    wecom = hook(w, robot, Webhook.Kind.WECOM)
    services.ensure_due(DEC_5_0800, since=DEC_5_0800)
    county = reports(period="2026-11").get(alliance=None)
    services.generate(county.pk, DEC_5_0800)
    services.queue_ready(DEC_5_0800)
    wecom.delete()
    services.process(county.pk, DEC_5_0800)
    delivery = county.deliveries.get(address_key__startswith="webhook:")
    assert delivery.state == Delivery.State.FAILED and delivery.webhook is None and robot.posts == []
    assert set(county.deliveries.exclude(pk=delivery.pk).values_list("state", flat=True)) == {Delivery.State.SENT}


def test_a_worker_killed_while_posting_is_requeued_after_the_timeout(rworld, robot):  # noqa: F811
    w = rworld
    wecom = hook(w, robot, Webhook.Kind.WECOM)
    services.ensure_due(DEC_5_0800, since=DEC_5_0800)
    county = reports(period="2026-11").get(alliance=None)
    services.generate(county.pk, DEC_5_0800)
    services.queue_ready(DEC_5_0800)
    delivery = county.deliveries.get(webhook=wecom)
    Delivery.objects.filter(pk=delivery.pk).update(state=Delivery.State.SENDING, claimed_at=DEC_5_0800, attempts=1)
    sweep_at(DEC_5_0800 + timedelta(minutes=1))
    delivery.refresh_from_db()
    assert delivery.state == Delivery.State.SENDING  # within the timeout
    assert not [b for _p, _q, b in robot.posts if county.title in b["text"]["content"]]
    sweep_at(DEC_5_0800 + timedelta(minutes=10))
    sweep_at(DEC_5_0800 + timedelta(minutes=10, seconds=1))
    delivery.refresh_from_db()
    county.refresh_from_db()
    assert delivery.state == Delivery.State.SENT and delivery.attempts == 2
    assert county.state == Report.State.SENT
    assert len([b for _p, _q, b in robot.posts if county.title in b["text"]["content"]]) == 1


def test_down_500_and_errcode_are_retried_with_backoff(rworld, robot):  # noqa: F811
    w = rworld
    wecom = hook(w, robot, Webhook.Kind.WECOM)
    live_url = wecom.url
    Webhook.objects.filter(pk=wecom.pk).update(url=dead_url())
    services.ensure_due(DEC_5_0800, since=DEC_5_0800)
    county = reports(period="2026-11").get(alliance=None)
    services.process(county.pk, DEC_5_0800)
    delivery = county.deliveries.get(webhook=wecom)
    assert delivery.state == Delivery.State.QUEUED and delivery.attempts == 1
    assert delivery.next_attempt_at == DEC_5_0800 + timedelta(minutes=1)
    assert "refused" in delivery.last_error.lower() and KEY not in delivery.last_error

    Webhook.objects.filter(pk=wecom.pk).update(url=live_url)  # up, but answering 500, then errcode 93000
    robot.answers = [(500, {"errcode": -1}), (200, {"errcode": 93000, "errmsg": "invalid webhook url"})]
    services.process(county.pk, DEC_5_0800 + timedelta(minutes=1))
    delivery.refresh_from_db()
    assert delivery.attempts == 2 and delivery.last_error == "HTTP 500"
    assert delivery.next_attempt_at == DEC_5_0800 + timedelta(minutes=6)
    services.process(county.pk, DEC_5_0800 + timedelta(minutes=3))  # the backoff has not elapsed
    assert len(robot.posts) == 1
    services.process(county.pk, DEC_5_0800 + timedelta(minutes=6))
    delivery.refresh_from_db()
    assert delivery.state == Delivery.State.QUEUED and delivery.attempts == 3
    assert delivery.last_error == "errcode 93000: invalid webhook url"
    assert delivery.next_attempt_at == DEC_5_0800 + timedelta(minutes=21)
    services.process(county.pk, DEC_5_0800 + timedelta(minutes=21))
    delivery.refresh_from_db()
    county.refresh_from_db()
    assert delivery.state == Delivery.State.SENT and delivery.attempts == 4 and delivery.last_error == ""
    assert county.state == Report.State.SENT and len(robot.posts) == 3
    assert list(ReportLog.objects.filter(delivery=delivery).values_list("event", flat=True)) == [
        "retry", "retry", "retry", "sent"]
    assert not ReportLog.objects.filter(note__contains=KEY).exists()


def test_the_bureau_adds_sees_masked_and_removes_a_robot(rworld, as_user):  # noqa: F811
    w = rworld
    page = reverse("reports:webhooks", kwargs={"region_pk": w.yn.pk})
    url = f"https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key={KEY}"
    bureau = as_user(w.bureau)
    assert reverse("reports:webhooks", kwargs={"region_pk": w.yn.pk}) in bureau.get(
        reverse("reports:settings", kwargs={"region_pk": w.yn.pk})).content.decode()
    answer = bureau.post(page, {"name": "医共体工作群", "kind": "wecom", "alliance": "", "url": url,
                                "secret": "SECx"})
    assert answer.status_code == 200 and "secret" in answer.context["form"].errors and not Webhook.objects.exists()
    answer = bureau.post(page, {"name": "医共体工作群", "kind": "wecom", "alliance": "", "url": "ftp://x/y"})
    assert answer.status_code == 200 and not Webhook.objects.exists()
    answer = bureau.post(page, {"name": "医共体工作群", "kind": "wecom", "alliance": w.alliance_a.pk, "url": url})
    assert answer.status_code == 302
    saved = Webhook.objects.get()
    assert saved.url == url and saved.alliance == w.alliance_a and saved.created_by == w.bureau
    html = bureau.get(page).content.decode()
    assert "医共体工作群" in html and "https://qyapi.weixin.qq.com/…" + KEY[-4:] in html and KEY not in html
    added = SecurityEvent.objects.get(event="webhook.add")
    assert added.county_id == w.yn.pk and KEY not in json.dumps(added.details, ensure_ascii=False)
    assert added.details["url"] == saved.masked_url

    # Same county but not the bureau: 403; another county's bureau: 404, also when removing this one.
    assert as_user(w.supervisor).get(page).status_code == 403
    assert as_user(w.outsider).get(page).status_code == 404
    assert as_user(w.outsider).post(page, {"remove": saved.pk}).status_code == 404
    own = reverse("reports:webhooks", kwargs={"region_pk": w.wy.pk})
    assert as_user(w.outsider).post(own, {"remove": saved.pk}).status_code == 404
    assert Webhook.objects.filter(pk=saved.pk).exists()

    assert bureau.post(page, {"remove": saved.pk}).status_code == 302
    assert not Webhook.objects.exists()
    removed = SecurityEvent.objects.get(event="webhook.remove")
    assert KEY not in json.dumps(removed.details, ensure_ascii=False) and removed.details["name"] == "医共体工作群"
