"""
Faults end to end, in memory: the real Site, Klein app, Autobahn protocols and
ConnectionLayer on a MemoryReactorClock (see mockex.testing). REST requests that must
cross the transport layer use ``MemoryServer.http`` (a raw client through the
ConnectionLayer); the others use StubTreq.
"""

from __future__ import annotations

import json
import os
import tempfile
from typing import Any

from twisted.trial.unittest import SynchronousTestCase

from mockex.testing import DEFAULT_NOW_MS, MemoryServer
from mockex.venues.binance import ERRORS

KLINES = "/api/v3/klines"


def klines(server: MemoryServer, wait: float = 0.0, **extra: Any) -> Any:
    return server.http("GET", KLINES, {"symbol": "BTCUSDT", "interval": "1m", "limit": 5, **extra}, wait=wait)


class RestFaultTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.m = MemoryServer()
        self.addCleanup(self.assertNoTimers)

    def assertNoTimers(self) -> None:
        self.m.stop()
        self.assertEqual(self.m.clock.getDelayedCalls(), [])

    def test_errors_in_venue_format(self) -> None:
        """Forced 5xx carry the venue's own bodies; each kind can be chosen."""
        for kind, status in (("internal", 500), ("disconnected", 500), ("timeout", 503), ("busy", 503)):
            self.m.faults.clear()
            self.m.faults.add({"kind": "error", "params": {"kinds": [kind]}})
            r = self.m.get(KLINES, symbol="BTCUSDT", interval="1m")
            self.assertEqual((r.status, r.body), (status, ERRORS[kind].body))
        codes = set()
        self.m.faults.clear()
        self.m.server.set_network_conditions(error_rate=1.0)
        for _ in range(40):
            codes.add(self.m.get("/api/v3/ping").json()["code"])
        self.assertEqual(codes, {-1000, -1001, -1007, -1008})

    def test_rate_limited_and_banned(self) -> None:
        self.m.faults.add({"kind": "rate_limited", "params": {"retry_after_s": 7}, "id": "rl"})
        r = self.m.get("/api/v3/ping")
        self.assertEqual((r.status, r.headers["retry-after"], r.json()["code"]), (429, "7", -1003))
        self.assertIn("request weight per 1 MINUTE", r.json()["msg"])
        self.m.faults.remove("rl")
        self.m.faults.add({"kind": "banned", "params": {"retry_after_s": 120}})
        r = self.m.get("/api/v3/ping")
        self.assertEqual(r.status, 418)
        self.assertIn(f"IP banned until {DEFAULT_NOW_MS + 120_000}.", r.json()["msg"])

    def test_malformed(self) -> None:
        good = self.m.get(KLINES, symbol="BTCUSDT", interval="1m", limit=3).body
        self.m.faults.add({"kind": "malformed", "id": "m"})
        bad = self.m.get(KLINES, symbol="BTCUSDT", interval="1m", limit=3)
        self.assertEqual(bad.status, 200)
        self.assertTrue(good.startswith(bad.body) and len(bad.body) < len(good))
        self.assertRaises(ValueError, json.loads, bad.body)
        raw = self.m.http("GET", KLINES, {"symbol": "BTCUSDT", "interval": "1m", "limit": 3})
        self.assertTrue(raw.complete)
        self.assertEqual(raw.headers["content-length"], str(len(raw.body)))
        for mode in ("empty", "garbage"):
            self.m.faults.add({"kind": "malformed", "params": {"mode": mode}, "id": "m"})
            bad = self.m.get(KLINES, symbol="BTCUSDT", interval="1m", limit=3)
            self.assertEqual(bad.status, 200)
            self.assertTrue(bad.body == b"" if mode == "empty" else bad.body != good)

    def test_latency_once_per_request(self) -> None:
        """The response arrives after the latency, once: not doubled."""
        self.m.server.set_network_conditions(latency_ms=400)
        start = self.m.clock.seconds()
        r = klines(self.m)
        self.assertEqual(r.raw, b"")
        self.m.advance(0.39, step=0.01)
        self.assertEqual(r.client.data, b"")
        self.m.advance(0.02, step=0.01)
        first_arrival = r.client.arrivals[0][0] - start
        self.assertTrue(0.4 - 1e-6 <= first_arrival <= 0.411, first_arrival)
        self.assertEqual(len([e for e in self.m.faults.journal if e.kind == "latency"]), 1)
        self.m.advance(1)
        from mockex.testing import HttpResult

        done = HttpResult(r.client)
        self.assertTrue(done.complete and done.lost)
        self.assertEqual(done.status, 200)

    def test_dribble(self) -> None:
        self.m.faults.add({"kind": "dribble", "params": {"chunks": 5, "duration_s": 2}})
        start = self.m.clock.seconds()
        r = klines(self.m)
        self.m.advance(3, step=0.1)
        from mockex.testing import HttpResult

        done = HttpResult(r.client)
        self.assertTrue(done.complete)
        times = [round(t - r.client.arrivals[0][0], 1) for t, _ in r.client.arrivals]
        self.assertLessEqual(r.client.arrivals[0][0] - start, 0.1)
        self.assertEqual(times, [0.0, 0.5, 1.0, 1.5, 2.0])

    def test_stall_halfway(self) -> None:
        normal = self.m.http("GET", "/api/v3/ping", wait=1)
        self.m.faults.add({"kind": "stall", "params": {"at": "half"}})
        r = self.m.http("GET", "/api/v3/ping", wait=30)
        self.assertFalse(r.complete)
        self.assertFalse(r.lost)
        self.assertEqual(len(r.raw), len(normal.raw) // 2)

    def test_loss_stalls_or_resets(self) -> None:
        """REST loss: requests never answered or reset, never a 408; journalled."""
        self.m.server.set_network_conditions(packet_loss_rate=1.0)
        results = [klines(self.m, wait=1) for _ in range(12)]
        self.assertTrue(all(r.raw == b"" for r in results))
        lost = [r.lost for r in results]
        self.assertIn(True, lost)
        self.assertIn(False, lost)
        details = [e.detail for e in self.m.faults.journal]
        self.assertEqual(len(details), 12)
        self.m.server.set_network_conditions()
        self.assertEqual(klines(self.m, wait=1).status, 200)

    def test_targeting(self) -> None:
        """Route and symbol targets: only ETHUSDT klines fail; ping and BTCUSDT do not."""
        self.m.faults.add({"kind": "error", "params": {"kinds": ["internal"]},
                           "target": {"routes": ["klines"], "symbols": ["ETHUSDT"]}})
        self.assertEqual(self.m.get(KLINES, symbol="BTCUSDT", interval="1m").status, 200)
        self.assertEqual(self.m.get(KLINES, symbol="ETHUSDT", interval="1m").status, 500)
        self.assertEqual(self.m.get("/api/v3/uiKlines", symbol="ETHUSDT", interval="1m").status, 200)
        self.assertEqual(self.m.get("/api/v3/ping").status, 200)

    def test_outage_window(self) -> None:
        """Refuse new connections from 1 s for 2 s."""
        self.m.faults.add({"kind": "refuse", "schedule": {"start_after": 1, "duration": 2}})
        self.assertEqual(klines(self.m).status, 200)
        self.m.advance(1.5)
        r = klines(self.m)
        self.assertTrue(r.lost and r.raw == b"")
        self.m.advance(2)
        self.assertEqual(klines(self.m).status, 200)

    def test_close_after_bytes(self) -> None:
        self.m.faults.add({"kind": "close_after", "params": {"bytes": 50}})
        r = klines(self.m, wait=1)
        self.assertEqual(len(r.raw), 50)
        self.assertTrue(r.lost)


class WebSocketFaultTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.m = MemoryServer()
        self.addCleanup(self.assertNoTimers)

    def assertNoTimers(self) -> None:
        self.m.stop()
        self.assertEqual(self.m.clock.getDelayedCalls(), [])

    def test_timeline_drop(self) -> None:
        """From 30 s, for 10 s, drop every frame; none missing outside that window."""
        ws = self.m.connect("/ws/btcusdt@kline_1s")
        start = self.m.now_ms()
        self.m.faults.load_scenario({"timeline": [{"at": 30, "for": 10, "kind": "drop"}]})
        self.m.advance(50)
        stamps = [(e["E"] - start) // 1000 for e in ws.json()]
        self.assertEqual([s for s in range(1, 51) if s not in stamps], list(range(30, 40)))
        self.assertEqual(len(self.m.faults.journal), 10)

    def test_stream_target(self) -> None:
        ws = self.m.connect("/stream?streams=btcusdt@kline_1s/ethusdt@kline_1s")
        self.m.faults.add({"kind": "drop", "target": {"streams": ["btcusdt@kline_1s"]}})
        self.m.advance(5)
        self.assertEqual({m["stream"] for m in ws.json()}, {"ethusdt@kline_1s"})

    def test_withhold_closing_event(self) -> None:
        ws = self.m.connect("/ws/btcusdt@kline_1m")
        self.m.faults.add({"kind": "withhold_close"})
        self.m.advance(125)
        events = ws.json()
        self.assertTrue(events)
        self.assertFalse(any(e["k"]["x"] for e in events))
        self.assertEqual([e.kind for e in self.m.faults.journal], ["withhold_close"] * 2)

    def test_duplicate_and_reorder(self) -> None:
        ws = self.m.connect("/ws/btcusdt@kline_1s")
        self.m.advance(2)
        ws.take()
        self.m.faults.add({"kind": "duplicate", "id": "d"})
        self.m.advance(1)
        first = ws.take()
        self.assertEqual(len(first), 2)  # one closed 1s candle per second, twice
        self.assertEqual(first[0], first[1])
        self.m.faults.remove("d")
        self.m.faults.add({"kind": "reorder", "probability": 0.5, "params": {"max_hold_ms": 5000}})
        self.m.advance(20)
        stamps = [e["E"] for e in ws.take()]
        self.assertEqual(sorted(stamps), sorted(stamps))
        self.assertNotEqual(stamps, sorted(stamps))

    def test_latency_keeps_order(self) -> None:
        ws = self.m.connect("/ws/btcusdt@kline_1s")
        self.m.server.set_network_conditions(latency_ms=300, jitter_ms=1500)
        self.m.advance(20, step=0.1)
        self.m.server.set_network_conditions()
        self.m.advance(3)
        stamps = [e["E"] for e in ws.json()]
        self.assertEqual(stamps, sorted(stamps))
        self.assertGreater(len(stamps), 15)

    def test_no_pong(self) -> None:
        ws = self.m.connect("/ws/btcusdt@kline_1m")
        ws.sendPing(b"1")
        self.m.flush()
        self.assertEqual(ws.pongs, [b"1"])
        self.m.faults.add({"kind": "no_pong"})
        ws.sendPing(b"2")
        self.m.flush()
        self.assertEqual(ws.pongs, [b"1"])

    def test_close_codes(self) -> None:
        for code in (1001, 1008, 1011):
            self.m.faults.clear()
            ws = self.m.connect("/ws/btcusdt@kline_1m")
            self.m.faults.add({"kind": "close", "params": {"code": code, "reason": "bye"}})
            self.m.advance(1)
            self.assertEqual((ws.close_code, ws.close_reason), (code, "bye"))
        self.m.faults.clear()
        ws = self.m.connect("/ws/btcusdt@kline_1m")
        self.m.faults.add({"kind": "close", "params": {"abort": True}})
        self.m.advance(1)
        self.assertTrue(ws.lost)
        self.assertEqual(ws.close_code, 1006)  # no close frame

    def test_shutdown_notice(self) -> None:
        raw = self.m.connect("/ws/btcusdt@kline_1m")
        combined = self.m.connect("/stream?streams=btcusdt@kline_1m&timeUnit=MICROSECOND")
        self.m.advance(1)
        raw.take(), combined.take()
        self.m.faults.add({"kind": "shutdown_notice", "params": {"close_after_s": 5}})
        self.m.flush()
        self.m.flush()
        now = self.m.now_ms()
        self.assertEqual(raw.json(), [{"e": "serverShutdown", "E": now}])
        self.assertEqual(combined.json(), [{"stream": "!serverShutdown", "data": {"e": "serverShutdown", "E": now * 1000}}])
        self.m.advance(6)
        self.assertEqual((raw.close_code, combined.close_code), (1001, 1001))

    def test_lifetime(self) -> None:
        self.m.faults.add({"kind": "lifetime", "params": {"seconds": 10}})
        ws = self.m.connect("/ws/btcusdt@kline_1m")
        self.m.advance(9.5)
        self.assertIsNone(ws.close_code)
        self.m.advance(1)
        self.assertEqual(ws.close_code, 1001)

    def test_inbound_drop(self) -> None:
        ws = self.m.connect("/ws")
        self.m.faults.add({"kind": "drop", "target": {"direction": "in"}, "id": "in"})
        ws.send_json({"method": "LIST_SUBSCRIPTIONS", "id": 1})
        self.m.advance(1)
        self.assertEqual(ws.json(), [])
        self.m.faults.remove("in")
        ws.send_json({"method": "LIST_SUBSCRIPTIONS", "id": 2})
        self.m.advance(1)
        self.assertEqual(ws.json(), [{"result": [], "id": 2}])

    def test_reset_and_stall_websocket(self) -> None:
        a = self.m.connect("/ws/btcusdt@kline_1s")
        self.m.faults.add({"kind": "stall", "params": {"at": "now"}, "target": {"connections": [1]}})
        self.m.faults.add({"kind": "reset", "schedule": {"start_after": 5}})
        self.m.advance(3)
        self.assertEqual(a.messages, [])
        self.assertFalse(a.lost)
        self.m.advance(3)
        self.assertTrue(a.lost)


class DeterminismTests(SynchronousTestCase):
    def traffic(self, seed: int, faults: bool = True, clear: bool = False) -> tuple[list[Any], list[bytes]]:
        m = MemoryServer(seed=seed)
        if faults:
            m.faults.add({"kind": "drop", "probability": 0.3})
            m.faults.add({"kind": "latency", "probability": 0.5, "params": {"ms": 50, "jitter_ms": 500}})
            m.faults.add({"kind": "error", "probability": 0.3, "target": {"routes": ["klines"]}})
            m.faults.add({"kind": "duplicate", "probability": 0.2})
        if clear:
            m.faults.clear()
        seen: list[bytes] = []
        a = m.connect("/ws/btcusdt@kline_1s")
        b = m.connect("/stream?streams=ethusdt@kline_1s")
        for i in range(6):
            seen.append(klines(m, startTime=DEFAULT_NOW_MS - 600_000 * i, wait=1).body)
        m.advance(10)
        seen += a.messages + [b"|"] + b.messages
        journal = [e.to_dict() for e in m.faults.journal] if m.faults else []
        m.stop()
        self.assertEqual(m.clock.getDelayedCalls(), [])
        return journal, seen

    def test_same_seed_same_journal(self) -> None:
        one, two = self.traffic(4), self.traffic(4)
        self.assertEqual(one, two)
        self.assertTrue(one[0])
        self.assertNotEqual(self.traffic(5)[0], one[0])

    def test_clear_restores_normal(self) -> None:
        """After clear() the bytes are exactly those of a server that never had faults."""
        self.assertEqual(self.traffic(4, clear=True)[1], self.traffic(4, faults=False)[1])

    def test_built_without_faults(self) -> None:
        m = MemoryServer(faults=False)
        self.assertIsNone(m.faults)
        self.assertEqual(klines(m, wait=1).status, 200)
        self.assertEqual(m.get("/__mockex__/faults").status, 404)
        self.assertRaises(RuntimeError, m.server.set_network_conditions, latency_ms=1)
        m.stop()

    def test_stop_leaves_no_timer(self) -> None:
        """Every kind installed, traffic in flight: stop() leaves no DelayedCall."""
        m = MemoryServer()
        m.faults.add({"kind": "latency", "params": {"ms": 5000}})
        m.faults.add({"kind": "latency", "params": {"ms": 500}, "target": {"direction": "in"}})
        m.faults.add({"kind": "bandwidth", "params": {"bytes_per_second": 100}})
        m.faults.add({"kind": "reorder", "probability": 0.5})
        m.faults.add({"kind": "delay", "params": {"ms": 3000}, "target": {"direction": "in"}})
        m.faults.add({"kind": "lifetime", "params": {"seconds": 1000}})
        m.faults.add({"kind": "shutdown_notice", "params": {"close_after_s": 900}})
        m.faults.add({"kind": "close", "schedule": {"start_after": 500}})
        m.faults.add({"kind": "dribble", "params": {"duration_s": 100}})
        ws = m.connect("/ws/btcusdt@kline_1s", open=False)
        m.advance(10)
        self.assertTrue(ws.opened)
        ws.send_json({"method": "LIST_SUBSCRIPTIONS", "id": 1})
        klines(m)
        m.advance(3)
        self.assertTrue(m.clock.getDelayedCalls())
        m.stop()
        self.assertEqual(m.clock.getDelayedCalls(), [])


class ControlApiTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.dir = tempfile.mkdtemp()
        with open(os.path.join(self.dir, "s.json"), "w") as f:
            json.dump({"rules": [{"kind": "drop", "id": "x"}]}, f)
        self.addCleanup(lambda: (os.remove(os.path.join(self.dir, "s.json")), os.rmdir(self.dir)))
        self.m = MemoryServer(scenario_dir=self.dir)
        self.addCleanup(self.m.stop)

    def call(self, method: str, path: str, body: Any = None, **kw: Any) -> Any:
        data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
        return self.m.request(method, "/__mockex__/" + path, body=data, **kw)

    def test_cycle(self) -> None:
        self.assertEqual(self.call("GET", "faults").json()["rules"], [])
        r = self.call("POST", "faults", {"kind": "error", "id": "e1", "target": {"routes": ["ping"]}})
        self.assertEqual((r.status, r.json()["added"][0]["id"]), (201, "e1"))
        self.assertEqual(self.m.get("/api/v3/ping").status, 500)
        self.assertEqual(self.call("GET", "faults").status, 200, "the control API is never faulted")
        self.assertEqual(self.call("GET", "faults/e1").json()["kind"], "error")
        journal = self.call("GET", "journal").json()
        self.assertEqual((journal["total"], journal["entries"][0]["kind"]), (1, "error"))
        self.assertEqual(self.call("GET", "journal?since=1").json()["entries"], [])
        self.assertEqual(self.call("DELETE", "faults/e1").status, 200)
        self.assertEqual(self.call("DELETE", "faults/e1").status, 404)
        self.assertEqual(self.m.get("/api/v3/ping").status, 200)
        r = self.call("PUT", "network", {"latency_ms": 10, "packet_loss_rate": 0.5})
        self.assertEqual(r.json()["packet_loss_rate"], 0.5)
        self.assertEqual(len(self.call("GET", "faults").json()["rules"]), 2)
        r = self.call("PUT", "faults", {"timeline": [{"at": 30, "for": 10, "kind": "drop", "id": "t"}]})
        self.assertEqual([x["id"] for x in r.json()["rules"]], ["t"])
        self.assertEqual(self.call("POST", "scenario", {"file": "s.json"}).json()["rules"][0]["id"], "x")
        self.assertEqual(self.call("POST", "reset").json(), {
            "seed": 0, "rules": [], "journal_total": 0,
            "network": {"latency_ms": 0.0, "jitter_ms": 0.0, "packet_loss_rate": 0.0, "error_rate": 0.0},
        })
        self.assertEqual(self.call("DELETE", "faults").status, 200)

    def test_bad_input(self) -> None:
        """Bad input is a JSON 400/404/405, never a traceback or a 5xx."""
        for method, path, body in (
            ("POST", "faults", b"{nope"), ("POST", "faults", {"kind": "x"}), ("POST", "faults", None),
            ("POST", "faults", [{"kind": "drop", "id": "a"}, {"kind": "drop", "id": "a"}]),
            ("PUT", "faults", [1]), ("PUT", "network", {"latency_ms": -1}), ("PUT", "network", {"x": 1}),
            ("POST", "scenario", {"file": "../etc/passwd"}), ("POST", "scenario", {"file": "/etc/passwd"}),
            ("POST", "scenario", {"file": 5}), ("POST", "scenario", {"scenario": []}), ("POST", "scenario", {}),
            ("GET", "journal?since=x", None), ("PATCH", "faults", None), ("GET", "nothing", None),
            ("GET", "faults/nope", None), ("POST", "faults", b"\xff\xfe"),
        ):
            r = self.call(method, path, body)
            self.assertIn(r.status, (400, 404, 405), (method, path, body, r))
            self.assertIn("error", r.json())

    def test_loopback_only(self) -> None:
        r = self.m.http("GET", "/__mockex__/faults", host="10.1.2.3")
        self.assertEqual(r.status, 403)
        self.assertEqual(self.m.http("GET", "/__mockex__/faults").status, 200)

    def test_token(self) -> None:
        m = MemoryServer(control_token="s3cret")
        self.addCleanup(m.stop)
        self.assertEqual(m.http("GET", "/__mockex__/faults").status, 403)
        self.assertEqual(m.http("GET", "/__mockex__/faults", headers={"X-Mockex-Token": "nope"}).status, 403)
        ok = m.http("GET", "/__mockex__/faults", headers={"X-Mockex-Token": "s3cret"}, host="10.1.2.3")
        self.assertEqual(ok.status, 200)
