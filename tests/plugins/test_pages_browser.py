"""The pages in headless Chromium, served by the real ``airflow api-server`` with the plugin, logged in
through Airflow's own login form; a screenshot of each page is kept (printed at the end of the run).

Debian's chromium and chromedriver (/usr/bin; `make test` installs them) drive the browser: the selenium
Service is given the driver's path and the options the browser's, so nothing is looked up or downloaded.
The world is a private copy of the seeded one: the tests resolve, retry and drop files through the forms.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from gateway.settings import Settings
from tests.plugins import world
from tests.plugins.api_server import api_server
from tests.plugins.conftest import SCREENSHOTS, USERS, gateway_env

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
PASSWORDS = {user: f"{user}-pages-test" for user in USERS}
WAIT = 30


@pytest.fixture(scope="module")
def server(seeded: Settings, airflow_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from tests.plugins.world import copy_world

    root = tmp_path_factory.mktemp("pages-browser")
    shown = copy_world(seeded, root / "var")
    with api_server(root / "airflow", USERS, PASSWORDS, gateway_env(shown)) as url:
        yield url


@pytest.fixture(scope="module")
def driver() -> Iterator[WebDriver]:

    assert CHROMIUM.exists() and CHROMEDRIVER.exists(), (
        "install chromium and chromium-driver (make test does)"
    )
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1440,1000"):
        options.add_argument(argument)
    options.add_argument("--lang=zh-CN")
    browser = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    browser.set_page_load_timeout(WAIT)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    yield browser
    browser.quit()


def shot(browser: WebDriver, name: str) -> Path:
    path = SCREENSHOTS / f"{name}.png"
    assert browser.save_screenshot(str(path)), path
    return path


def follow(browser: WebDriver, how: str, what: str) -> None:
    """Click a link or a form's button and wait until the next page has replaced this one: a click returns
    before the navigation it starts has finished."""
    page = browser.find_element(By.TAG_NAME, "html")

    def replaced(_: WebDriver) -> bool:
        try:
            page.is_enabled()
        except (
            WebDriverException
        ):  # stale, or (chromedriver, mid-navigation) "does not belong to the document"
            return True
        return False

    browser.find_element(how, what).click()
    WebDriverWait(browser, WAIT).until(replaced)
    WebDriverWait(browser, WAIT).until(lambda b: b.execute_script("return document.readyState") == "complete")


def heading(browser: WebDriver) -> str:

    return str(browser.find_element(By.TAG_NAME, "h1").text)


def no_alert(browser: WebDriver) -> None:
    """No script ran: a page that executed an injected alert() would have a dialog open."""

    with pytest.raises(NoAlertPresentException):
        browser.switch_to.alert  # noqa: B018


def log_in(browser: WebDriver, url: str, user: str, start: str = "/gateway/departments") -> None:
    """Through Airflow's login form, as a person would: the page we asked for sends us there and back."""

    browser.delete_all_cookies()
    browser.get(url + start)
    wait = WebDriverWait(browser, WAIT)
    wait.until(ec.presence_of_element_located((By.NAME, "username"))).send_keys(user)
    browser.find_element(By.NAME, "password").send_keys(PASSWORDS[user])
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait.until(ec.url_to_be(url + start))


def test_an_anonymous_browser_gets_airflows_login_page(server: str, driver: WebDriver) -> None:

    refused = requests.get(f"{server}/gateway/queue", allow_redirects=False, timeout=10)
    assert refused.status_code == 303
    assert refused.headers["location"] == "/auth/login?next=%2Fgateway%2Fqueue"
    assert requests.post(f"{server}/gateway/queue/1/resolve", timeout=10).status_code == 401
    driver.get(f"{server}/gateway/queue")
    WebDriverWait(driver, WAIT).until(ec.presence_of_element_located((By.NAME, "password")))
    assert "/auth/login" in driver.current_url
    shot(driver, "00-airflow-login")


