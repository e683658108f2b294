"""Tests for the twistd plugin: options, usage errors, and the service it makes."""

from __future__ import annotations

import io
import sys

from twisted.internet.testing import MemoryReactorClock
from twisted.python import usage
from twisted.trial.unittest import SynchronousTestCase

from mockex.tap import DEFAULT_LISTEN, Options, makeService, parse_pairs


class OptionsTests(SynchronousTestCase):
    def parse(self, *argv: str) -> Options:
        options = Options()
        options.parseOptions(list(argv))
        return options

    def test_defaults(self) -> None:
        """binance_spot on 127.0.0.1:8080, seed 0, the venue's own pairs, real time."""
        o = self.parse()
        self.assertEqual(o["exchange"], "binance_spot")
        self.assertEqual(o["listen"], DEFAULT_LISTEN)
        self.assertIn("interface=127.0.0.1", o["listen"])
        self.assertEqual((o["seed"], o["speed"], o["pair_list"], o["start"]), (0, 1.0, None, None))

    def test_all_options(self) -> None:
        o = self.parse(
            "--exchange", "binance_spot", "--listen", "tcp:0:interface=127.0.0.1", "--seed", "42",
            "--pairs", "BTCUSDT:50000, ETHUSDT:3000", "--speed", "60", "--start", "1700000000000",
            "--option", "limit_over_max=error",
        )
        self.assertEqual(o["seed"], 42)
        self.assertEqual(o["pair_list"], [("BTCUSDT", 50000.0), ("ETHUSDT", 3000.0)])
        self.assertEqual(o["speed"], 60.0)
        self.assertEqual(o["start"], 1_700_000_000_000)
        self.assertEqual(o["options"], {"limit_over_max": "error"})

    def test_unknown_exchange(self) -> None:
        """An unknown venue is a usage error that lists the installed ones."""
        e = self.assertRaises(usage.UsageError, self.parse, "--exchange", "nasdaq")
        self.assertIn("unknown exchange 'nasdaq'", str(e))
        self.assertIn("binance_spot", str(e))

    def test_bad_values(self) -> None:
        """Bad pairs, seeds, speeds, starts and options are usage errors, not tracebacks."""
        for argv in (
            ["--pairs", "BTCUSDT"], ["--pairs", "BTCUSDT:abc"], ["--pairs", "BTCUSDT:-5"],
            ["--pairs", ":5"], ["--pairs", ","], ["--pairs", "B$%:5"], ["--seed", "x"],
            ["--speed", "0"], ["--speed", "fast"], ["--start", "yesterday"], ["--option", "nokey"],
            ["--pairs", "BTCUSDT:inf"],
        ):
            self.assertRaises(usage.UsageError, self.parse, *argv)

    def test_parse_pairs_accepts_neutral_names(self) -> None:
        self.assertEqual(parse_pairs("BTC/USDT:1.5"), [("BTC/USDT", 1.5)])

    def test_list_exchanges(self) -> None:
        out = io.StringIO()
        self.patch(sys, "stdout", out)
        e = self.assertRaises(SystemExit, self.parse, "--list-exchanges")
        self.assertEqual(e.code, 0)
        self.assertIn("binance_spot", out.getvalue())


