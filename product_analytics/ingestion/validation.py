"""The rules a message must pass to enter ``raw.events``; the rest goes to ``raw.quarantine``.

One SQL expression assigns every candidate row a reason code (null when valid) and the
event day it is attributed to. A row without a usable event time (malformed, missing or
unparseable timestamp, too far in the future) is attributed to its file's *home day*:
the first event day of the file's valid rows, else the day the file was written.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

# Reason codes, in the order they are tested: a row gets the first that applies.
REASONS = {
    "unreadable_file": "the whole file cannot be read (truncated or corrupt compression, not the format its name says)",
    "unreadable_line": "the line is not valid UTF-8 text",
    "malformed_json": "the line (or a JSON column) is not valid JSON",
    "not_an_object": "the line is JSON but not an object",
    "missing_message_id": "no messageId / message_id / id",
    "missing_type": "no type",
    "unknown_type": "type is not one of track, page, screen, identify, group, alias",
    "missing_event": "a track without its event name",
    "missing_timestamp": "neither timestamp nor originalTimestamp",
    "unparseable_timestamp": "timestamp, originalTimestamp, sentAt or receivedAt is not a timestamp",
    "future_timestamp": "event time later than receivedAt (or the file's time) plus the allowed clock skew",
    "out_of_range": "an event day no partition holds: before PA_START_DATE, or after the file was written",
    "missing_identity": "neither anonymousId nor userId",
    "oversized_payload": "the message is larger than the allowed size",
    "missing_id": "a source-table row without id",
    "invalid_value": "a source-table value that does not fit its column type",
}
MESSAGE_TYPES = ("track", "page", "screen", "identify", "group", "alias")
EVENT_TIMESTAMPS = ("timestamp", "original_timestamp", "sent_at", "received_at")
# What a quarantined row of a typed format (Parquet, CSV) shows as its raw text.
RAW_EVENT_FIELDS = ("message_id", "type", "event", "anonymous_id", "user_id", *EVENT_TIMESTAMPS, "properties", "traits")
RAW_TEXT_LIMIT = 2000  # characters of the raw text kept in the quarantine


# The event time, corrected for the device's clock as the Segment spec does: the time the
# device spent between recording and sending, taken off the server's receipt. Fallbacks
# (docs/your-data.md): the message's own `timestamp`, else the device's `originalTimestamp`.
EVENT_TIME = """
    case
        when received_at is not null and sent_at is not null and original_timestamp is not null
            then received_at - (sent_at - original_timestamp)
        else coalesce("timestamp", original_timestamp)
    end
"""


@dataclass(frozen=True)
class Rules:
    max_clock_skew_hours: int = 24
    max_message_bytes: int = 32768
    first_day: date | None = None  # the first partition: earlier event days are out of range


def _utc(expr: str) -> str:
    return f"timezone('UTC', try_cast({expr} as timestamptz))"


def _present(expr: str) -> str:
    return f"({expr} is not null and trim({expr}::varchar) <> '')"


def validated_events(candidates_sql: str, rules: Rules, home_date: date, written_at: datetime, typed: frozenset[str] = frozenset()) -> str:
    """Candidate event rows typed, with ``_reason`` and ``_event_date`` (null: attribute to the home day).

    ``home_date`` is the file's home day, ``written_at`` the time the file was written (the
    reference for "future" when receivedAt is absent). ``typed``: the timestamp columns the
    candidates already hold as UTC timestamps (typed formats); the others are text, parsed
    here. ``_raw`` is kept for quarantined rows only: nothing reads it for loaded ones.
    """

    def as_utc(t: str) -> str:
        return f"c.{t}" if t in typed else _utc(f"c.{t}")

    def text_present(t: str) -> str:  # the column held a value (a typed one is never blank)
        return f"(_text_{t} is not null)" if t in typed else _present(f"_text_{t}")

    converted = ", ".join(f"{as_utc(t)} as {t}" for t in EVENT_TIMESTAMPS)
    texts = ", ".join(f"c.{t}{'' if t in typed else '::varchar'} as _text_{t}" for t in EVENT_TIMESTAMPS)
    # a typed value is a timestamp already: it cannot fail to parse
    unparseable = " or ".join(f"({_present('_text_' + t)} and {t} is null)" for t in EVENT_TIMESTAMPS if t not in typed) or "false"
    types = ", ".join(f"'{t}'" for t in MESSAGE_TYPES)
    skew = f"interval {int(rules.max_clock_skew_hours)} hour"
    latest = f"coalesce(received_at, _written_at) + {skew}"
    first_day = f"date '{rules.first_day.isoformat()}'" if rules.first_day else "date '0001-01-01'"
    pairs = ", ".join(f"'{n}', {'_text_' + n if n in EVENT_TIMESTAMPS else n}" for n in RAW_EVENT_FIELDS)
    # Rows out of range belong to no partition: like rows without a usable time, they are
    # attributed to the file's home day, where they are quarantined.
    return f"""
        select * exclude (_raw),
            case when _reason is distinct from 'out_of_range' and "timestamp" <= {latest} then "timestamp"::date end as _event_date,
            case when _reason is not null then coalesce(_raw, json_object({pairs})::varchar) end as _raw
        from (
            select *,
                case
                    when _parse_error is not null then _parse_error
                    when not {_present("message_id")} then 'missing_message_id'
                    when not {_present("type")} then 'missing_type'
                    when type not in ({types}) then 'unknown_type'
                    when type = 'track' and not {_present("event")} then 'missing_event'
                    when not {text_present("timestamp")} and not {text_present("original_timestamp")} then 'missing_timestamp'
                    when coalesce({unparseable}, false) then 'unparseable_timestamp'
                    when "timestamp" > {latest} then 'future_timestamp'
                    when "timestamp"::date < {first_day} or "timestamp" > _written_at + {skew} then 'out_of_range'
                    when not {_present("anonymous_id")} and not {_present("user_id")} then 'missing_identity'
                    when _bytes > {int(rules.max_message_bytes)} then 'oversized_payload'
                end as _reason
            from (
                select * replace ({EVENT_TIME} as "timestamp")
                from (
                    select c.* exclude ({", ".join(EVENT_TIMESTAMPS)}), {converted}, {texts},
                        '{home_date.isoformat()}'::date as _home_date, '{written_at.isoformat(sep=" ")}'::timestamp as _written_at
                    from ({candidates_sql}) as c
                )
            )
        )
    """


def validated_table(candidates_sql: str, columns: dict[str, str]) -> str:
    """Candidate source-table rows typed, with ``_reason`` (every value must fit its column)."""
    cast = {name: _utc(f"c.{name}") if kind == "timestamp" else f"try_cast(c.{name} as {kind})" for name, kind in columns.items()}
    typed = ", ".join(f"{expr} as {name}" for name, expr in cast.items())
    invalid = " or ".join(f"({_present('c.' + name)} and {expr} is null)" for name, expr in cast.items())
    pairs = ", ".join(f"'{name}', _text_{name}" for name in columns)
    return f"""
        select * exclude (_raw), coalesce(_raw, case when _reason is not null then json_object({pairs})::varchar end) as _raw
        from (
            select *,
                case
                    when _parse_error is not null then _parse_error
                    when not {_present("id")} then 'missing_id'
                    when _invalid then 'invalid_value'
                end as _reason
            from (
                select c.* exclude ({", ".join(columns)}), {typed}, coalesce({invalid}, false) as _invalid,
                    {", ".join(f"c.{name}::varchar as _text_{name}" for name in columns)}
                from ({candidates_sql}) as c
            )
        )
    """
