"""
A venue written outside mockex: a separate distribution that ships only
``mockex/plugins/<module>.py`` (no ``__init__.py`` in ``mockex/`` or ``mockex/plugins/``),
built as a wheel and installed into a fresh virtualenv next to a mockex wheel, is listed
by ``twistd mockex --list-exchanges`` and served by ``twistd mockex --exchange`` with no
change to mockex. The package is the one docs/plugins.md walks through.

The virtualenv gets its dependencies the way test_packaging.py does (``--no-deps`` and a
``.pth`` to the running interpreter's site-packages). Bounded by :data:`BUDGET_SECONDS`;
skipped only when pip cannot build a wheel.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from twisted.trial.unittest import SkipTest, TestCase

from mockex.test.test_packaging import (
    TWISTD,
    _cleanEnvironment,
    _ignoreForCopy,
    _parentSitePackages,
    _sourceRoot,
)

BUDGET_SECONDS = 60
DOCS = Path(__file__).resolve().parents[2] / "docs" / "plugins.md"


def _block(text: str, title: str) -> str:
    """The fenced block of docs/plugins.md whose first line is ``# <title>``."""
    m = re.search(r"```[a-z]*\n# " + re.escape(title) + r"\n(.*?)```", text, re.S)
    if m is None:
        raise AssertionError(f"docs/plugins.md has no block starting with '# {title}'")
    return m.group(1)


class ThirdPartyPluginTests(TestCase):
    timeout = BUDGET_SECONDS + 30

    def setUp(self) -> None:
        root = _sourceRoot()
        if root is None or not DOCS.exists():
            raise SkipTest("not run from a source checkout with docs/: nothing to build")
        self.root = root
        self.deadline = time.monotonic() + BUDGET_SECONDS
        self.work = Path(tempfile.mkdtemp(prefix="mockex-third-party-"))
        self.addCleanup(shutil.rmtree, self.work, ignore_errors=True)

    def run_(self, args: list[str], what: str, skip_on_failure: bool = False) -> str:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            self.fail(f"out of time ({BUDGET_SECONDS}s) before: {what}")
        try:
            result = subprocess.run(
                args, cwd=self.work, env=_cleanEnvironment(), stdin=subprocess.DEVNULL,
                capture_output=True, text=True, timeout=remaining,
            )
        except subprocess.TimeoutExpired:
            self.fail(f"{what}: still running after the {BUDGET_SECONDS}s budget")
        if result.returncode != 0:
            message = f"{what}: exit code {result.returncode}\n{result.stdout}\n{result.stderr}"
            if skip_on_failure:
                raise SkipTest(f"pip cannot build here: {message[-500:]}")
            self.fail(message)
        return result.stdout + result.stderr

    def write_package(self) -> Path:
        """The acme distribution exactly as docs/plugins.md lays it out."""
        docs = DOCS.read_text()
        package = self.work / "acme-mockex"
        plugins = package / "mockex" / "plugins"
        plugins.mkdir(parents=True)
        (package / "setup.cfg").write_text(_block(docs, "acme-mockex/setup.cfg"))
        (package / "pyproject.toml").write_text(_block(docs, "acme-mockex/pyproject.toml"))
        (plugins / "acme_venue.py").write_text(_block(docs, "acme-mockex/mockex/plugins/acme_venue.py"))
        return package

    def test_installed_dropin_is_listed_and_served(self) -> None:
        package = self.write_package()
        dist = self.work / "dist"
        source = self.work / "mockex-source"
        shutil.copytree(self.root, source, ignore=_ignoreForCopy(self.root))
        pip_wheel = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",
                     "--wheel-dir", str(dist)]
        self.run_(pip_wheel + [str(package)], "building the acme wheel", skip_on_failure=True)
        self.run_(pip_wheel + [str(source)], "building the mockex wheel", skip_on_failure=True)
        acme = list(dist.glob("acme_mockex-*.whl"))
        self.assertEqual(len(acme), 1, list(dist.iterdir()))
        import zipfile

        names = zipfile.ZipFile(acme[0]).namelist()
        self.assertIn("mockex/plugins/acme_venue.py", names)
        self.assertNotIn("mockex/__init__.py", names)
        self.assertNotIn("mockex/plugins/__init__.py", names)

        venv = self.work / "venv"
        self.run_([sys.executable, "-m", "venv", "--without-pip", str(venv)], "creating the venv")
        python = str(venv / "bin" / "python")
        purelib = self.run_([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                            "locating site-packages").strip()
        self.run_([sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index", "-q",
                   *map(str, dist.glob("*.whl"))], "installing both wheels")
        (Path(purelib) / "_mockex_test_dependencies.pth").write_text(
            "".join(f"{entry}\n" for entry in _parentSitePackages())
        )

        listing = self.run_([python, "-c", TWISTD, "mockex", "--list-exchanges"], "twistd mockex --list-exchanges")
        self.assertRegex(listing, r"(?m)^acme\s+ACME exchange")
        self.assertRegex(listing, r"(?m)^binance_spot\s")

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        server = subprocess.Popen(
            [python, "-c", TWISTD, "-n", "--pidfile=", "--logfile=-", "mockex", "--exchange", "acme",
             "--listen", f"tcp:{port}:interface=127.0.0.1"],
            cwd=self.work, env=_cleanEnvironment(), stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )

        def stop() -> None:
            if server.poll() is None:
                server.terminate()
                try:
                    server.wait(10)
                except subprocess.TimeoutExpired:
                    server.kill()
                    server.wait()
            if server.stdout is not None:
                server.stdout.close()

        self.addCleanup(stop)
        body = None
        while time.monotonic() < self.deadline and server.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/candles?pair=BTC-USD", timeout=2) as r:
                    body = json.loads(r.read())
                break
            except OSError:
                time.sleep(0.2)
        if body is None:
            stop()
            output = server.stdout.read() if server.stdout else ""
            self.fail(f"the acme server never answered:\n{output}")
        self.assertEqual(len(body), 100)
        self.assertEqual(len(body[0]), 3)
        where = self.run_([python, "-c", "import mockex.plugins.acme_venue as m, mockex; "
                                         "print(m.__file__); print(mockex.__file__)"], "locating modules")
        for path in where.split():
            self.assertTrue(os.path.realpath(path).startswith(os.path.realpath(venv)), path)
