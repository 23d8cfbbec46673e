"""The HTML report in a real headless Chromium: every section, every chart rendered, no errors.

Chromium loads the file (no network: --disable-background-networking, a fresh profile),
runs the page's self-check hook (ml/report_html/page.py: on load it writes the section ids
and each chart's rendered size into <pre id="fa-selfcheck">) and ``--dump-dom`` prints the
DOM after load; console messages go to stderr with --enable-logging. A screenshot is saved
to build/report.png. Without chromium the test is skipped locally (``make browser``
installs it) but fails in CI (CI=true), where .ci/run installs it.
"""

import base64
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit"))
import report_world  # noqa: E402

from ml.config import PROJECT_ROOT  # noqa: E402
from ml.report_html import write_report  # noqa: E402
from ml.report_html.page import SECTIONS  # noqa: E402

pytestmark = pytest.mark.slow

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--no-first-run", "--disable-component-update", "--disable-sync",
         "--enable-logging=stderr", "--v=0", "--window-size=1280,4000"]
SCREENSHOT = PROJECT_ROOT / "build" / "report.png"


def chromium() -> str:
    found = os.environ.get("FA_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    if os.environ.get("CI") == "true":
        pytest.fail("chromium is not installed in CI: .ci/run must install it (make browser)")
    pytest.skip("chromium is not installed: run 'make browser' (apt-get install chromium) to run this test")


def run_browser(page: Path, profile: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([chromium(), *FLAGS, f"--user-data-dir={profile}", *extra, page.as_uri()],
                          capture_output=True, text=True, timeout=120)


def self_check(dom: str) -> dict:
    found = re.search(r'<pre id="fa-selfcheck">(.*?)</pre>', dom, re.S)
    assert found and found.group(1).strip(), "the self-check hook did not run"
    return json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&")
                      .replace("&lt;", "<").replace("&gt;", ">"))


def console_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if ":CONSOLE" in line or "Uncaught" in line]


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    chromium()  # skip (or fail in CI) before building anything
    root = tmp_path_factory.mktemp("browser")
    settings, _ = report_world.build(root)
    page = root / "report.html"
    write_report(settings, out=page)
    return page


def test_report_renders_every_section_and_chart_without_errors(report, tmp_path):
    result = run_browser(report, tmp_path / "profile", "--dump-dom")
    assert result.returncode == 0, result.stderr[-2000:]
    check = self_check(result.stdout)
    assert [(s["id"], s["heading"]) for s in check["sections"]] == list(SECTIONS)
    n_images = report.read_text(encoding="utf-8").count("<figure><img ")
    assert len(check["charts"]) == n_images >= 10
    for chart in check["charts"]:
        assert chart["complete"] and chart["natural_width"] > 0, chart["id"]
        assert chart["width"] > 300 and chart["height"] > 50, chart
        assert chart["alt"]
    assert check["errors"] == []
    assert console_lines(result.stderr) == []

    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    SCREENSHOT.unlink(missing_ok=True)
    shot = run_browser(report, tmp_path / "profile2", f"--screenshot={SCREENSHOT}")
    assert shot.returncode == 0, shot.stderr[-2000:]
    header = SCREENSHOT.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    assert int.from_bytes(header[16:20], "big") == 1280 and int.from_bytes(header[20:24], "big") == 4000


def test_the_hook_sees_a_broken_chart_and_a_script_error(report, tmp_path):
    """The checks above can fail: a chart that does not decode and a throwing script."""
    text = report.read_text(encoding="utf-8")
    first = re.search(r'src="data:image/svg\+xml;base64,[^"]+"', text).group(0)
    broken = text.replace(first, 'src="data:image/svg+xml;base64,' + base64.b64encode(b"<svg").decode() + '"', 1)
    broken = broken.replace("</main>", "<script>notDefinedAnywhere();</script></main>", 1)
    page = tmp_path / "broken.html"
    page.write_text(broken, encoding="utf-8")
    result = run_browser(page, tmp_path / "profile", "--dump-dom")
    check = self_check(result.stdout)
    bad = [c for c in check["charts"] if c["natural_width"] == 0]
    assert [c["id"] for c in bad] == ["chart-model-t7"]
    assert any("notDefinedAnywhere" in e for e in check["errors"])
    assert any("notDefinedAnywhere" in line for line in console_lines(result.stderr))
