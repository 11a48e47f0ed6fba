"""DateTime output: always UTC, whatever offset the value carries."""

from datetime import datetime, timedelta, timezone

from app.schema.scalars import serialize_datetime


def test_output_is_utc_for_any_offset_and_the_same_for_the_same_instant() -> None:
    utc = datetime(2026, 3, 1, 17, 30, tzinfo=timezone.utc)
    paris = utc.astimezone(timezone(timedelta(hours=1)))
    assert serialize_datetime(utc) == serialize_datetime(paris) == "2026-03-01T17:30:00+00:00"
    assert serialize_datetime(utc + timedelta(microseconds=250)) == "2026-03-01T17:30:00.000250+00:00"
    later = datetime(2026, 3, 1, 19, 30, tzinfo=timezone(timedelta(hours=2)))
    assert serialize_datetime(later) == "2026-03-01T17:30:00+00:00", "formatted texts are kept by instant, in UTC"
