"""
Unit tests of the fault machinery: rule values, the controller's decisions and
journal, and the byte wrapper on a ``StringTransport`` and a ``Clock``.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from typing import Any

from hypothesis import given, settings, strategies as st
from twisted.internet.address import IPv4Address
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.trial.unittest import SynchronousTestCase

from mockex.faults import (
    DROP,
    LATENCY,
    FaultController,
    FaultError,
    FaultRule,
    FaultWrapper,
    ResponsePlan,
    Schedule,
    Target,
    latency_seconds,
)
from mockex.plugins import find_exchange
from mockex.transport import ConnectionLayer

VENUE = find_exchange("binance_spot")


def controller(clock: Clock | None = None, seed: int = 0, **kw: Any) -> FaultController:
    return FaultController(clock or Clock(), seed, VENUE, **kw)


class Sink(Protocol):
    def __init__(self) -> None:
        self.received = b""

    def dataReceived(self, data: bytes) -> None:
        self.received += data


def wrapped(ctl: FaultController) -> tuple[FaultWrapper, Sink, StringTransport]:
    layer = ConnectionLayer(Factory.forProtocol(Sink), ctl)
    wrapper = layer.buildProtocol(IPv4Address("TCP", "127.0.0.1", 1))
    transport = StringTransport()
    wrapper.makeConnection(transport)
    return wrapper, wrapper.wrappedProtocol, transport


class RuleTests(SynchronousTestCase):
    def test_defaults_filled(self) -> None:
        rule = FaultRule.create(LATENCY, params={"ms": 5})
        self.assertEqual(rule.params["ms"], 5.0)
        self.assertEqual(rule.params["jitter_ms"], 0.0)
        self.assertEqual(rule.params["distribution"], "uniform")

    def test_round_trip(self) -> None:
        """to_dict / from_dict give the same rule."""
        rule = FaultRule.create(
            DROP, 0.25, {"mode": "reset"}, {"routes": ["klines"], "symbols": ["btcusdt"]},
            {"timeline": [{"at": 30, "for": 10}]}, id="x",
        )
        self.assertEqual(FaultRule.from_dict(json.loads(json.dumps(rule.to_dict()))), rule)
        self.assertEqual(rule.target.symbols, frozenset({"BTCUSDT"}))

    def test_bad_rules(self) -> None:
        """Nonsense is a FaultError with a message, never another exception."""
        for bad in (
            {"kind": "meteor"}, {"kind": "drop", "probability": 2}, {"kind": "drop", "probability": "x"},
            {"kind": "drop", "probability": True}, {"kind": "latency", "params": {"ms": -1}},
            {"kind": "latency", "params": {"ms": float("nan")}}, {"kind": "latency", "params": {"nope": 1}},
            {"kind": "latency", "params": {"distribution": "cauchy"}}, {"kind": "close", "params": {"code": 1005}},
            {"kind": "close", "params": {"code": "1001"}}, {"kind": "drop", "target": {"direction": "up"}},
            {"kind": "drop", "target": {"connections": ["a"]}}, {"kind": "drop", "target": {"routes": 5}},
            {"kind": "drop", "schedule": {"start_after": -1}}, {"kind": "drop", "schedule": {"timeline": [{"for": 1}]}},
            {"kind": "error", "params": {"kinds": ["not_found"]}}, {"kind": "error", "params": {"kinds": []}},
            {"kind": "bandwidth", "params": {"bytes_per_second": 0}}, {"kind": "dribble", "params": {"chunks": 0}},
            {"kind": "lifetime", "params": {"seconds": 0}}, {"kind": "duplicate", "target": {"direction": "in"}},
            {"probability": 1}, {"kind": "drop", "extra": 1}, [], "drop", {"kind": "drop", "params": []},
        ):
            self.assertRaises(FaultError, FaultRule.from_dict, bad)

    def test_schedule_windows(self) -> None:
        s = Schedule.from_dict({"start_after": 30, "duration": 10})
        self.assertEqual([s.window_at(t) for t in (0, 29.9, 30, 39.9, 40)], [None, None, 0, 0, None])
        s = Schedule.from_dict({"timeline": [{"at": 1, "for": 1}, {"at": 5}]})
        self.assertEqual([s.window_at(t) for t in (0, 1, 2, 4, 5, 1e9)], [None, 0, None, None, 1, 1])

    def test_latency_distributions(self) -> None:
        import random

        uniform = FaultRule.create(LATENCY, params={"ms": 100, "jitter_ms": 50})
        draws = [latency_seconds(uniform, random.Random(i)) for i in range(500)]
        self.assertTrue(all(0.1 <= d <= 0.15 for d in draws))
        tail = FaultRule.create(LATENCY, params={"ms": 100, "jitter_ms": 50, "distribution": "lognormal", "max_ms": 5000})
        draws = sorted(latency_seconds(tail, random.Random(i)) for i in range(2000))
        self.assertTrue(all(0.1 <= d <= 5.0 for d in draws))
        self.assertLess(abs(draws[1000] - 0.15), 0.01)  # median jitter = jitter_ms
        self.assertGreater(draws[-20], 0.5)  # a long tail


class ControllerTests(SynchronousTestCase):
    def test_set_network_conditions(self) -> None:
        ctl = controller()
        ctl.set_network_conditions(latency_ms=200, packet_loss_rate=0.1, error_rate=0.2)
        self.assertEqual(sorted(r.id for r in ctl.rules), ["net.error", "net.latency", "net.loss"])
        self.assertEqual(ctl.network_conditions()["packet_loss_rate"], 0.1)
        ctl.set_network_conditions(latency_ms=200)
        self.assertEqual([r.id for r in ctl.rules], ["net.latency"])
        ctl.set_network_conditions()
        self.assertEqual(ctl.rules, [])
        self.assertFalse(ctl.active)
        self.assertRaises(FaultError, ctl.set_network_conditions, packet_loss_rate=1.5)
        self.assertRaises(FaultError, ctl.set_network_conditions, latency_ms=-1)

    def test_ids(self) -> None:
        ctl = controller()
        a = ctl.add({"kind": "drop"})
        b = ctl.add({"kind": "drop", "id": "mine"})
        c = ctl.add({"kind": "duplicate", "id": "mine"})
        self.assertEqual((a.id, b.id, c.id), ("r1", "mine", "mine"))
        self.assertEqual([r.kind for r in ctl.rules], ["drop", "duplicate"])
        self.assertTrue(ctl.remove("r1"))
        self.assertFalse(ctl.remove("r1"))

    def test_add_all_is_atomic(self) -> None:
        ctl = controller()
        self.assertRaises(FaultError, ctl.add_all, [{"kind": "drop"}, {"kind": "nope"}])
        self.assertEqual(ctl.rules, [])

    def test_decisions_are_keyed(self) -> None:
        """
        A decision depends on (seed, rule, connection, n) only: interleaving traffic on
        other connections changes nothing.
        """
        def decisions(order: list[int], seed: int = 3) -> dict[int, list[bool]]:
            ctl = controller(seed=seed)
            rule = ctl.add({"kind": "drop", "probability": 0.5, "id": "d"})
            installed = ctl.rest_before[0]
            out: dict[int, list[bool]] = {}
            for serial in order:
                out.setdefault(serial, []).append(ctl.roll(installed, serial) is not None)
            return out

        a = decisions([1] * 20 + [2] * 20)
        b = decisions([1, 2] * 20)
        self.assertEqual(a, b)
        self.assertNotEqual(a, decisions([1, 2] * 20, seed=4))

    def test_scenario_timeline(self) -> None:
        clock = Clock()
        ctl = controller(clock)
        rules = ctl.load_scenario({
            "seed": 9, "rules": [{"kind": "latency", "params": {"ms": 50}}],
            "timeline": [{"at": 30, "for": 10, "kind": "drop"}],
        })
        self.assertEqual(ctl.seed, 9)
        drop = [r for r in rules if r.kind == DROP][0]
        self.assertEqual(drop.schedule, Schedule(30.0, 10.0))
        installed = ctl.frame_rules[[i.rule.kind for i in ctl.frame_rules].index(DROP)]
        fired = []
        for t in range(0, 50, 5):
            clock.advance(5 if t else 0)
            fired.append(ctl.roll(installed, 1) is not None)
        self.assertEqual(fired, [False] * 6 + [True, True] + [False] * 2)

    def test_scenario_files(self) -> None:
        d = tempfile.mkdtemp()
        self.addCleanup(lambda: [os.remove(os.path.join(d, f)) for f in os.listdir(d)] and os.rmdir(d))
        with open(os.path.join(d, "s.yaml"), "w") as f:
            f.write("rules:\n  - kind: drop\n    probability: 0.5\ntimeline:\n  - {at: 5, for: 1, kind: reset}\n")
        with open(os.path.join(d, "bad.json"), "w") as f:
            f.write("{nope")
        ctl = controller(scenario_dir=d)
        self.assertEqual([r.kind for r in ctl.load_scenario(os.path.join(d, "s.yaml"))], ["drop", "reset"])
        self.assertEqual(len(ctl.load_scenario("s.yaml", untrusted=True)), 2)
        for bad in ("../s.yaml", "/etc/passwd", os.path.join(d, "s.yaml"), "", "x\x00", "missing.json", "bad.json"):
            self.assertRaises(FaultError, ctl.load_scenario, bad, untrusted=True)
        self.assertRaises(FaultError, controller().load_scenario, "s.yaml", untrusted=True)
        self.assertRaises(FaultError, ctl.load_scenario, {"rules": [{"kind": "drop"}], "nope": 1})
        self.assertEqual(len(ctl.rules), 2, "a bad scenario changes nothing")

    def test_journal_since(self) -> None:
        ctl = controller(journal_size=3)
        rule = FaultRule.create(DROP, id="d")
        for i in range(5):
            ctl.record(rule, i, "x")
        self.assertEqual(ctl.journal_total, 5)
        self.assertEqual([e.connection for e in ctl.journal_entries()], [2, 3, 4])
        self.assertEqual([e.connection for e in ctl.journal_entries(4)], [4])
        self.assertEqual(ctl.journal_entries(9), [])


class WrapperTests(SynchronousTestCase):
    def test_plain_passthrough(self) -> None:
        """With no fault, writes reach the transport at once and no timer exists."""
        clock = Clock()
        wrapper, sink, transport = wrapped(controller(clock))
        wrapper.write(b"abc")
        wrapper.writeSequence([b"d", b"e"])
        self.assertEqual(transport.value(), b"abcde")
        wrapper.dataReceived(b"in")
        self.assertEqual(sink.received, b"in")
        self.assertEqual(clock.getDelayedCalls(), [])
        self.assertEqual(wrapper.connection_serial, 1)

    @given(st.lists(st.tuples(st.binary(min_size=1, max_size=20), st.integers(0, 2000), st.integers(0, 1500)),
                    min_size=1, max_size=25))
    def test_delays_keep_order(self, ops: list[tuple[bytes, int, int]]) -> None:
        """
        With delays only, every byte arrives, in order, and none before its write time
        plus its delay.
        """
        clock = Clock()
        wrapper, _, transport = wrapped(controller(clock))
        expected = b""
        pending: list[tuple[float, int]] = []  # (earliest release, start offset)
        for data, delay_ms, advance_ms in ops:
            wrapper.delay_next(delay_ms / 1000)
            wrapper.write(data)
            wrapper.delay_next(0)
            pending.append((clock.seconds() + delay_ms / 1000, len(expected)))
            expected += data
            clock.advance(advance_ms / 1000)
            got = transport.value()
            self.assertEqual(got, expected[: len(got)])
            for earliest, start in pending:
                if earliest > clock.seconds() + 1e-9:
                    self.assertLessEqual(len(got), start, "a byte arrived before its delay")
                    break
        clock.advance(10)
        self.assertEqual(transport.value(), expected)
        self.assertEqual(clock.getDelayedCalls(), [])

    @settings(max_examples=30)
    @given(st.lists(st.binary(min_size=1, max_size=3000), min_size=1, max_size=6), st.integers(500, 50_000))
    def test_bandwidth(self, writes: list[bytes], bps: int) -> None:
        """At ``bytes_per_second``, n bytes take n/bps seconds, order kept."""
        clock = Clock()
        ctl = controller(clock)
        ctl.add({"kind": "bandwidth", "params": {"bytes_per_second": bps}})
        wrapper, _, transport = wrapped(ctl)
        for data in writes:
            wrapper.write(data)
        total = sum(len(w) for w in writes)
        step = 0.01
        t = 0.0
        while len(transport.value()) < total:
            clock.advance(step)
            t += step
            self.assertLessEqual(len(transport.value()), bps * t + bps / 20 + 1)
            self.assertLess(t, total / bps + 1)
        self.assertEqual(transport.value(), b"".join(writes))
        self.assertEqual(clock.getDelayedCalls(), [])

    def test_response_plan_dribble(self) -> None:
        """A dribbled response comes in N chunks over the duration, after the delay."""
        clock = Clock()
        wrapper, _, transport = wrapped(controller(clock))
        wrapper.arm_response(ResponsePlan(delay=1.0, dribble=(4, 3.0)))
        wrapper.write(b"headers|")
        wrapper.write(b"body....")
        seen = []
        for _ in range(10):
            clock.advance(0.5)
            seen.append(len(transport.value()))
        self.assertEqual(seen, [0, 4, 4, 8, 8, 12, 12, 16, 16, 16])
        self.assertEqual(transport.value(), b"headers|body....")

    def test_cut_half_then_silent(self) -> None:
        clock = Clock()
        wrapper, _, transport = wrapped(controller(clock))
        wrapper.arm_response(ResponsePlan(cut_half=True))
        wrapper.write(b"0123456789")
        wrapper.loseConnection()
        clock.advance(0)
        self.assertEqual(transport.value(), b"01234")
        wrapper.write(b"more")
        clock.advance(100)
        self.assertEqual(transport.value(), b"01234")
        self.assertFalse(transport.disconnecting, "a stalled server never closes")

    def test_close_after_bytes(self) -> None:
        clock = Clock()
        ctl = controller(clock)
        ctl.add({"kind": "close_after", "params": {"bytes": 7}})
        wrapper, _, transport = wrapped(ctl)
        wrapper.write(b"abcd")
        wrapper.write(b"efghij")
        self.assertEqual(transport.value(), b"abcdefg")
        self.assertTrue(transport.disconnecting)
        self.assertEqual([e.kind for e in ctl.journal], ["close_after"])

    def test_lose_connection_waits_for_queue(self) -> None:
        clock = Clock()
        wrapper, _, transport = wrapped(controller(clock))
        wrapper.delay_next(1)
        wrapper.write(b"late")
        wrapper.delay_next(0)
        wrapper.loseConnection()
        self.assertFalse(transport.disconnecting)
        clock.advance(1)
        self.assertEqual(transport.value(), b"late")
        self.assertTrue(transport.disconnecting)

    def test_reset_and_refuse(self) -> None:
        clock = Clock()
        ctl = controller(clock)
        wrapper, _, transport = wrapped(ctl)
        wrapper.delay_next(1)
        wrapper.write(b"queued")
        wrapper.reset()
        self.assertTrue(transport.disconnecting)
        self.assertEqual(clock.getDelayedCalls(), [])
        ctl.add({"kind": "refuse", "schedule": {"duration": 5}})
        second, _, transport2 = wrapped(ctl)
        self.assertTrue(second.dead and transport2.disconnecting)
        clock.advance(5)
        third, _, transport3 = wrapped(ctl)
        self.assertFalse(transport3.disconnecting)
        self.assertEqual([(e.kind, e.connection) for e in ctl.journal], [("refuse", 1)])

    def test_inbound_latency(self) -> None:
        clock = Clock()
        ctl = controller(clock)
        ctl.add({"kind": "latency", "params": {"ms": 300}, "target": {"direction": "in"}})
        wrapper, sink, transport = wrapped(ctl)
        wrapper.dataReceived(b"a")
        wrapper.dataReceived(b"b")
        clock.advance(0.29)
        self.assertEqual(sink.received, b"")
        clock.advance(0.02)
        self.assertEqual(sink.received, b"ab")
        wrapper.write(b"out")
        self.assertEqual(transport.value(), b"out", "direction in leaves outgoing bytes alone")


class _FakeProto:
    """What FaultController.deliver needs of a StreamProtocol."""

    def __init__(self, serial: int) -> None:
        self.serial = serial
        self.sent: list[tuple[Any, float]] = []
        self.held: Any = None

    def send_prepared(self, prepared: Any, delay: float) -> None:
        self.sent.append((prepared, delay))

    def hold(self, prepared: Any, max_seconds: float, delay: float) -> None:
        self.held = (prepared, delay)

    def release_held(self) -> None:
        held, self.held = self.held, None
        if held is not None:
            self.sent.append(held)


class FrameTests(SynchronousTestCase):
    @settings(max_examples=60)
    @given(st.floats(0.0, 1.0), st.integers(1, 400), st.integers(0, 2**32))
    def test_drop_binomial(self, p: float, n: int, seed: int) -> None:
        """
        With drop rate p over n frames, the number dropped is within a binomial bound
        (6 standard deviations) and every frame not dropped arrives intact, in order;
        the journal records each drop.
        """
        ctl = controller(seed=seed)
        ctl.add({"kind": "drop", "probability": p})
        proto = _FakeProto(1)
        frames = [b"frame-%d" % i for i in range(n)]
        for frame in frames:
            ctl.deliver(proto, frame, None, None)  # type: ignore[arg-type]
        delivered = [f for f, _ in proto.sent]
        dropped = n - len(delivered)
        sd = math.sqrt(n * p * (1 - p))
        self.assertLessEqual(abs(dropped - n * p), 6 * sd + 1)
        self.assertEqual(delivered, [f for f in frames if f in set(delivered)])
        self.assertEqual(len(ctl.journal), dropped)

    def test_duplicate_reorder(self) -> None:
        ctl = controller()
        rule = ctl.add({"kind": "duplicate"})
        proto = _FakeProto(1)
        ctl.deliver(proto, "a", None, None)  # type: ignore[arg-type]
        self.assertEqual([f for f, _ in proto.sent], ["a", "a"])
        ctl.remove(rule.id)
        reorder = ctl.add({"kind": "reorder", "probability": 1})
        proto = _FakeProto(2)
        for f in "abcd":
            ctl.deliver(proto, f, None, None)  # type: ignore[arg-type]
        self.assertEqual([f for f, _ in proto.sent], ["b", "a", "d", "c"])
        self.assertEqual(reorder.kind, "reorder")

    def test_same_seed_same_journal(self) -> None:
        def journal(seed: int) -> list[Any]:
            ctl = controller(seed=seed)
            ctl.add({"kind": "drop", "probability": 0.3})
            ctl.add({"kind": "latency", "probability": 0.5, "params": {"ms": 10, "jitter_ms": 90}})
            for serial in (1, 2, 3):
                proto = _FakeProto(serial)
                for i in range(50):
                    ctl.deliver(proto, i, None, None)  # type: ignore[arg-type]
            return [e.to_dict() for e in ctl.journal]

        self.assertEqual(journal(5), journal(5))
        self.assertNotEqual(journal(5), journal(6))

    def test_target_direction_connections(self) -> None:
        ctl = controller()
        ctl.add({"kind": "drop", "target": {"connections": [2]}})
        one, two = _FakeProto(1), _FakeProto(2)
        for proto in (one, two):
            ctl.deliver(proto, "x", None, None)  # type: ignore[arg-type]
        self.assertEqual((len(one.sent), len(two.sent)), (1, 0))
        self.assertEqual(Target.from_dict({"direction": "both"}).inbound(), True)
