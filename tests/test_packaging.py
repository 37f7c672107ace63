"""Packaging: pyproject.toml agrees with the pinned requirements and the tree, and `pip install .`
in a fresh virtualenv gives a `dadashop` command that migrates and serves outside the checkout."""
import fnmatch
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import tomllib
import urllib.request
from pathlib import Path

import pymysql
import pytest
from packaging.requirements import Requirement

import config as config_module
from tests.helpers import free_port

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
SETUPTOOLS = PYPROJECT["tool"]["setuptools"]


def pinned(path):
    pins = {}
    for line in (ROOT / path).read_text().splitlines():
        line = line.split("#")[0].strip()
        if line and not line.startswith("-r"):
            requirement = Requirement(line)
            pins[requirement.name.lower()] = next(iter(requirement.specifier)).version
    return pins


def test_declared_dependencies_are_the_pinned_runtime_requirements_and_admit_the_pins():
    declared = {Requirement(text).name.lower(): Requirement(text).specifier
                for text in PYPROJECT["project"]["dependencies"]}
    pins = pinned("requirements.txt")
    assert set(declared) == set(pins)
    for name, version in pins.items():
        assert declared[name].contains(version), f"{name}=={version} is outside {declared[name]}"


def test_the_hash_lock_pins_the_same_versions_with_hashes():
    """requirements.lock (scripts/lock.sh) is requirements.txt's pins plus dependencies, each with hashes."""
    text = (ROOT / "requirements.lock").read_text()
    entry = r"^([A-Za-z0-9_.-]+)==([^ \\]+) \\\n((?:    --hash=sha256:[0-9a-f]{64}(?: \\)?\n)+)"
    entries = re.findall(entry, text, re.M)
    locked = {Requirement(f"{name}=={version}").name.lower(): version for name, version, _ in entries}
    assert len(entries) == len(re.findall(r"^[A-Za-z0-9]", text, re.M))  # every requirement line has hashes
    pins = pinned("requirements.txt")
    assert {name: locked.get(name) for name in pins} == pins, "run scripts/lock.sh"


def test_every_module_and_package_of_the_service_is_packaged():
    modules = {p.stem for p in ROOT.glob("*.py")}
    assert set(SETUPTOOLS["py-modules"]) == modules, "pyproject.toml [tool.setuptools] py-modules"
    python_packages = {p.parent.name for p in ROOT.glob("*/__init__.py")} - {"tests", "loadtest"}
    assert python_packages <= set(SETUPTOOLS["packages"]), "pyproject.toml [tool.setuptools] packages"
    assert {"sql", "static"} <= set(SETUPTOOLS["packages"])


@pytest.mark.parametrize("package", ["sql", "static", "alipay_sandbox/dev_keys"])
def test_package_data_globs_cover_every_data_file(package):
    top = package.split("/")[0]
    globs = SETUPTOOLS.get("package-data", {}).get(top, [])
    files = [p.relative_to(ROOT / top).as_posix() for p in (ROOT / package).rglob("*")
             if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".py"]
    assert files
    missing = [f for f in files if not any(fnmatch.fnmatch(f, g) and f.count("/") == g.count("/") for g in globs)]
    assert not missing, "pyproject.toml [tool.setuptools.package-data]"


def wait_for_http(url, proc, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                return answer.status, answer.read()
        except OSError:
            if proc.poll() is not None:
                raise AssertionError(proc.stdout.read())
            time.sleep(0.2)
    raise AssertionError(f"{url} did not answer")


def copy_of_the_tree(tmp_path):
    """The tracked (and new, unignored) files, so that a build leaves nothing in the checkout."""
    source = tmp_path / "source"
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                           capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, files):
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    return source


def fresh_venv(tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    return venv


def pip(venv, *args):
    result = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "--disable-pip-version-check", *args],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.mark.slow
