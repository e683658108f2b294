"""
End to end over loopback for ``ascend_ex_spot``: unmodified ccxt and ccxt.pro against a
started server, only base URLs changed.

ccxt dropped AscendEX in 4.5.64; 4.5.63 is the last release that has it. So that the
suite's own ccxt may stay current, the client runs in a subprocess whose ``sys.path``
starts with a directory holding ccxt 4.5.63::

    pip install --no-deps --target /some/dir ccxt==4.5.63
    MOCKEX_CCXT_ASCENDEX=/some/dir trial mockex.test.test_e2e_ascendex

Without ``MOCKEX_CCXT_ASCENDEX`` the installed ccxt is used if it has ``ascendex``;
otherwise ccxt 4.5.63 is fetched once from the package index into a cache directory
(``$TMPDIR/mockex-ccxt-4.5.63``), and the tests skip only if that fails. Each run is bounded by ``subprocess.run(timeout=60)``, ccxt's
own 10 s request timeout and trial's ``timeout``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

from twisted.internet import reactor
from twisted.internet.defer import inlineCallbacks
from twisted.internet.threads import deferToThread
from twisted.trial.unittest import SkipTest, TestCase

from mockex.server import MockServer

MINUTE = 60_000

CLIENT = r"""
import asyncio, json, sys
import ccxt, ccxt.pro

url = sys.argv[1]
out = {"version": ccxt.__version__}
ex = ccxt.ascendex({"timeout": 10000})
ex.urls["api"]["rest"] = url
ex.load_markets()
out["markets"] = sorted(ex.markets)
out["currencies"] = sorted(ex.currencies)
out["time"] = ex.fetch_time()
out["now"] = ex.milliseconds()
out["latest"] = ex.fetch_ohlcv("BTC/USDT", "1m", limit=5)
since = out["now"] - 3000 * 60000
since -= since % 60000
out["since"] = since
pages = []
cursor = since
for _ in range(3):
    page = ex.fetch_ohlcv("BTC/USDT", "1m", since=cursor, limit=500)
    pages += page
    cursor = page[-1][0]  # from=since returns since+1m onwards (see below)
out["pages"] = pages
out["hours"] = ex.fetch_ohlcv("ETH/USDT", "1h", since=since)
errors = []
for args in (("BTC/USDT", "3m"),):
    try:
        ex.fetch_ohlcv(*args)
    except Exception as e:
        errors.append([type(e).__name__, str(e)])
try:
    ex.v1PublicGetBarhist({"symbol": "NOPE/USDT", "interval": "1"})
except Exception as e:
    errors.append([type(e).__name__, str(e)])
out["errors"] = errors


async def watch():
    pro = ccxt.pro.ascendex({"timeout": 10000})
    pro.urls["api"]["rest"] = url
    pro.urls["api"]["ws"]["public"] = url.replace("http", "ws") + "/api/pro/v2/stream"
    try:
        seen = []
        for _ in range(3):
            candles = await pro.watch_ohlcv("ETH/USDT", "1m")
            seen.append(candles[-1])
        return seen
    finally:
        await pro.close()

out["watched"] = asyncio.run(asyncio.wait_for(watch(), 30))
print(json.dumps(out))
"""


LAST_CCXT_WITH_ASCENDEX = "4.5.63"


def _fetch_old_ccxt() -> str | None:
    """ccxt 4.5.63 in a cache directory (installed once, atomically), or None."""
    import tempfile

    final = os.path.join(tempfile.gettempdir(), f"mockex-ccxt-{LAST_CCXT_WITH_ASCENDEX}")
    if os.path.isfile(os.path.join(final, "ccxt", "ascendex.py")):
        return final
    staging = tempfile.mkdtemp(prefix="mockex-ccxt-")
    try:
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
             "--no-deps", "--target", staging, f"ccxt=={LAST_CCXT_WITH_ASCENDEX}"],
            check=True, capture_output=True, timeout=180,
        )
        os.rename(staging, final)
    except OSError:
        if not os.path.isfile(os.path.join(final, "ccxt", "ascendex.py")):
            return None  # lost a race and the winner failed, or the rename failed
    except (subprocess.SubprocessError, ValueError):
        return None
    return final


def _ccxt_path() -> str | None:
    """The directory to put first on the client's sys.path ("" for the installed ccxt)."""
    given = os.environ.get("MOCKEX_CCXT_ASCENDEX")
    if given:
        return given
    try:
        import ccxt
    except ImportError:
        return None
    if hasattr(ccxt, "ascendex"):
        return ""
    return _fetch_old_ccxt()


class AscendexE2E(TestCase):
    timeout = 120

    def setUp(self) -> Any:
        path = _ccxt_path()
        if path is None:
            raise SkipTest(
                "needs ccxt <= 4.5.63 and could not fetch it (set MOCKEX_CCXT_ASCENDEX to a "
                "--target dir holding it)"
            )
        self.ccxt_path = path
        self.server = MockServer("ascend_ex_spot", port=0, seed=11, reactor=reactor)
        self.addCleanup(self.server.stop)
        return self.server.start()

    def run_client(self) -> Any:
        env = dict(os.environ)
        if self.ccxt_path:
            env["PYTHONPATH"] = self.ccxt_path
        done = subprocess.run([sys.executable, "-c", CLIENT, self.server.url], env=env,
                              capture_output=True, text=True, timeout=60)
        if done.returncode:
            raise AssertionError(done.stderr[-3000:])
        return json.loads(done.stdout)

    @inlineCallbacks
    def test_ccxt_and_ccxt_pro(self) -> Any:
        out = yield deferToThread(self.run_client)
        self.assertEqual(out["markets"], ["BNB/USDT", "BTC/USDT", "DOGE/USDT", "ETH/BTC", "ETH/USDT",
                                          "SOL/USDT", "XRP/USDT"])
        self.assertIn("USDT", out["currencies"])
        self.assertLess(abs(out["time"] - out["now"]), 5_000)
        latest = out["latest"]
        self.assertEqual(len(latest), 5)
        self.assertEqual(latest[-1][0], out["now"] // MINUTE * MINUTE)
        # ccxt asks for limit + 1 bars from ``since``; the 500 cap keeps the newest, so
        # each page starts one minute after its cursor; with the last stamp of a page as
        # the next cursor the pages are contiguous, with no overlap.
        stamps = [c[0] for c in out["pages"]]
        self.assertEqual(len(stamps), 1500)
        self.assertEqual(stamps[0], out["since"] + MINUTE)
        self.assertEqual({b - a for a, b in zip(stamps, stamps[1:])}, {MINUTE})
        hours = [c[0] for c in out["hours"]]
        self.assertEqual({b - a for a, b in zip(hours, hours[1:])}, {60 * MINUTE})
        self.assertEqual([e[0] for e in out["errors"]], ["BadRequest", "BadSymbol"])
        self.assertIn('"code":100004', out["errors"][0][1])
        watched = out["watched"]
        self.assertEqual(len(watched), 3)
        self.assertEqual({len(c) for c in watched}, {6})
        self.assertTrue(all(c[0] % MINUTE == 0 for c in watched))
