"""
The tests that must not run under trial, run from trial: the asyncio facade's pytest
suite (mockex/test/pytest_suite/) and the examples (examples/).

Why a subprocess: trial runs Twisted's global reactor in the main thread, and
pytest-asyncio runs an asyncio loop per test; the facade is meant for the latter world
(it never touches the global reactor, but its tests exercise pytest fixtures, event
loops and the plugin, which only pytest provides). So ``python -m twisted.trial mockex``
starts ``python -m pytest`` on them in a fresh interpreter, bounded by a timeout, and
fails with pytest's output if pytest fails. Plugin autoloading is off in that
interpreter and the plugins are named (``-p``): the run does not depend on what else
is installed, nor on whether the installed mockex declares its entry point (this
checkout is put first on ``PYTHONPATH``). The entry point itself is checked here in
setup.cfg, and in the built wheel by test_packaging.py.
"""

from __future__ import annotations

import configparser
import os
import subprocess
import sys
from pathlib import Path

from twisted.trial.unittest import SkipTest, SynchronousTestCase

import mockex

PACKAGE = Path(mockex.__file__).resolve().parent
ROOT = PACKAGE.parent
SUITE = PACKAGE / "test" / "pytest_suite"
EXAMPLES = ROOT / "examples"

#: seconds a pytest or trial run may take (they normally take 10 to 30)
BUDGET_SECONDS = 300

PLUGINS = [
    "-p", "pytest_asyncio.plugin", "-p", "mockex.pytest_plugin", "-p", "no:cacheprovider",
    "-o", "asyncio_default_fixture_loop_scope=function",
]


def _require_pytest() -> None:
    for module in ("pytest", "pytest_asyncio"):
        try:
            __import__(module)
        except ImportError:
            raise SkipTest(
                f"{module} is not installed (pip install -e '.[test]'): "
                "the asyncio facade's tests and the examples run under pytest"
            ) from None


def _environment() -> dict[str, str]:
    env = dict(os.environ)
    path = env.get("PYTHONPATH")
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + path if path else "")
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    env.pop("PYTEST_ADDOPTS", None)
    return env


class _Runs(SynchronousTestCase):
    def run_child(self, args: list[str], cwd: Path, what: str) -> str:
        try:
            result = subprocess.run(
                [sys.executable, *args], cwd=cwd, env=_environment(), stdin=subprocess.DEVNULL,
                capture_output=True, text=True, timeout=BUDGET_SECONDS,
            )
        except subprocess.TimeoutExpired as e:
            self.fail(f"{what}: still running after {BUDGET_SECONDS}s\n{e.stdout}\n{e.stderr}")
        output = result.stdout + result.stderr
        if result.returncode != 0:
            self.fail(f"{what}: exit code {result.returncode}\n{output[-20000:]}")
        return output

    def pytest(self, target: Path, *extra: str) -> str:
        _require_pytest()
        scratch = Path(self.mktemp()).resolve()
        scratch.mkdir()
        output = self.run_child(
            ["-m", "pytest", *PLUGINS, "-q", "-rs", f"--basetemp={scratch / 'tmp'}", *extra, str(target)],
            cwd=scratch, what=f"pytest {target}",
        )
        self.assertIn(" passed", output)
        return output


class PytestSuiteTests(_Runs):
    def test_facade_suite(self) -> None:
        """mockex/test/pytest_suite under pytest and pytest-asyncio."""
        if not SUITE.is_dir():
            raise SkipTest(f"{SUITE} is not installed")
        self.pytest(SUITE, "--import-mode=importlib", "-p", "pytester")

    def test_entry_point_declared(self) -> None:
        """setup.cfg declares the plugin under pytest11 (what ``pip install`` registers)."""
        setup_cfg = ROOT / "setup.cfg"
        if not setup_cfg.is_file():
            raise SkipTest("not a source checkout")
        parser = configparser.ConfigParser()
        parser.read(setup_cfg)
        lines = [line.strip() for line in parser["options.entry_points"]["pytest11"].splitlines() if line.strip()]
        self.assertEqual(lines, ["mockex = mockex.pytest_plugin"])


class ExampleTests(_Runs):
    def setUp(self) -> None:
        if not EXAMPLES.is_dir():
            raise SkipTest(f"no examples/ next to {PACKAGE} (not a source checkout)")

    def test_ccxt_candle_fetcher(self) -> None:
        """examples/ccxt_candle_fetcher: pytest-asyncio, ccxt, faults."""
        try:
            import ccxt  # noqa: F401
        except ImportError:
            raise SkipTest("ccxt is not installed") from None
        self.pytest(EXAMPLES / "ccxt_candle_fetcher")

    def test_twisted_client(self) -> None:
        """examples/twisted_client: trial, in memory."""
        directory = EXAMPLES / "twisted_client"
        scratch = Path(self.mktemp()).resolve()
        scratch.mkdir()
        env_path = f"{directory}"
        output = self.run_child(
            ["-c", "import sys; sys.path.insert(0, %r); from twisted.scripts.trial import run; "
                   "sys.argv[0] = 'trial'; run()" % env_path, "test_client"],
            cwd=scratch, what="trial examples/twisted_client",
        )
        self.assertIn("PASSED", output)
