"""The browser test: JupyterLab in headless Chromium, the messaging notebook run for real, the
virtual button clicked in the board panel, and the LED panel seen lit. Screenshot kept."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kurs.paths import NOTEBOOK_DIR, REPO_DIR

pytestmark = [pytest.mark.browser, pytest.mark.integration]

NOTEBOOK = "04-meldinger.ipynb"
ARTEFACTS = REPO_DIR / "test-artefakter"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def jupyterlab(tmp_path):
    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium er ikke installert (scripts/setup-browser.sh installerer det)")
    pytest.importorskip("playwright.sync_api")
    if not (NOTEBOOK_DIR / NOTEBOOK).exists():
        pytest.skip(f"{NOTEBOOK} finnes ikke ennå")
    # JupyterLab autosaves what it runs: give it a copy, so the committed notebooks stay as they are.
    notebooks = tmp_path / "notebooks"
    shutil.copytree(NOTEBOOK_DIR, notebooks)
    port, token = _free_port(), "kurs-nettlesertest"
    # The learner's environment: nothing from the test session's own local cloud.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "KURS_"))}
    env["KURS_HOME"] = str(tmp_path / "kurs-home")
    jupyter = Path(sys.executable).with_name("jupyter")
    ARTEFACTS.mkdir(exist_ok=True)
    lab_log = open(ARTEFACTS / "jupyterlab.log", "wb")  # read it when the test fails in CI
    lab = subprocess.Popen(
        [str(jupyter), "lab", "--no-browser", f"--port={port}", "--ip=127.0.0.1", "--allow-root",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={notebooks}"],
        env=env, stdout=lab_log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            break
        except OSError:
            time.sleep(0.2)
    yield f"http://127.0.0.1:{port}/lab/tree/{NOTEBOOK}?token={token}"
    lab.terminate()
    lab.wait(20)
    lab_log.close()
    subprocess.run([str(Path(sys.executable).with_name("kurs")), "sky", "stop"], env=env,
                   capture_output=True, timeout=60)


@pytest.mark.timeout(480)  # JupyterLab, a kernel and the whole messaging notebook, on 2 cores
def test_button_in_the_browser_lights_the_led(jupyterlab):
    from playwright.sync_api import sync_playwright

    ARTEFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            page.goto(jupyterlab)
            page.wait_for_selector(".jp-Notebook", timeout=90_000)
            # The indicator says idle before the kernel has answered, and restarting a kernel that
            # is still booting can leave JupyterLab stuck in "Starting": wait for the status bar.
            page.locator(".jp-StatusBar-TextItem", has_text="| Idle").first.wait_for(timeout=90_000)
            page.click("[data-command='notebook:restart-run-all']")
            page.click(".jp-Dialog .jp-mod-accept")
            # The last section shows the button board and the LED board side by side.
            lys = page.locator(".kurs-kort-lys").last
            knapp = page.locator(".kurs-kort-knapp").last
            lys.wait_for(timeout=180_000)
            knapp.wait_for(timeout=180_000)
            lys.locator("text=tilkoblet skyen").wait_for(timeout=60_000)
            knapp.locator("text=tilkoblet skyen").wait_for(timeout=60_000)
            page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=180_000)
            lit_before = lys.locator(".kurs-led-on").count()
            knapp.locator(".kurs-knapp").click()
            expected = ".kurs-led-off" if lit_before else ".kurs-led-on"
            lys.locator(expected).wait_for(timeout=20_000)
            lys.scroll_into_view_if_needed()
            page.screenshot(path=str(ARTEFACTS / "nettleser-led.png"))
            assert lys.locator(expected).count() == 1
        except Exception:
            page.screenshot(path=str(ARTEFACTS / "nettleser-feil.png"))
            raise
        finally:
            browser.close()
