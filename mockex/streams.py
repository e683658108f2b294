"""
Live candle feeds and their fan-out to WebSocket subscribers.

One :class:`StreamHub` per server. A feed (market, interval, offset) is ticking only
while some connection subscribes to it. Each tick computes the candle once, each topic
(a venue's formatting of the feed) renders it once, the hub prepares the WebSocket
frame once, and every subscriber of that topic gets the same prepared frame: the cost
of an update is O(topics) serializations plus O(subscribers) buffer writes.

Ticks fall on a grid of the venue's update period (Binance: 2 s, 1 s for ``1s``) in
market time. A candle that closes is pushed with ``closed=True`` exactly once per
subscriber that followed it; if the clock jumps over several candles, each skipped
candle's close is pushed in order (at most :data:`MAX_CATCH_UP`).
"""

from __future__ import annotations

from typing import Any, Callable, Protocol

from attrs import define, field
from twisted.internet.interfaces import IDelayedCall

from mockex.clock import MarketClock
from mockex.interfaces import CandleUpdate, Feed, ITopic
from mockex.intervals import Interval
from mockex.market import CandleSource

#: Most closed candles pushed at once when the clock has jumped.
MAX_CATCH_UP = 1000


class Subscriber(Protocol):
    """
    A connection as the hub sees it. It may also have ``deliver_many(items)``: send
    ``(prepared, topic, update)`` items in order, as that many ``deliver`` calls would
    (see :meth:`StreamHub._broadcast_many`).
    """

    def deliver(self, prepared: Any, topic: ITopic | None = None, update: CandleUpdate | None = None) -> None:
        """Send one prepared message (carrying ``update`` on ``topic``)."""


@define(eq=False)
class _FeedState:
    feed: Feed
    period_ms: int
    #: topic -> ordered set of subscribers
    topics: dict[ITopic, dict[Subscriber, None]] = field(factory=dict)
    last_open: int | None = None
    call: IDelayedCall | None = None


