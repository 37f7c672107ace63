"""The OpenAPI document: valid 3.1, every route described, the /docs page served from local files,
and schemathesis fuzzing a running server against it (no 5xx, every answer as documented)."""
import json
import os
import re
import signal
import subprocess
import sys
import urllib.request

import pytest
from openapi_spec_validator import validate

import server
from handlers.openapi import document
from tests.helpers import ROOT, start_server


def test_the_document_is_valid_openapi_3_1_and_names_every_business_code(config):
    doc = document(config)
    validate(doc)
    assert doc["openapi"] == "3.1.0" and doc["servers"] == [{"url": config.base_url}]
    for code in (50100, 50103, 50109, 50110, 50111, 50112, 50113, 30103):
        assert f"| {code} |" in doc["info"]["description"]


def route_shapes():
    """The API routes of the application, each path with its parameters written `{}`."""
    app = server.App(services=None)
    shapes = set()
    for rule in app.wildcard_router.rules:
        pattern = rule.matcher.regex.pattern.rstrip("$").replace("/?", "/").replace("\\", "")
        if pattern.startswith("/v1/") or pattern in ("/healthz", "/readyz", "/metrics"):
            shapes.add(re.sub(r"\([^)]*\)", "{}", pattern).rstrip("/"))
    return shapes


def test_every_api_route_is_in_the_document(config):
    documented = {re.sub(r"\{[^}]+\}", "{}", path).rstrip("/") for path in document(config)["paths"]}
    assert route_shapes() == documented


@pytest.mark.gen_test
async def test_the_document_and_the_docs_page_are_served_without_network(api):
    status, doc = await api.get("/openapi.json")
    assert status == 200 and doc["openapi"] == "3.1.0"
    response = await api.client.fetch(api.base_url + "/docs")
    page = response.body.decode()
    assert "/openapi.json" in page and "//" not in page.replace("http://", "").replace("https://", "")
    for asset in re.findall(r'(?:src|href)="(/docs/static/[^"]+)"', page):
        assert (await api.client.fetch(api.base_url + asset)).code == 200


def test_schemathesis_finds_no_server_error_and_no_answer_unlike_the_document(server_db, redis_url, tmp_path):
    """Against a real server with the demo store, logged in as the demo buyer and as the merchant.
    Checks: no 5xx, status codes, content types, response schemas and headers as documented, the
    right answer to undeclared methods, and no operation that ignores its authentication.
    (negative_data_rejection is left out: the buyer's own name is fixed for the user paths, which
    that check then counts as "invalid input accepted".)"""
    log = open(tmp_path / "server.log", "w")
    # no rate limits: the fuzzer's one buyer would soon get only 429s and leave the logic untested
    proc, port = start_server(server_db, redis_url, "--demo", "--no-jobs", log=log,
                              extra_env={"DADASHOP_ADMIN_KEY": "fuzz-key", "DADASHOP_RATE_LIMITS": "0"})
    try:
        with urllib.request.urlopen(urllib.request.Request(
                f"http://127.0.0.1:{port}/v1/tokens", method="POST",
                data=json.dumps({"username": "demo", "password": "demo12345"}).encode())) as answer:
            token = json.load(answer)["data"]["token"]
        settings = tmp_path / "schemathesis.toml"
        settings.write_text('[parameters]\nusername = "demo"\n')
        run = subprocess.run(
            [os.path.join(os.path.dirname(sys.executable), "schemathesis"), "--config-file", str(settings), "run",
             f"http://127.0.0.1:{port}/openapi.json", "--checks",
             "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,"
             "response_headers_conformance,unsupported_method,ignored_auth",
             "--max-examples", "15", "--seed", "20261201", "--workers", "2",
             "-H", f"authorization: {token}", "-H", "X-Admin-Key: fuzz-key"],
            cwd=ROOT, capture_output=True, text=True, timeout=600)
        assert run.returncode == 0, run.stdout[-6000:]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        log.close()
    assert "Traceback" not in (tmp_path / "server.log").read_text()
