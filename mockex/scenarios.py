"""
Scenarios set while a server runs: a price shock, a trend or a volatility regime for a
period, a frozen market, a gap in the data.

A scenario takes effect at the next whole second of market time (never before anything
already served) and never changes the past. It is kept as a time-indexed overlay on a
market's candle tree: a list of :class:`Segment` values, each mapping the model's
price ``x`` at time ``t`` inside it to ``A * x**k * exp(mu * (t - start) / day)`` (or a
constant, when frozen). Nodes before the first segment are the model's own. A node
entirely inside one segment is the segment's map of the model's node (its children are
then split from it by the model, so aggregation stays exact); a node with a segment
boundary strictly inside it is *spliced*: the aggregate of its children, each of which
is resolved the same way. The live candle is therefore continuous at the switch: the
seconds before it are unchanged. Segments are chained so that the price is continuous
at every boundary, except for a shock (a jump at its instant) and the end of a gap
(the market resumes where the model got to).
"""

from __future__ import annotations

import math

from attrs import evolve, frozen

from mockex.intervals import DAY_MS, SECOND_MS

KINDS = ("shock", "trend", "volatility", "freeze", "gap")


@frozen
class Scenario:
    """What was asked: ``kind``, its ``value`` and period, as set at ``start_ms``."""

    kind: str
    start_ms: int
    #: shock: percent (-10 = down 10 %); trend: percent per day; volatility: multiplier
    value: float = 0.0
    #: the period's length (None: until another scenario replaces it)
    duration_ms: int | None = None

    @property
    def end_ms(self) -> int | None:
        return None if self.duration_ms is None else self.start_ms + self.duration_ms


@frozen
class Segment:
    """One piece of the overlay: ``[start_ms, end_ms)`` and its price map."""

    start_ms: int
    end_ms: int | None
    a: float = 1.0
    k: float = 1.0
    mu: float = 0.0
    frozen: bool = False
    #: the constant price (ticks) of a frozen segment
    price: int = 0
    gap: bool = False
    #: added to trade ids (frozen periods have no trades)
    id_offset: int = 0

    def contains(self, start_ms: int, end_ms: int) -> bool:
        return self.start_ms <= start_ms and (self.end_ms is None or end_ms <= self.end_ms)

    def factor(self, t_ms: int) -> float:
        return self.a * math.exp(self.mu * (t_ms - self.start_ms) / DAY_MS) if self.mu else self.a

    def price_at(self, t_ms: int, base: int) -> float:
        """The mapped price (ticks, unrounded) of a base price at ``t_ms``."""
        if self.frozen:
            return float(self.price)
        return self.factor(t_ms) * base**self.k

    def map(self, node: tuple, start_ms: int, end_ms: int) -> tuple:
        """The node as this segment shows it."""
        if self.frozen:
            p = self.price
            var = node[10] if len(node) > 10 else 0.0
            return (p, p, p, p, 0, 0, 0, 0, 0, node[9] + self.id_offset, var, 0)
        o, h, low, c, v, q, n, tb, tq, first = node[:10]
        fa = self.factor(start_ms)
        fb = self.factor(end_ms)
        k = self.k
        o2 = max(1, round(fa * o**k))
        c2 = max(1, round(fb * c**k))
        h2 = max(o2, c2, round(max(fa, fb) * h**k))
        l2 = max(1, min(o2, c2, round(min(fa, fb) * low**k)))
        ratio = (o2 + h2 + l2 + c2) / (o + h + low + c)
        q2 = round(q * ratio)
        tq2 = min(q2, round(tq * ratio))
        rest = tuple(node[10:])
        if rest:
            rest = (rest[0] * k * k,) + rest[1:]
        return (o2, h2, l2, c2, v, q2, n, tb, tq2, first + self.id_offset) + rest


def plan(
    segments: list[Segment],
    scenario: Scenario,
    base_price: "callable",
    base_trades: "callable",
) -> list[Segment]:
    """
    The overlay after ``scenario``: ``segments`` cut at its start, then its own.
    ``base_price(t)`` is the model's price (ticks) at whole second ``t``;
    ``base_trades(a, b)`` the model's trade count in ``[a, b)``.
    """
    t0 = scenario.start_ms
    if t0 % SECOND_MS:
        raise ValueError("a scenario starts on a whole second")
    kept = []
    current = Segment(t0, None)
    for seg in segments:
        if seg.start_ms >= t0:
            if seg.start_ms == t0:
                current = seg
            continue
        if seg.end_ms is None or seg.end_ms > t0:
            current = seg
            seg = evolve(seg, end_ms=t0)
        kept.append(seg)
    if current.end_ms is not None and current.end_ms <= t0:
        current = Segment(t0, None, id_offset=current.id_offset)
    base0 = base_price(t0)
    price0 = current.price_at(t0, base0)
    offset = current.id_offset
    if current.frozen and current.start_ms < t0:
        # a freeze cut short: the trades it removed so far are gone for good
        offset -= base_trades(current.start_ms, t0)
    kind = scenario.kind
    end = scenario.end_ms
    if kind == "shock":
        # Keep whatever regime runs, and scale its price map from now on.
        m = 1.0 + scenario.value / 100.0
        if not m > 0:
            raise ValueError("a shock cannot take the price to zero or below")
        tail = [evolve(current, start_ms=t0, end_ms=None)]
        if current.end_ms is not None and current.end_ms > t0:
            tail = [evolve(current, start_ms=t0)] + [s for s in segments if s.start_ms >= current.end_ms]
        out = []
        for seg in tail:
            if seg.frozen:
                out.append(evolve(seg, price=max(1, round(seg.price * m))))
            elif seg.start_ms == t0 and seg.mu:
                # re-anchor the trend at t0 so its factor stays continuous
                out.append(evolve(seg, a=seg.factor(t0) * m, start_ms=t0))
            else:
                out.append(evolve(seg, a=seg.a * m))
        return kept + out
    if kind == "trend":
        seg = Segment(t0, end, a=price0 / base0, mu=math.log1p(scenario.value / 100.0), id_offset=offset)
    elif kind == "volatility":
        if not scenario.value > 0:
            raise ValueError("a volatility multiplier must be positive")
        k = float(scenario.value)
        seg = Segment(t0, end, a=price0 / base0**k, k=k, id_offset=offset)
    elif kind in ("freeze", "gap"):
        seg = Segment(t0, end, frozen=True, price=max(1, round(price0)), gap=kind == "gap", id_offset=offset)
    else:
        raise ValueError(f"unknown scenario {kind!r}; known: {', '.join(KINDS)}")
    out = kept + [seg]
    if end is not None:
        base1 = base_price(end)
        price1 = seg.price_at(end, base1)
        if seg.frozen:
            offset -= base_trades(t0, end)
        if seg.gap:
            # After an outage the market resumes where it got to meanwhile.
            price1 = Segment(t0, None, a=price0 / base0).price_at(end, base1)
        out.append(Segment(end, None, a=price1 / base1, id_offset=offset))
    return out
