"""The sandbox's phone cashier (alipay.trade.wap.pay) in headless Chromium at 390 px: it fits
without horizontal scrolling, its buttons are large touch targets, and it pays like the PC
cashier (same #pay / #cancel, signed return). The sandbox runs as its own process
(``python -m alipay_sandbox``), as in tests/e2e."""
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from alipay_sandbox.testing import query_params, sandbox_client
from tests.helpers import free_port
from tests.e2e.conftest import CHROMIUM_FLAGS, PHONE, WAIT
from tests.e2e.conftest import chromium  # noqa: F401  (fixture: Debian's Chromium, or skip / fail in CI)

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
RETURN_URL = "http://127.0.0.1:9/pay/success.html"   # nothing listens: the browser just lands there
QUIT_URL = "http://127.0.0.1:9/pay/quit.html"


@pytest.fixture(scope="module")
def gateway():
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "alipay_sandbox", "--port", str(port)], cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = "http://127.0.0.1:%d" % port
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(base + "/", timeout=1).close()
                break
            except OSError:
                if process.poll() is not None:
                    pytest.fail("the sandbox exited with %s" % process.returncode)
                time.sleep(0.05)
        yield base + "/gateway.do"
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture
def phone(chromium):  # noqa: F811
    """Headless Chromium emulating a 390 px wide phone (device metrics, touch, mobile viewport)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    binary, driver_path = chromium
    profile = tempfile.mkdtemp(prefix="dadashop-wap-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in CHROMIUM_FLAGS + ["--user-data-dir=" + profile, "--window-size=%d,%d" % PHONE]:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    driver.set_page_load_timeout(30)
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": PHONE[0], "height": PHONE[1], "deviceScaleFactor": 3, "mobile": True})
    driver.execute_cdp_cmd("Emulation.setTouchEmulationEnabled", {"enabled": True})
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def wap_url(gateway, out_trade_no, subject):
    return sandbox_client(gateway=gateway).wap_pay_url(
        out_trade_no=out_trade_no, total_amount=Decimal("66.60"), subject=subject,
        time_expire=datetime.now(timezone.utc) + timedelta(minutes=30), notify_url=None,
        return_url=RETURN_URL, quit_url=QUIT_URL)


def layout(driver):
    return driver.execute_script("""
        const box = id => { const r = document.getElementById(id).getBoundingClientRect();
                            return {width: r.width, height: r.height, right: r.right}; };
        return {viewport: window.innerWidth, scroll: document.documentElement.scrollWidth,
                body: document.body.scrollWidth, pay: box('pay'), cancel: box('cancel'),
                quit: (link => link ? link.getBoundingClientRect().height : 0)(document.getElementById('quit'))};""")


def test_the_phone_cashier_fits_390px_and_pays_like_the_pc_one(gateway, phone):
    from selenium.webdriver.support.ui import WebDriverWait   # imported once the browser is known to exist
    # A long unbroken subject is the classic cause of sideways scrolling.
    subject = "达达商城订单-" + "超长商品名称" * 12 + "-ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789" * 2
    phone.get(wap_url(gateway, "WAP_B1", subject))
    seen = layout(phone)
    assert seen["viewport"] == PHONE[0]
    assert seen["scroll"] <= seen["viewport"] and seen["body"] <= seen["viewport"], seen   # no sideways scroll
    for button in ("pay", "cancel"):
        assert seen[button]["height"] >= 44 and seen[button]["width"] >= 300, seen   # large touch targets
        assert seen[button]["right"] <= seen["viewport"], seen
    assert seen["quit"] >= 40, seen
    assert phone.find_element("id", "subject").text == subject

    wait = WebDriverWait(phone, WAIT)
    phone.find_element("id", "cancel").click()
    status = wait.until(lambda driver: driver.find_elements("id", "status"))[0]
    assert "付款已取消" in status.text
    assert phone.execute_script("return document.documentElement.scrollWidth") <= PHONE[0]
    phone.find_element("id", "back").click()
    wait.until(lambda driver: driver.find_elements("id", "pay"))[0].click()
    wait.until(lambda driver: driver.current_url.startswith(RETURN_URL + "?"))
    landed = phone.current_url
    back = query_params(landed)
    assert back["method"] == "alipay.trade.wap.pay.return" and back["out_trade_no"] == "WAP_B1"
    assert back["total_amount"] == "66.60" and sandbox_client(gateway=gateway).verify_callback(back)


def test_the_pc_cashier_keeps_its_layout(gateway, phone):
    url = sandbox_client(gateway=gateway).page_pay_url(
        out_trade_no="WAP_B2", total_amount=Decimal("1.00"), subject="PC",
        time_expire=datetime.now(timezone.utc) + timedelta(minutes=30), notify_url=None, return_url=RETURN_URL)
    phone.get(url)
    assert phone.find_elements("id", "quit") == [] and phone.find_element("id", "pay").is_displayed()
    assert not phone.find_elements("css selector", "meta[name=viewport]")