def test_the_hash_lock_installs_and_satisfies_the_package(tmp_path):
    """What deploy/Dockerfile does: the locked files (hashes checked), then the package without resolving."""
    source, venv = copy_of_the_tree(tmp_path), fresh_venv(tmp_path)
    pip(venv, "install", "-q", "--require-hashes", "-r", str(ROOT / "requirements.lock"))
    pip(venv, "install", "-q", "--no-deps", str(source))
    assert "No broken requirements found" in pip(venv, "check")


@pytest.mark.slow
def test_pip_install_in_a_fresh_venv_migrates_and_serves_outside_the_checkout(tmp_path, server_db, redis_url):
    source, venv = copy_of_the_tree(tmp_path), fresh_venv(tmp_path)
    pip(venv, "install", "-q", str(source))
    dadashop = str(venv / "bin" / "dadashop")
    elsewhere = tmp_path / "elsewhere"  # no checkout on sys.path: only the installed files can serve
    elsewhere.mkdir()
    env = {"PATH": os.environ["PATH"], "DADASHOP_MYSQL_URL": server_db, "DADASHOP_REDIS_URL": redis_url,
           "DADASHOP_JWT_SECRET": "packaging-test-secret-0123456789abcdef"}

    migrated = subprocess.run([dadashop, "migrate"], cwd=elsewhere, env=env, capture_output=True, text=True,
                              timeout=120)
    assert migrated.returncode == 0, migrated.stderr
    assert "migration applied: 0001_initial.sql" in migrated.stdout
    target = config_module.parse_mysql_url(server_db)
    conn = pymysql.connect(host=target.host, port=target.port, user=target.user, database=target.db)
    with conn.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM schema_version")
        versions = cur.fetchone()[0]
    conn.close()
    assert versions == len(list((ROOT / "sql" / "migrations").glob("*.sql")))

    port = free_port()
    proc = subprocess.Popen([dadashop, "serve", "--port", str(port), "--no-jobs", "--demo"], cwd=elsewhere, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        status, body = wait_for_http(f"http://127.0.0.1:{port}/v1/goods/skus", proc)
        assert status == 200 and b'"skus"' in body
        status, page = wait_for_http(f"http://127.0.0.1:{port}/static/index.html", proc)
        assert status == 200 and page == (ROOT / "static" / "index.html").read_bytes()
        status, image = wait_for_http(f"http://127.0.0.1:{port}/static/images/bag_red.svg", proc)
        assert status == 200 and image == (ROOT / "static" / "images" / "bag_red.svg").read_bytes()
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(60)
    output = proc.stdout.read()
    assert code == 0, output
    site_packages = subprocess.run([str(venv / "bin" / "python"), "-c", "import alipay_sandbox, server; "
                                    "print(alipay_sandbox.MERCHANT_PRIVATE_KEY_PATH); print(server.__file__)"],
                                   cwd=elsewhere, capture_output=True, text=True, check=True).stdout.split()
    assert all(str(venv) in path and os.path.isfile(path) for path in site_packages)


def test_the_command_migrates_and_refuses_a_bad_setting_with_one_line(server_db, tmp_path):
    env = {"PATH": os.environ["PATH"], "DADASHOP_MYSQL_URL": server_db}
    run = [sys.executable, str(ROOT / "cli.py")]
    first = subprocess.run(run + ["migrate"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    second = subprocess.run(run + ["migrate"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert first.returncode == second.returncode == 0, first.stderr + second.stderr
    assert first.stdout.count("migration applied:") == len(list((ROOT / "sql" / "migrations").glob("*.sql")))
    assert "migration applied" not in second.stdout and "is up to date" in second.stdout
    bad = subprocess.run(run + ["migrate"], cwd=tmp_path, env={**env, "DADASHOP_MYSQL_POOL_SIZE": "0"},
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 1
    assert bad.stderr.strip() == "error: DADASHOP_MYSQL_POOL_SIZE must be an integer between 1 and 1000, got '0'"
    unknown = subprocess.run(run + ["deploy"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert unknown.returncode == 2 and "invalid choice: 'deploy'" in unknown.stderr
