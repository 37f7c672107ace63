"""The load-test tools against a real service: a short scenario writes its JSON and an HTML report
with plots beside it; Locust's storefront journeys run headless and pay at the sandbox."""
import csv
import json
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pymysql
import pytest

import config as config_module
from tests.running import running_store as running

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def running_store(database_url, redis_url, tmp_path):
    with running(database_url + "_load", redis_url, tmp_path) as store:
        yield store


def query(mysql_url, sql, *args):
    target = config_module.parse_mysql_url(mysql_url)
    conn = pymysql.connect(host=target.host, port=target.port, user=target.user, database=target.db)
    try:
        with conn.cursor() as cur:
            cur.execute(sql, args)
            return cur.fetchall()
    finally:
        conn.close()


@pytest.mark.slow
def test_a_scenario_writes_an_html_report_with_plots_beside_its_json(running_store, tmp_path):
    output = tmp_path / "read.json"
    result = subprocess.run(
        [sys.executable, "-m", "loadtest.run", "read", "--base-url", running_store["base_url"],
         "--mysql-url", running_store["mysql_url"], "--redis-url", running_store["redis_url"],
         "--jwt-secret", running_store["jwt_secret"], "--buyers", "12", "--orders-per-buyer", "3", "--page-size", "3",
         "--concurrency", "4", "--duration", "2.5", "--service-pid", str(running_store["pid"]),
         "--json", str(output)], cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(output.read_text())
    timeline = report["timeline"]
    answers = sum(timeline["ops"]["list"]["count"])
    assert answers == sum(report["http"].values()) > 0  # every answer is in one second of the timeline
    assert len(timeline["t"]) == len(timeline["ops"]["list"]["p99"]) >= 2
    assert {"generator", "service"} <= set(timeline["cpu"])
    assert timeline["codes"] == {"200": timeline["ops"]["list"]["count"]}

    page = (tmp_path / "read.html").read_text()
    assert page.startswith("<!doctype html>") and "check <span class='ok'>OK</span>" in page
    assert page.count("<svg") == 4  # latency, throughput, statuses/codes, CPU
    for heading in ("Latency over time", "Throughput over time", "Statuses and codes over time", "CPU over time"):
        assert f"<h2>{heading}</h2>" in page
    assert not re.search(r"(src|href)=[\"']?https?:", page)  # self-contained: nothing loaded from elsewhere

    # the report can be written again from the JSON alone
    (tmp_path / "read.html").unlink()
    subprocess.run([sys.executable, "-m", "loadtest.report", str(output)], cwd=ROOT, check=True,
                   capture_output=True, timeout=120)
    assert (tmp_path / "read.html").read_text().count("<svg") == 4


@pytest.mark.slow
def test_locust_runs_the_storefront_journeys_headless_and_pays_at_the_sandbox(running_store, tmp_path):
    locust = Path(sys.executable).parent / "locust"
    result = subprocess.run(
        [str(locust), "-f", str(ROOT / "loadtest" / "locustfile.py"), "--host", running_store["base_url"],
         "--headless", "--users", "3", "--spawn-rate", "3", "--run-time", "15s", "--tags", "buy",
         "--csv", str(tmp_path / "locust"), "--only-summary", "--loglevel", "WARNING"],
        cwd=tmp_path, capture_output=True, text=True, timeout=180)
    with open(tmp_path / "locust_stats.csv") as f:
        rows = {row["Name"]: row for row in csv.DictReader(f)}
    assert result.returncode == 0, result.stdout + result.stderr  # locust exits 1 when a request failed
    assert all(row["Failure Count"] == "0" for row in rows.values()), rows
    assert rows["register"]["Request Count"] == "3"
    paid = int(rows["pay at the sandbox"]["Request Count"])
    assert paid >= 1 and int(rows["create"]["Request Count"]) >= paid
    with urllib.request.urlopen(running_store["sandbox_url"] + "/sandbox/api/trades", timeout=30) as answer:
        trades = json.load(answer)
    paid_at_sandbox = {t["out_trade_no"] for t in trades if t["status"] == "TRADE_SUCCESS"}
    # (a journey cut short when the run ends may have paid without its answer being counted)
    assert len(paid_at_sandbox) >= paid
    # the sandbox notified the service: exactly the orders paid at the cashier are paid in the database
    deadline = time.monotonic() + 60
    while True:
        paid_in_db = {order_id for order_id, in query(
            running_store["mysql_url"], "SELECT o.order_id FROM order_info o JOIN user_profile u ON u.id = o.user_id "
                                        "WHERE u.username LIKE 'lc\\_%%' AND o.status = 2")}
        if paid_in_db == paid_at_sandbox or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert paid_in_db == paid_at_sandbox