class StreamHub:
    """Subscriptions, feed timers and broadcast for one server."""

    def __init__(
        self,
        clock: MarketClock,
        source: CandleSource,
        period_ms: Callable[[Interval], int],
        prepare: Callable[..., Any],
    ) -> None:
        self.clock = clock
        self.source = source
        self._period_ms = period_ms
        self._prepare = prepare
        self._feeds: dict[Feed, _FeedState] = {}

    @property
    def active_feeds(self) -> list[Feed]:
        return list(self._feeds)

    def subscribers(self, topic: ITopic) -> int:
        state = self._feeds.get(topic.feed)
        return len(state.topics.get(topic, ())) if state else 0

    def subscribe(self, subscriber: Subscriber, topic: ITopic) -> None:
        feed = topic.feed
        state = self._feeds.get(feed)
        if state is None:
            period = self._period_ms(feed.interval)
            state = self._feeds[feed] = _FeedState(feed, period)
            self._schedule(state, self.clock.now_ms())
        state.topics.setdefault(topic, {})[subscriber] = None

    def unsubscribe(self, subscriber: Subscriber, topic: ITopic) -> None:
        state = self._feeds.get(topic.feed)
        if state is None:
            return
        members = state.topics.get(topic)
        if members is None:
            return
        members.pop(subscriber, None)
        if not members:
            del state.topics[topic]
        if not state.topics:
            self._retire(state)

    def stop(self) -> None:
        """Cancel every timer and forget every subscription."""
        for state in list(self._feeds.values()):
            self._retire(state)

    def _retire(self, state: _FeedState) -> None:
        if state.call is not None and state.call.active():
            state.call.cancel()
        state.call = None
        self._feeds.pop(state.feed, None)

    def _schedule(self, state: _FeedState, after_ms: int) -> None:
        period = state.period_ms
        due = (after_ms // period + 1) * period
        state.call = self.clock.call_at(due, self._tick, state, due)

    def _tick(self, state: _FeedState, due_ms: int) -> None:
        state.call = None
        # The reactor may run a little late (or, in floating point, a hair early):
        # the tick belongs to the grid point it was scheduled for, or later.
        now = max(due_ms, self.clock.now_ms())
        feed = state.feed
        interval, offset = feed.interval, feed.offset_ms
        current = interval.floor(now, offset)
        candles = []
        last = state.last_open
        if last is not None and current != last:
            missed = interval.count_between(last, interval.shift(current, -1, offset), offset)
            first = last if missed <= MAX_CATCH_UP else interval.shift(current, -MAX_CATCH_UP, offset)
            candles.extend(
                self.source.candles(feed.market, interval, first, min(missed, MAX_CATCH_UP), now, offset)
            )
        if last is None or now != current:
            live = self.source.candle(feed.market, interval, current, now, offset)
            if live is not None:
                candles.append(live)
        state.last_open = current
        if len(candles) == 1:
            self._broadcast(state, CandleUpdate(feed, candles[0], now))
        elif candles:
            self._broadcast_many(state, [CandleUpdate(feed, candle, now) for candle in candles])
        if state.feed in self._feeds:
            self._schedule(state, now)

    def _prepared(self, topic: ITopic, update: CandleUpdate) -> Any:
        """``update`` as ``topic`` renders it, prepared once; None if it has nothing to say."""
        payload = topic.render(update)
        if payload is None:
            return None
        # A binary topic (ITopic.binary) is prepared as a binary frame.
        return self._prepare(payload, True) if getattr(topic, "binary", False) else self._prepare(payload)

    def _broadcast(self, state: _FeedState, update: CandleUpdate) -> None:
        for topic, members in list(state.topics.items()):
            if not members:
                continue
            prepared = self._prepared(topic, update)
            if prepared is None:
                continue
            for subscriber in list(members):
                subscriber.deliver(prepared, topic, update)

    def _broadcast_many(self, state: _FeedState, updates: list[CandleUpdate]) -> None:
        """
        Several updates of one tick (a candle's close and the next candle, or a clock
        jump's catch-up): every subscriber gets its messages in the order that
        :meth:`_broadcast` of each update in turn would send them, but all of them at
        once (``deliver_many``: one write per connection where it can), so that the
        last subscriber does not wait for the first update to reach everyone before
        the second starts (at 10,000 subscribers, a candle's close took twice as long
        as any other tick).
        """
        topics = [(topic, members) for topic, members in state.topics.items() if members]
        if len(topics) == 1:
            # The usual case, one topic: its items are the same for every subscriber,
            # and nothing is allocated per subscriber (at 10,000, lists kept per
            # subscriber until the end set off a full garbage collection of some
            # 0.5 s in the middle of a tick).
            topic, members = topics[0]
            items = []
            for update in updates:
                prepared = self._prepared(topic, update)
                if prepared is not None:
                    items.append((prepared, topic, update))
            if items:
                for subscriber in list(members):
                    self._deliver_items(subscriber, items)
            return
        # Several topics: a subscriber of more than one gets its messages update by
        # update, as _broadcast would send them.
        pending: dict[Subscriber, list[tuple[Any, ITopic, CandleUpdate]]] = {}
        for update in updates:
            for topic, members in list(state.topics.items()):
                if not members:
                    continue
                prepared = self._prepared(topic, update)
                if prepared is None:
                    continue
                item = (prepared, topic, update)
                for subscriber in members:
                    queue = pending.get(subscriber)
                    if queue is None:
                        pending[subscriber] = [item]
                    else:
                        queue.append(item)
        for subscriber, queued in pending.items():
            self._deliver_items(subscriber, queued)

    @staticmethod
    def _deliver_items(subscriber: Subscriber, items: list[tuple[Any, ITopic, CandleUpdate]]) -> None:
        many = getattr(subscriber, "deliver_many", None)
        if many is not None:
            many(items)
        else:
            for prepared, topic, update in items:
                subscriber.deliver(prepared, topic, update)
