"""
The code in docs/testing.md, README.md and docs/quickstart.md runs as written (skipped
outside a source checkout).
"""

from __future__ import annotations

import asyncio
import re
import textwrap
import unittest
from pathlib import Path
from typing import Any

import pytest

import mockex
from mockex.server import MockServer

ROOT = Path(mockex.__file__).resolve().parent.parent
pytest_plugins = ["pytester"]


def blocks(name: str) -> list[str]:
    path = ROOT / name
    if not path.is_file():
        pytest.skip(f"{path} is not here (not a source checkout)")
    return re.findall(r"```python\n(.*?)```", path.read_text(), re.S)


def block_with(name: str, text: str) -> str:
    found = [b for b in blocks(name) if text in b]
    assert len(found) == 1, f"{name}: {len(found)} blocks contain {text!r}"
    return found[0]


def run_async_block(code: str) -> dict[str, Any]:
    """Run a block with top-level ``await`` inside a coroutine; its names are returned."""
    if not hasattr(MockServer, "set_rate_limits"):
        code = "\n".join(line for line in code.splitlines() if "set_rate_limits" not in line)
    code += "\nreturn locals()"
    namespace: dict[str, Any] = {}
    exec("async def _block():\n" + textwrap.indent(code, "    "), namespace)
    return asyncio.run(namespace["_block"]())


@pytest.mark.parametrize("name", ["docs/testing.md", "README.md", "docs/quickstart.md"])
def test_every_block_parses(name: str) -> None:
    for code in blocks(name):
        compile("async def _block():\n" + textwrap.indent(code, "    "), name, "exec")


def test_testing_seed_api_block() -> None:
    names = run_async_block(block_with("docs/testing.md", "await server.start(trading_pairs="))
    assert not names["server"].running


def test_readme_and_quickstart_async_blocks() -> None:
    for name in ("README.md", "docs/quickstart.md"):
        run_async_block(block_with(name, "await server.start(trading_pairs="))


def test_testing_sync_block(capsys: pytest.CaptureFixture[str]) -> None:
    exec(block_with("docs/testing.md", "with MockedCandleFeedServer(ExchangeType.OKX_SPOT"), {})
    assert capsys.readouterr().out.startswith("http://127.0.0.1:")


def test_testing_trial_block() -> None:
    namespace: dict[str, Any] = {}
    exec(block_with("docs/testing.md", "class Tests(SynchronousTestCase)"), namespace)
    result = unittest.TestResult()
    unittest.defaultTestLoader.loadTestsFromTestCase(namespace["Tests"]).run(result)
    assert result.wasSuccessful(), result.errors + result.failures


def run_inner(pytester: pytest.Pytester, source: str, *args: str) -> pytest.RunResult:
    """As in test_pytest_plugin.py (test modules cannot import each other here)."""
    import os

    path = os.environ.get("PYTHONPATH")
    pytester._monkeypatch.setenv("PYTHONPATH", str(ROOT) + (os.pathsep + path if path else ""))
    pytester._monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    pytester.makepyfile(source)
    return pytester.runpytest_subprocess(
        "-p", "pytest_asyncio.plugin", "-p", "mockex.pytest_plugin", "-p", "no:cacheprovider",
        "-o", "asyncio_default_fixture_loop_scope=function", *args, timeout=120,
    )


def test_plugin_blocks(pytester: pytest.Pytester) -> None:
    """The README's fixture example and testing.md's marker and conftest examples."""
    pytester.makeconftest(block_with("docs/testing.md", "def mockex_session_options"))
    readme = block_with("README.md", "def test_candles(mockex_server, ccxt_exchange)")
    marker = block_with("docs/testing.md", "async def test_watch(ccxt_exchange)")
    session = "\n\ndef test_session(mockex_session_server):\n    assert mockex_session_server.venue == 'kraken_spot'\n"
    result = run_inner(pytester, readme + "\n\n" + marker + session, "-o", "asyncio_mode=auto")
    result.assert_outcomes(passed=3)