class ServiceTests(SynchronousTestCase):
    def test_service_listens_and_stops(self) -> None:
        """The service listens where --listen says, on the reactor it was given."""
        reactor = MemoryReactorClock()
        options = Options()
        options.parseOptions(["--listen", "tcp:9123:interface=127.0.0.1", "--seed", "3"])
        service = makeService(options, reactor)
        service.startService()
        self.assertEqual(len(reactor.tcpServers), 1)
        port, factory, _backlog, interface = reactor.tcpServers[0]
        self.assertEqual((port, interface), (9123, "127.0.0.1"))
        self.assertEqual(service.server.seed, 3)  # type: ignore[attr-defined]
        d = service.stopService()
        self.assertIsNotNone(d)
        self.successResultOf(d)
        self.assertEqual(reactor.getDelayedCalls(), [])

    def test_heap_frozen_once_running(self) -> None:
        """
        The service freezes the start-up heap when the reactor runs, not before (a
        MemoryReactor never runs, so the trial process is left alone).
        """
        import gc

        from mockex.tap import freeze_startup_heap

        reactor = MemoryReactorClock()
        options = Options()
        options.parseOptions(["--listen", "tcp:0:interface=127.0.0.1"])
        before = gc.get_freeze_count()
        service = makeService(options, reactor)
        service.startService()
        self.addCleanup(service.stopService)
        self.assertIn((freeze_startup_heap, (), {}), reactor.whenRunningHooks)
        self.assertEqual(gc.get_freeze_count(), before)

    def test_freeze_startup_heap(self) -> None:
        """freeze_startup_heap moves what is alive into the permanent generation."""
        import gc

        from mockex.tap import freeze_startup_heap

        self.addCleanup(gc.unfreeze)
        freeze_startup_heap()
        self.assertGreater(gc.get_freeze_count(), 1000)


class FaultOptionsTests(SynchronousTestCase):
    def test_fault_options_reach_the_server(self) -> None:
        import json as _json
        import os as _os
        import tempfile as _tempfile

        from twisted.internet.testing import MemoryReactorClock

        d = _tempfile.mkdtemp()
        path = _os.path.join(d, "s.json")
        with open(path, "w") as f:
            _json.dump({"timeline": [{"at": 30, "for": 10, "kind": "drop", "id": "t"}]}, f)
        self.addCleanup(lambda: (_os.remove(path), _os.rmdir(d)))
        o = Options()
        o.parseOptions(["--listen", "tcp:0:interface=127.0.0.1", "--scenario", path, "--latency-ms", "200",
                        "--loss", "0.1", "--error-rate", "0.05", "--control-token", "t0k", "--scenario-dir", d])
        reactor = MemoryReactorClock()
        service = makeService(o, reactor)
        service.startService()
        server = service.server  # type: ignore[attr-defined]
        self.assertEqual(sorted(r.id for r in server.faults.rules), ["net.error", "net.latency", "net.loss", "t"])
        self.assertEqual(server.faults.network_conditions()["latency_ms"], 200.0)
        service.stopService()

    def test_bad_fault_options(self) -> None:
        import os as _os
        import tempfile as _tempfile

        fd, bad = _tempfile.mkstemp(suffix=".json")
        _os.write(fd, b'{"rules": [{"kind": "meteor"}]}')
        _os.close(fd)
        self.addCleanup(_os.remove, bad)
        for argv in (["--loss", "2"], ["--error-rate", "-0.1"], ["--latency-ms", "x"], ["--scenario", bad],
                     ["--scenario", "/nonexistent.json"], ["--no-faults", "--loss", "0.1"],
                     ["--scenario-dir", "/nonexistent"]):
            o = Options()
            self.assertRaises(usage.UsageError, o.parseOptions, argv)
