"""The web pages a person uses, in a real headless Chromium (Debian's chromium + chromium-driver, driven by
Selenium): `miniastrolm serve`'s page and the Gradio Space that `miniastrolm space` writes, both on the tiny
trained student. The Space folder's layout is checked without a browser."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
import yaml

from miniastrolm.http import free_port
from miniastrolm.space import write_space

from conftest import COMMIT_URL, serving
from student_data import PAIRS

ABSTRACT, TAUGHT = PAIRS[0]
CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.skip("needs Debian's chromium and chromium-driver (.ci/run installs them)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 f"--user-data-dir={tmp_path_factory.mktemp('chromium')}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    yield driver
    driver.quit()


def wait_for_text(driver, css: str, expected: str, seconds: float = 120) -> str:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, seconds).until(lambda d: expected in d.find_element(By.CSS_SELECTOR, css).text)
    return driver.find_element(By.CSS_SELECTOR, css).text


@pytest.mark.slow
def test_serve_page_streams_an_explanation_and_lists_the_checks(browser, tiny_student):
    from selenium.webdriver.common.by import By

    from miniastrolm.explain import ExplainPipeline

    with serving(ExplainPipeline(str(tiny_student[0]))) as url:
        browser.get(url + "/")
        browser.find_element(By.ID, "abstract").send_keys(ABSTRACT)
        browser.find_element(By.ID, "submit").click()
        checks = wait_for_text(browser, "#checks", "similarity")
        assert browser.find_element(By.ID, "explanation").text.strip() == TAUGHT
        assert all(name in checks for name in ("format", "faithfulness", "readability"))
        assert "FAIL format: too_short" in checks  # a failed check is shown, not hidden

        browser.find_element(By.ID, "arxiv_id").send_keys("not-an-id")
        browser.find_element(By.ID, "submit").click()
        assert "is not an arXiv id" in wait_for_text(browser, "#error", "arXiv id")


def test_space_folder_has_the_space_layout(tiny_student, tmp_path):
    space = write_space(str(tiny_student[0]), tmp_path / "space")
    card = (space / "README.md").read_text()
    metadata = yaml.safe_load(card.split("---")[1])
    assert metadata["sdk"] == "gradio" and metadata["app_file"] == "app.py" and metadata["sdk_version"]
    requirements = (space / "requirements.txt").read_text().splitlines()
    assert "torch==2.13.0" in requirements and any(r.startswith("gradio==") for r in requirements)
    assert (space / "student" / "config.json").exists() and not list(space.glob("student/checkpoint-*"))
    assert (space / "miniastrolm" / "explain.py").exists() and not list(space.rglob("__pycache__"))
    located = subprocess.run([sys.executable, "-c", "import miniastrolm; print(miniastrolm.__file__)"],
                             cwd=space, capture_output=True, text=True, check=True)
    assert Path(located.stdout.strip()).is_relative_to(space)  # the Space runs its own copy of the package


def test_space_push_creates_a_gradio_space_with_the_token_from_the_environment(tiny_student, tmp_path, monkeypatch,
                                                                             hub_calls):
    """No Hub is reachable here, so this checks the calls at the huggingface_hub boundary (HfApi)."""
    from typer.testing import CliRunner

    from miniastrolm.cli import app

    monkeypatch.setenv("HF_TOKEN", "hf_secret_value")
    done = CliRunner().invoke(app, ["space", "--model", str(tiny_student[0]), "--output", str(tmp_path / "space"),
                                    "--push-to-hub", "me/miniastrolm-demo"])
    assert done.exit_code == 0, done.output
    assert COMMIT_URL in done.output and "hf_secret_value" not in done.output
    assert hub_calls[0] == ("init", "hf_secret_value")
    assert hub_calls[1] == ("create_repo", "me/miniastrolm-demo", {"repo_type": "space", "private": False,
                                                                   "exist_ok": True, "space_sdk": "gradio"})
    assert hub_calls[2][1]["folder_path"] == tmp_path / "space" and hub_calls[2][1]["repo_type"] == "space"


@pytest.mark.slow
def test_space_app_runs_and_explains_in_a_browser(browser, tiny_student, tmp_path):
    from selenium.webdriver.common.by import By

    space = write_space(str(tiny_student[0]), tmp_path / "space")
    port = free_port()
    env = os.environ | {"GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_SERVER_PORT": str(port),
                        "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1"}
    app = subprocess.Popen([sys.executable, "app.py"], cwd=space, env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
    try:
        url = f"http://127.0.0.1:{port}/"
        for _ in range(600):
            try:
                if requests.get(url, timeout=1).ok:
                    break
            except requests.ConnectionError:
                assert app.poll() is None, app.stdout.read()
                time.sleep(0.2)
        browser.get(url)
        wait_for_text(browser, "body", "Explain")
        browser.find_element(By.CSS_SELECTOR, "#abstract textarea").send_keys(ABSTRACT)
        browser.find_element(By.ID, "explain").click()
        checks = wait_for_text(browser, "#checks", "similarity")
        assert " ".join(browser.find_element(By.ID, "explanation").text.split()) == TAUGHT
        assert "FAIL format: too_short" in checks and "faithfulness" in checks

        browser.find_element(By.CSS_SELECTOR, "#arxiv_id textarea, #arxiv_id input").send_keys("not-an-id")
        browser.find_element(By.ID, "explain").click()
        assert "is not an arXiv id" in wait_for_text(browser, "body", "is not an arXiv id")  # Gradio's error toast
        assert app.poll() is None  # the app is still up
    finally:
        app.terminate()
        app.wait(timeout=30)
