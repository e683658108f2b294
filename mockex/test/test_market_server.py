"""The market features through a whole server: models per symbol, scenarios over the
control API, accelerated time."""

from __future__ import annotations

import json

from twisted.python import usage
from twisted.trial.unittest import SynchronousTestCase

from mockex.models import GBMModel, StylizedModel
from mockex.tap import Options
from mockex.testing import MemoryServer


class ServerMarketTests(SynchronousTestCase):
    def test_model_per_symbol(self) -> None:
        server = MemoryServer(model="stylized", models={"ETHUSDT": "gbm"})
        markets = server.server.markets
        self.assertIsInstance(server.server.source.model_for(markets["ETHUSDT"]), GBMModel)
        self.assertIsInstance(server.server.source.model_for(markets["BTCUSDT"]), StylizedModel)
        self.assertRaises(ValueError, MemoryServer, models={"NOPE": "gbm"})

    def test_scenario_over_control_api(self) -> None:
        """POST /__mockex__/market: a -20 % shock shows in the live candle a second later."""
        server = MemoryServer()
        before = server.get("/api/v3/klines", symbol="BTCUSDT", interval="1m", limit=3).json()
        response = server.request(
            "POST", "/__mockex__/market", body=json.dumps({"symbol": "BTCUSDT", "kind": "shock", "value": -20}).encode()
        )
        self.assertEqual(response.status, 200, response.body)
        body = response.json()
        self.assertEqual((body["kind"], body["value"], body["end"]), ("shock", -20.0, None))
        self.assertEqual(server.get("/api/v3/klines", symbol="BTCUSDT", interval="1m", limit=3).json(), before)
        server.advance(2)
        after = server.get("/api/v3/klines", symbol="BTCUSDT", interval="1m", limit=3).json()
        self.assertEqual(after[:2], before[:2])
        self.assertEqual(after[-1][1], before[-1][1])  # same open
        self.assertLess(float(after[-1][4]), 0.85 * float(before[-1][4]))
        bad = server.request("POST", "/__mockex__/market", body=b'{"symbol": "BTCUSDT", "kind": "meteor"}')
        self.assertEqual(bad.status, 400)
        self.assertIn("unknown scenario", json.loads(bad.body)["error"])

    def test_freeze_is_the_venue_empty_candle(self) -> None:
        server = MemoryServer()
        server.server.scenario("BTCUSDT", "freeze", duration=600)
        server.advance(185)
        rows = server.get("/api/v3/klines", symbol="BTCUSDT", interval="1m", limit=2).json()
        row = rows[0]
        self.assertEqual(row[1], row[2])
        self.assertEqual(row[2], row[3])
        self.assertEqual(row[3], row[4])
        self.assertEqual((row[5], row[8], row[9]), ("0.00000000", 0, "0.00000000"))
        ws = server.connect("/ws/btcusdt@kline_1m")
        server.advance(4)
        k = ws.json()[-1]["k"]
        self.assertEqual((k["f"], k["L"], k["n"]), (-1, -1, 0))

    def test_speed_60_closes_a_minute_every_second(self) -> None:
        server = MemoryServer(speed=60, now_ms=1_795_564_800_000)
        ws = server.connect("/ws/btcusdt@kline_1m")
        server.advance(5, step=0.25)
        closed = [m["k"] for m in ws.json() if m["k"]["x"]]
        self.assertGreaterEqual(len(closed), 4)
        self.assertEqual([k["t"] for k in closed], [1_795_564_800_000 + 60_000 * i for i in range(len(closed))])


class ModelOptionTests(SynchronousTestCase):
    def test_model_option(self) -> None:
        o = Options()
        o.parseOptions(["--model", "gbm,ETHUSDT=randomwalk"])
        self.assertEqual((o["model_default"], o["model_map"]), ("gbm", {"ETHUSDT": "randomwalk"}))
        self.assertRaises(usage.UsageError, Options().parseOptions, ["--model", "nonsense"])
        self.assertRaises(usage.UsageError, Options().parseOptions, ["--model", "NOPE=gbm"])