class SeveralVenuesTests(SynchronousTestCase):
    def test_repeated_exchange_takes_consecutive_ports(self) -> None:
        """``--exchange`` twice: each venue on its own port, 8080 and 8081 on loopback."""
        reactor = MemoryReactorClock()
        options = Options()
        options.parseOptions(["--exchange", "binance_spot", "--exchange", "bybit_spot", "-e", "okx_spot"])
        self.assertEqual([v.name for v, _ in options["serve"]], ["binance_spot", "bybit_spot", "okx_spot"])
        service = makeService(options, reactor)
        service.startService()
        bound = [(port, interface) for port, _f, _b, interface in reactor.tcpServers]
        self.assertEqual(bound, [(8080, "127.0.0.1"), (8081, "127.0.0.1"), (8082, "127.0.0.1")])
        servers = service.servers  # type: ignore[attr-defined]
        self.assertEqual([s.venue.name for s in servers], ["binance_spot", "bybit_spot", "okx_spot"])
        self.assertIs(service.server, servers[0])  # type: ignore[attr-defined]
        # Each port's factory is its own venue's.
        self.assertEqual([f for _p, f, _b, _i in reactor.tcpServers], [s.factory for s in servers])
        self.successResultOf(service.stopService())
        self.assertEqual(reactor.getDelayedCalls(), [])

    def test_listen_per_exchange(self) -> None:
        reactor = MemoryReactorClock()
        options = Options()
        options.parseOptions([
            "--exchange", "bybit_perpetual", "--listen", "tcp:9001:interface=127.0.0.1",
            "--exchange", "okx_perpetual", "--listen", "tcp:9002:interface=127.0.0.1",
        ])
        service = makeService(options, reactor)
        service.startService()
        self.assertEqual([p for p, *_ in reactor.tcpServers], [9001, 9002])
        self.successResultOf(service.stopService())

    def test_mismatched_or_repeated(self) -> None:
        for argv in (
            ["--exchange", "binance_spot", "--exchange", "bybit_spot", "--listen", "tcp:9000"],
            ["--exchange", "bybit_spot", "--exchange", "bybit_spot"],
            ["--exchange", "bybit_spot", "--exchange", "nasdaq"],
        ):
            self.assertRaises(usage.UsageError, Options().parseOptions, argv)

    def test_pairs_apply_to_every_venue(self) -> None:
        options = Options()
        options.parseOptions(["-e", "binance_perpetual", "-e", "okx_spot", "--pairs", "BTC/USDT:50000"])
        reactor = MemoryReactorClock()
        service = makeService(options, reactor)
        service.startService()
        markets = [list(s.markets) for s in service.servers]  # type: ignore[attr-defined]
        self.assertEqual(markets, [["BTCUSDT"], ["BTC-USDT"]])


class RateLimitOptionsTests(SynchronousTestCase):
    def parse(self, *argv: str) -> Options:
        options = Options()
        options.parseOptions(list(argv))
        return options

    def test_default_is_the_venue_declaration(self) -> None:
        self.assertEqual(self.parse()["rate_limits"], {"enabled": True})

    def test_options_become_knobs(self) -> None:
        o = self.parse(
            "--rate-limits", "on", "--rest-weight-limit", "1200", "--rest-period-ms", "10000",
            "--raw-request-limit", "500", "--ban-after", "none", "--ws-message-limit", "10",
            "--ws-message-burst", "20", "--ws-max-streams", "200", "--ws-connection-attempts", "none",
            "--ws-max-connections", "4", "--client-header", "X-MBX-APIKEY",
        )
        self.assertEqual(o["rate_limits"], {
            "enabled": True, "rest_limit": 1200, "rest_period_ms": 10000, "raw_limit": 500,
            "ban_after": None, "ws_limit": 10, "ws_burst": 20, "ws_max_streams": 200,
            "ws_connection_attempts": None, "ws_max_connections": 4, "client_header": "x-mbx-apikey",
        })

    def test_bad_rate_limit_values(self) -> None:
        for argv in (
            ["--rate-limits", "maybe"], ["--rest-weight-limit", "lots"], ["--rest-weight-limit", "none"],
            ["--rest-period-ms", "1500"], ["--rest-period-ms", "0"], ["--ws-max-streams", "-1"],
        ):
            self.assertRaises(usage.UsageError, self.parse, *argv)

    def test_service_applies_them(self) -> None:
        reactor = MemoryReactorClock()
        options = self.parse("--listen", "tcp:9124:interface=127.0.0.1", "--rate-limits", "off",
                             "--rest-weight-limit", "100")
        service = makeService(options, reactor)
        service.startService()
        limits = service.server.limits  # type: ignore[attr-defined]
        self.assertFalse(limits.enabled)
        self.assertEqual(limits.rest.windows[0].limit, 100)
        self.successResultOf(service.stopService())
