"""The browser test: JupyterLab in headless Chromium, every notebook run with Kernel › Restart Kernel
and Run All, as a learner with no board and no AWS account does it. JupyterLab ignores nbval's skip
tags and stops Run All at the first error, so this is what proves the notebooks work for a learner.
In 04 the virtual button is clicked in the board panel and the LED panel seen lit.

Artefacts in test-artefakter/: JupyterLab's log and one screenshot per notebook."""

from __future__ import annotations

import json
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

NOTEBOOKS = sorted(p.name for p in NOTEBOOK_DIR.glob("[0-9][0-9]-*.ipynb"))
ARTEFACTS = REPO_DIR / "test-artefakter"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


PANEL = ".jp-NotebookPanel:visible"  # the notebook on screen, not one in a hidden tab


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Lab:
    """One JupyterLab server over a copy of the notebooks (autosave never touches the committed ones)."""

    def __init__(self, root: Path, port: int, token: str) -> None:
        self.root, self.port, self.token = root, port, token

    def url(self, notebook: str) -> str:
        # A workspace of its own per notebook: JupyterLab would otherwise reopen the earlier tabs.
        name = notebook.split("-")[0]
        return f"http://127.0.0.1:{self.port}/lab/workspaces/nb{name}/tree/{notebook}?reset&token={self.token}"

    def _api(self, method: str, path: str) -> bytes:
        from urllib.request import Request, urlopen

        request = Request(f"http://127.0.0.1:{self.port}/api/{path}", method=method,
                          headers={"Authorization": f"token {self.token}"})
        with urlopen(request, timeout=30) as answer:
            return answer.read()

    def shut_down_kernels(self) -> None:
        for kernel in json.loads(self._api("GET", "kernels")):
            self._api("DELETE", f"kernels/{kernel['id']}")


@pytest.fixture(scope="module")
def jupyterlab(tmp_path_factory):
    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium er ikke installert (scripts/setup-browser.sh installerer det)")
    pytest.importorskip("playwright.sync_api")
    tmp_path = tmp_path_factory.mktemp("lab")
    notebooks = tmp_path / "notebooks"
    shutil.copytree(NOTEBOOK_DIR, notebooks)
    for copy in notebooks.glob("*.ipynb"):
        _clear_outputs(copy)  # so only what this run saves can pass, never the committed outputs
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
    yield Lab(notebooks, port, token)
    lab.terminate()
    lab.wait(20)
    lab_log.close()
    subprocess.run([str(Path(sys.executable).with_name("kurs")), "sky", "stop"], env=env,
                   capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def browser(jupyterlab):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def _restart_and_run_all(page, lab: Lab, notebook: str) -> None:
    page.goto(lab.url(notebook))
    page.wait_for_selector(".jp-Notebook", timeout=90_000)
    # The indicator says idle before the kernel has answered, and restarting a kernel that
    # is still booting can leave JupyterLab stuck in "Starting": wait for the status bar.
    page.locator(".jp-StatusBar-TextItem", has_text="| Idle").first.wait_for(timeout=90_000)
    page.locator(f"{PANEL} [data-command='notebook:restart-run-all']").first.click()
    page.click(".jp-Dialog .jp-mod-accept")


def _wait_until_run_all_is_over(page, timeout: float) -> None:
    """Until no cell is queued or running ("[*]"), for two seconds in a row."""
    prompts = page.locator(f"{PANEL} .jp-Cell .jp-InputPrompt", has_text="*")
    prompts.first.wait_for(state="attached", timeout=60_000)  # cells off screen are hidden, not gone
    deadline = time.monotonic() + timeout
    quiet_since = None
    while time.monotonic() < deadline:
        if prompts.count() == 0:
            quiet_since = quiet_since or time.monotonic()
            if time.monotonic() - quiet_since > 2:
                return
        else:
            quiet_since = None
        time.sleep(0.5)
    raise AssertionError(f"Run All var ikke ferdig etter {timeout:.0f} s")


def _clear_outputs(path: Path) -> None:
    nb = json.loads(path.read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            cell["outputs"], cell["execution_count"] = [], None
    path.write_text(json.dumps(nb, ensure_ascii=False), encoding="utf-8")


def _saved_cells(page, lab: Lab, notebook: str) -> list[dict]:
    """The notebook as JupyterLab saves it after the run: every cell's execution count and outputs."""
    path = lab.root / notebook
    before = path.stat().st_mtime_ns
    page.locator(f"{PANEL} [data-command='docmanager:save']").first.click()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if path.stat().st_mtime_ns != before:
            try:  # the server may still be writing it
                return json.loads(path.read_text(encoding="utf-8"))["cells"]
            except ValueError:
                pass
        time.sleep(0.2)
    raise AssertionError(f"JupyterLab lagret ikke {notebook} innen 30 s")


def _problems(cells: list[dict]) -> list[str]:
    found = []
    for n, cell in enumerate(cells, 1):
        if cell["cell_type"] != "code":
            continue
        first = (cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])).splitlines()[:1]
        where = f"celle {n} ({first[0] if first else ''!s})"
        if cell.get("execution_count") is None:
            found.append(f"{where} kjørte ikke")
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                found.append(f"{where}: {out.get('ename')}: {out.get('evalue')}")
    return found


@pytest.mark.timeout(900)  # JupyterLab, a kernel and a whole notebook, on 2 shared cores
@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_restart_and_run_all_in_jupyterlab(jupyterlab, browser, notebook):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    shot = ARTEFACTS / f"nettleser-{notebook.removesuffix('.ipynb')}.png"
    try:
        _restart_and_run_all(page, jupyterlab, notebook)
        _wait_until_run_all_is_over(page, timeout=600)
        if notebook.startswith("04-"):
            _click_button_and_see_the_led(page)
        assert page.locator("text=Error displaying widget").count() == 0, "en widget ble ikke vist"
        problems = _problems(_saved_cells(page, jupyterlab, notebook))
        assert problems == [], f"{notebook}: " + "; ".join(problems)
    finally:
        page.screenshot(path=str(shot))
        page.close()
        jupyterlab.shut_down_kernels()  # two shared cores: nothing left running for the next notebook


def _click_button_and_see_the_led(page) -> None:
    # The last section shows the button board and the LED board side by side.
    lys = page.locator(".kurs-kort-lys").last
    knapp = page.locator(".kurs-kort-knapp").last
    lys.locator("text=tilkoblet skyen").wait_for(timeout=60_000)
    knapp.locator("text=tilkoblet skyen").wait_for(timeout=60_000)
    lit_before = lys.locator(".kurs-led-on").count()
    knapp.locator(".kurs-knapp").click()
    expected = ".kurs-led-off" if lit_before else ".kurs-led-on"
    lys.locator(expected).wait_for(timeout=20_000)
    lys.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTEFACTS / "nettleser-led.png"))
    assert lys.locator(expected).count() == 1