def test_every_page_after_a_real_login(server: str, driver: WebDriver) -> None:

    log_in(driver, server, "clerk")
    assert heading(driver) == "部门报送"
    # The Chinese is drawn with a CJK font, not as empty boxes: the font the stack names is there and
    # has glyphs for the page's own words.
    assert driver.execute_script("return document.fonts.check('16px \"Noto Sans CJK SC\"', '部门报送');")
    assert "xz_amr" in driver.page_source
    shot(driver, "01-departments")

    follow(driver, By.LINK_TEXT, "xz_amr")
    assert heading(driver) == "部门报送：xz_amr"
    shot(driver, "02-department-xz_amr")

    follow(driver, By.LINK_TEXT, world.HOSTILE_NAME)
    assert heading(driver) == f"回执：{world.HOSTILE_NAME}"
    assert world.SCRIPT in driver.find_element(By.TAG_NAME, "main").text  # shown as text …
    assert driver.find_elements(By.CSS_SELECTOR, "main script, main img") == []  # … never as markup
    no_alert(driver)
    shot(driver, "03-receipt-escaped")

    follow(driver, By.PARTIAL_LINK_TEXT, "的全部文件")
    follow(driver, By.LINK_TEXT, world.MANY_ERRORS_NAME)
    assert "第 1 / 3 页，共 120 条" in driver.page_source
    follow(driver, By.CSS_SELECTOR, "a[rel=next]")
    assert "第 2 / 3 页，共 120 条" in driver.page_source
    shot(driver, "04-receipt-rejected-rows-page-2")

    follow(driver, By.LINK_TEXT, "待关联记录")
    assert heading(driver) == "待关联记录"
    assert world.CANDIDATE_NAME in driver.page_source
    shot(driver, "05-resolution-queue")

    follow(driver, By.LINK_TEXT, "报送批次")
    assert heading(driver) == "报送批次"
    shot(driver, "06-deliveries")
    follow(driver, By.PARTIAL_LINK_TEXT, "死信")
    shot(driver, "07-dead-letters")
    follow(driver, By.CSS_SELECTOR, "td.mono a")
    assert "死信" in driver.find_element(By.CSS_SELECTOR, "dl.facts").text
    shot(driver, "08-dead-batch")

    follow(driver, By.LINK_TEXT, "← 全部批次")
    follow(driver, By.PARTIAL_LINK_TEXT, "已确认")
    follow(driver, By.CSS_SELECTOR, "td.mono a")
    assert "网关在收到时已用平台登记的回执公钥验证通过" in driver.page_source
    shot(driver, "09-acknowledged-batch-hub-receipt")

    follow(driver, By.LINK_TEXT, "市场主体")
    driver.find_element(By.NAME, "q").send_keys("91140902-MA0K2B3C30")
    follow(driver, By.XPATH, "//button[text()='查找']")
    shot(driver, "10-entity-search")
    follow(driver, By.LINK_TEXT, "忻州市晋北商贸有限公司")
    assert "关联的记录（按类型与来源）" in driver.page_source
    shot(driver, "11-entity-profile")


def test_the_pages_in_airflows_menu_and_frame(server: str, driver: WebDriver) -> None:

    log_in(driver, server, "clerk")
    plugins = requests.get(
        f"{server}/api/v2/plugins", cookies={"_token": driver.get_cookie("_token")["value"]}, timeout=10
    ).json()
    ours = next(p for p in plugins["plugins"] if p["name"] == "gateway_pages")
    assert [v["href"] for v in ours["external_views"]] == [
        "/gateway/departments",
        "/gateway/queue",
        "/gateway/deliveries",
        "/gateway/entities",
        "/gateway/warnings",
        "/gateway/draws",
    ]
    assert ours["fastapi_apps"][0]["url_prefix"] == "/gateway"
    driver.get(f"{server}/plugin/gateway-deliveries")
    frame = WebDriverWait(driver, WAIT).until(ec.presence_of_element_located((By.TAG_NAME, "iframe")))
    driver.switch_to.frame(frame)
    WebDriverWait(driver, WAIT).until(ec.text_to_be_present_in_element((By.TAG_NAME, "h1"), "报送批次"))
    driver.switch_to.default_content()
    shot(driver, "12-in-airflow-frame")


def test_acting_from_the_pages(server: str, driver: WebDriver, tmp_path: Path) -> None:

    log_in(driver, server, "clerk", "/gateway/queue")
    driver.find_element(By.CSS_SELECTOR, f"input[name=candidate][value='{world.CANDIDATE_USCC}']").click()
    follow(driver, By.XPATH, "//button[text()='关联']")
    assert "已关联到所选主体" in driver.page_source and "没有待关联的记录" in driver.page_source
    shot(driver, "13-resolved")

    driver.get(f"{server}/gateway/deliveries?status=dead")
    follow(driver, By.CSS_SELECTOR, "td.mono a")
    follow(driver, By.XPATH, "//button[text()='重试']")
    assert "死信批次已重新打开" in driver.page_source
    shot(driver, "14-retried")

    export = tmp_path / "十二月处罚台账.csv"
    export.write_bytes(world.many_errors_file().replace(b"2026-13-45", b"2026-12-01"))
    driver.get(f"{server}/gateway/departments/xz_amr")
    driver.find_element(By.NAME, "file").send_keys(str(export))
    follow(driver, By.XPATH, "//button[text()='仅检查（不入库）']")
    assert "这是检查结果，文件未入库" in driver.page_source and "全部接收" in driver.page_source
    shot(driver, "15-checked")

    driver.get(f"{server}/gateway/departments/xz_amr")
    driver.find_element(By.NAME, "file").send_keys(str(export))
    follow(driver, By.XPATH, "//button[text()='报送']")
    assert "文件已处理并归档" in driver.page_source
    follow(driver, By.LINK_TEXT, "查看回执与拒收的行")
    assert heading(driver) == "回执：十二月处罚台账.csv"
    shot(driver, "16-submitted-receipt")


def test_a_reader_may_look_but_not_act(server: str, driver: WebDriver, tmp_path: Path) -> None:

    log_in(driver, server, "viewer", "/gateway/departments/xz_amr")
    export = tmp_path / "只读用户的台账.csv"
    export.write_bytes(world.hostile_file())
    driver.find_element(By.NAME, "file").send_keys(str(export))
    follow(driver, By.XPATH, "//button[text()='报送']")
    assert heading(driver) == "无权访问"
    shot(driver, "17-reader-refused")
