"""
Plugin discovery: venues are found with twisted.plugin in every mockex/plugins directory,
including a third party's; the example in docs/plugins.md works as written.
"""

from __future__ import annotations

import re
from pathlib import Path

from twisted.trial.unittest import SynchronousTestCase
from zope.interface.verify import verifyObject

import mockex.plugins
from mockex.interfaces import IExchange
from mockex.plugins import UnknownExchange, exchanges, find_exchange
from mockex.testing import MemoryServer

DOCS = Path(__file__).resolve().parents[2] / "docs" / "plugins.md"


class DiscoveryTests(SynchronousTestCase):
    def test_builtin_venues_provide_the_interface(self) -> None:
        found = exchanges()
        self.assertIn("binance_spot", found)
        for venue in found.values():
            self.assertTrue(verifyObject(IExchange, venue))

    def test_unknown(self) -> None:
        e = self.assertRaises(UnknownExchange, find_exchange, "nope")
        self.assertIn("binance_spot", e.available)

    def test_third_party_dropin_from_the_docs(self) -> None:
        """
        The venue of docs/plugins.md, dropped into another mockex/plugins directory
        (as a separate distribution installs it), is discovered and served.
        """
        if not DOCS.exists():
            self.skipTest("docs/ not present (installed copy)")
        code = re.search(r"```python\n(# acme-mockex/mockex/plugins/acme_venue.py.*?)```", DOCS.read_text(), re.S)
        assert code is not None
        root = Path(self.mktemp())
        plugins = root / "mockex" / "plugins"
        plugins.mkdir(parents=True)
        (plugins / "acme_venue.py").write_text(code.group(1))
        self.patch(mockex.plugins, "__path__", list(mockex.plugins.__path__) + [str(plugins)])
        venue = find_exchange("acme")
        self.assertTrue(verifyObject(IExchange, venue))
        server = MemoryServer("acme")
        ok = server.get("/candles", pair="BTC-USD")
        self.assertEqual(ok.status, 200)
        self.assertEqual(len(ok.json()), 100)
        self.assertEqual(server.get("/candles", pair="X").status, 400)
        missing = server.get("/nowhere")
        self.assertEqual((missing.status, missing.body), (404, b'{"error":"not_found"}'))
