"""Several queues as one ``MessageSource``: by priority (every message of ``high`` before
any of ``low``, as node-resque's workers do) or by weight (each queue's share of the takes,
so a busy high queue never starves a low one).

A take asks the queues in order, each without waiting, and fills what the first left
from the next; when they are all empty it long-polls the first for the rest of the wait,
so a message on a lower queue waits at most ``wait`` (the worker's ``poll_wait``) more.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from datetime import timedelta

from ..contracts import Delivery, MessageSource

__all__ = ["QueueSources"]


class QueueSources:
    """Named sources taken from in priority order, or at random weighted by ``weights``."""

    def __init__(
        self,
        sources: Sequence[tuple[str, MessageSource]],
        *,
        weights: Mapping[str, float] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        if not sources:
            raise ValueError("give at least one queue to take from")
        names = [name for name, _ in sources]
        if len(set(names)) != len(names):
            raise ValueError(f"a queue is named twice: {names}")
        if weights is not None:
            unknown = sorted(set(weights) - set(names))
            missing = sorted(set(names) - set(weights))
            if unknown or missing or any(w <= 0 for w in weights.values()):
                raise ValueError(
                    f"give every queue a positive weight and no other (queues {names}, "
                    f"weights {dict(weights)})"
                )
        self.sources = list(sources)
        self.weights = dict(weights) if weights is not None else None
        self._rng = rng or random.Random()

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self.sources]

    def order(self) -> list[tuple[str, MessageSource]]:
        """The queues in the order of this take: as given, or a weighted shuffle."""
        if self.weights is None:
            return list(self.sources)
        left, ordered = list(self.sources), []
        while left:
            total = sum(self.weights[name] for name, _ in left)
            pick = self._rng.uniform(0, total)
            for i, (name, _) in enumerate(left):
                pick -= self.weights[name]
                if pick <= 0 or i == len(left) - 1:
                    ordered.append(left.pop(i))
                    break
        return ordered

    def take(self, max_messages: int, wait: timedelta) -> list[Delivery]:
        order = self.order()
        found: list[Delivery] = []
        asked: set[str] = set()
        for name, source in order:
            if len(found) >= max_messages:
                break
            asked.add(name)
            found += _owned(source, source.take(max_messages - len(found), timedelta(0)))
        if not found and wait > timedelta(0):
            first = order[0][1]
            found = _owned(first, first.take(max_messages, wait))
        # a source sends its finished messages' deletes with its next take (SQLite: in the
        # same transaction); one not asked this time (a busy high queue filled the take)
        # must not keep them waiting past their visibility timeout
        for name, source in self.sources:
            if name not in asked:
                source.flush()
        return found

    def done(self, delivery: Delivery) -> None:
        source, own = _unwrap(delivery)
        source.done(own)

    def later(self, delivery: Delivery, delay: timedelta) -> None:
        source, own = _unwrap(delivery)
        source.later(own, delay)

    def flush(self) -> None:
        for _, source in self.sources:
            source.flush()


def _owned(source: MessageSource, deliveries: list[Delivery]) -> list[Delivery]:
    """The deliveries with their source kept in the handle, to settle them there."""
    return [Delivery(d.message_id, d.body, (source, d.handle)) for d in deliveries]


def _unwrap(delivery: Delivery) -> tuple[MessageSource, Delivery]:
    source, handle = delivery.handle
    return source, Delivery(delivery.message_id, delivery.body, handle)
