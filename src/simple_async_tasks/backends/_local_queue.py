"""What the queues this library hosts itself (memory, SQLite) share: SQS's limits, checked
before anything is queued, and parcels stored as the JSON bodies SQS would carry."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import cattrs

from .._limits import check_body_size, check_delay
from ..parcel import TaskParcel, encode_parcel, fits_without_encoding
from ..task import AsyncTask


class LocalQueue:
    """Base of ``InMemoryTaskQueue`` and ``SqliteTaskQueue``: they implement ``push_bodies``."""

    _url: str
    _converter: cattrs.Converter
    _max_delay: timedelta
    _max_body_bytes: int

    @property
    def queue_url(self) -> str:
        return self._url

    @property
    def max_delay(self) -> timedelta:
        return self._max_delay

    def _encode(self, parcel: TaskParcel[AsyncTask], delay: timedelta) -> str:
        check_delay(delay, self._max_delay, queue=self._url)
        body = encode_parcel(parcel, self._converter)
        check_body_size(body, self._max_body_bytes, queue=self._url)
        return body

    def check(self, parcel: TaskParcel[AsyncTask], *, delay: timedelta = timedelta(0)) -> None:
        """Raise ``QueueLimitError`` if the push of this parcel (or of the task the DAO
        stores from it) would be refused; encodes it only when its size is in doubt."""
        if fits_without_encoding(parcel, self._max_body_bytes, self._converter):
            check_delay(delay, self._max_delay, queue=self._url)
        else:
            self._encode(parcel, delay)

    def push(self, parcel: TaskParcel[AsyncTask], *, delay: timedelta = timedelta(0)) -> None:
        self.push_bodies([self._encode(parcel, delay)], delay=delay)

    def push_many(
        self, parcels: Sequence[TaskParcel[AsyncTask]], *, delay: timedelta = timedelta(0)
    ) -> None:
        """Check and encode every parcel first, then queue them all."""
        self.push_bodies([self._encode(p, delay) for p in parcels], delay=delay)

    def push_bodies(self, bodies: Sequence[str], *, delay: timedelta = timedelta(0)) -> None:
        """Queue raw message bodies (tests use it to send malformed input)."""
        raise NotImplementedError
