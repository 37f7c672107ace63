"""Prometheus metrics across worker processes: a scrape after a purchase shows the counters moved."""
import json
import re
import signal
import time
import urllib.request

import metrics
from tests.helpers import SHIPMENT, start_server


def call(port, method, path, body=None, headers=None):
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method,
                                     data=None if body is None else json.dumps(body).encode(),
                                     headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def sample(text, name, **labels):
    """The value of one sample of the exposition text (0 when absent)."""
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        match = re.match(rf"{name}(?:{{(.*)}})? (\S+)$", line)
        if match and ",".join(sorted((match.group(1) or "").split(","))) == wanted:
            return float(match.group(2))
    return 0.0


def test_a_purchase_moves_the_counters_seen_from_any_worker(server_db, redis_url, tmp_path):
    log = open(tmp_path / "server.log", "w")
    proc, port = start_server(server_db, redis_url, "--demo", "--no-jobs", "--processes", "2",
                              extra_env={"DADASHOP_ADMIN_KEY": "metrics-key", "DADASHOP_RATE_LIMITS": "0"}, log=log)
    try:
        _, before = call(port, "GET", "/metrics")
        _, login = call(port, "POST", "/v1/tokens", {"username": "demo", "password": "demo12345"})
        token = {"authorization": json.loads(login)["data"]["token"]}
        _, addresses = call(port, "GET", "/v1/users/demo/address", headers=token)
        address_id = json.loads(addresses)["data"][0]["id"]
        for _ in range(3):
            status, created = call(port, "POST", "/v1/orders/processing/",
                                   {"status": 0, "address_id": address_id, "settlement_type": 1, "sku_id": 1,
                                    "buy_num": 1}, headers=token)
            assert json.loads(created)["code"] == 200
        _, refused = call(port, "POST", "/v1/orders/processing/",
                          {"status": 0, "address_id": address_id, "settlement_type": 1, "sku_id": 1, "buy_num": 99},
                          headers=token)
        assert json.loads(refused)["code"] == 50103
        order_id = json.loads(created)["data"]["order_id"]
        call(port, "POST", f"/v1/admin/orders/{order_id}/ship", SHIPMENT, headers={"X-Admin-Key": "metrics-key"})
        # a cancel closes the Alipay trade: one gateway call, whatever its outcome here
        call(port, "POST", "/v1/orders/processing/", {"status": 2, "order_id": order_id}, headers=token)
        time.sleep(metrics.FLUSH_INTERVAL + 0.5)  # each worker writes its per-request samples once a second
        status, after = call(port, "GET", "/metrics")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        log.close()
    assert status == 200
    assert sample(after, "dadashop_orders_created_total") - sample(before, "dadashop_orders_created_total") == 3
    assert sample(after, "dadashop_business_answers_total", code="50103") == 1
    assert sample(after, "dadashop_business_answers_total", code="50107") == 1  # shipping an unpaid order
    created = sample(after, "dadashop_requests_total", route="OrderProcessingHandler", method="POST", status="200")
    assert created == 5  # three creates, the 50103 answer (HTTP 200) and the cancel
    assert sample(after, "dadashop_request_seconds_count", route="OrderProcessingHandler", method="POST") == 5
    assert sum(sample(after, "dadashop_alipay_calls_total", method="alipay.trade.close", outcome=outcome)
               for outcome in ("ok", "business_error", "failed")) == 1
    assert sample(after, "dadashop_alipay_call_seconds_count", method="alipay.trade.close") == 1
    assert 'dadashop_db_connections{state="idle"}' in after


def test_metrics_only_for_loopback_clients_unless_made_public(server_db, redis_url, tmp_path):
    log = open(tmp_path / "server.log", "w")
    # as if every request came through a proxy from a public address
    proc, port = start_server(server_db, redis_url, "--no-jobs", log=log,
                              extra_env={"DADASHOP_TRUST_PROXY": "1"})
    try:
        assert call(port, "GET", "/metrics")[0] == 200
        status, _ = call(port, "GET", "/metrics", headers={"X-Real-IP": "203.0.113.9"})
        assert status == 403
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        log.close()
