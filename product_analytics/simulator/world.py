"""The population of the simulated product and the state of its operational database.

Everything about a person is a closed-form function of (seed, person id): when
they arrive, whether and when they sign up, their devices, country, plan
changes, deletion. Who is active on a day is a pure function of (seed, day).
That is what makes any day reproducible on its own, in any order.

Person ids are ``cohort_day << 24 | k``: the k-th visitor first seen on
``cohort_day`` (days counted from the simulation's epoch).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from product_analytics.simulator import catalog
from product_analytics.simulator.hashing import combine, hash64, hex_ids, uniform

DAY_MS = 86_400_000
NEVER = np.int64(2**60)  # a day index or a time in ms that nothing reaches
PERSON_BITS = 24
MAX_AGE_DAYS = 90  # visitors older than this no longer come back
MAX_DEVICE_OFFSET_DAYS = 60
MAX_SIGNUP_DELAY_DAYS = 30


INCIDENT_KINDS = ("traffic", "orders")


@dataclass(frozen=True)
class Incident:
    """A day on which the product misbehaves, to try the metric alerts on: ``traffic`` multiplies
    the chance that a returning visitor comes back that day, ``orders`` the rate of orders
    (0.3: a drop of 70%, 2: a spike). New visitors, sign-ups and new devices still show up."""

    day: date
    kind: str
    factor: float

    @classmethod
    def parse(cls, text: str) -> Incident:
        """``2026-09-20:traffic:0.3`` (day, kind, factor)."""
        parts = text.strip().split(":")
        try:
            day, kind, factor = date.fromisoformat(parts[0]), parts[1], float(parts[2])
        except (IndexError, ValueError) as exc:
            raise ValueError(f"incident {text!r} is not DAY:KIND:FACTOR (e.g. 2026-09-20:traffic:0.3)") from exc
        if len(parts) != 3 or kind not in INCIDENT_KINDS or factor < 0:
            raise ValueError(f"incident {text!r}: KIND is one of {', '.join(INCIDENT_KINDS)} and FACTOR a number >= 0")
        return cls(day, kind, factor)


@dataclass(frozen=True)
class SimulationConfig:
    """Knobs of the simulator. Rates are documented in docs/simulator.md."""

    seed: int = 42
    epoch: date = date(2026, 9, 1)
    daily_users: int = 500  # approximate active visitors per day once the product is mature
    duplicate_rate: float = 0.01
    offline_session_rate: float = 0.12  # mobile sessions sent later in one batch
    multi_day_offline_share: float = 0.25  # of those, delivered one or more days later
    missing_join_id_rate: float = 0.2  # invite_accepted / shared_link_opened without their id
    skewed_device_rate: float = 0.15
    incident: Incident | None = None  # a drop or spike on one day (docs/simulator.md)

    @property
    def arrivals_per_day(self) -> int:
        return max(4, round(self.daily_users / 6.5))

    def epoch_ms(self) -> int:
        return int(datetime(self.epoch.year, self.epoch.month, self.epoch.day, tzinfo=UTC).timestamp()) * 1000

    def day_index(self, day: date) -> int:
        return (day - self.epoch).days

    def day_start_ms(self, day_index: int) -> int:
        return self.epoch_ms() + day_index * DAY_MS

    def incident_factor(self, day_index: int, kind: str) -> float:
        """The incident's factor on ``day_index`` for ``kind``, 1 on every other day."""
        hit = self.incident is not None and self.incident.kind == kind and self.day_index(self.incident.day) == day_index
        return self.incident.factor if hit else 1.0


def arrivals_on(cfg: SimulationConfig, day_index: np.ndarray | int) -> np.ndarray:
    """New visitors per day: a weekend lift and a slow growth of the product."""
    d = np.asarray(day_index, dtype=np.int64)
    weekday = (np.asarray(cfg.epoch.weekday()) + d) % 7
    lift = np.where(weekday >= 5, 1.15, 1.0) * (1.0 + 0.002 * np.clip(d, 0, None))
    return np.where(d >= 0, np.round(cfg.arrivals_per_day * lift), 0).astype(np.int64)


def person_ids(cohorts: np.ndarray, ks: np.ndarray) -> np.ndarray:
    return (cohorts.astype(np.uint64) << np.uint64(PERSON_BITS)) | ks.astype(np.uint64)


def cohort_members(cfg: SimulationConfig, first_cohort: int, last_cohort: int) -> tuple[np.ndarray, np.ndarray]:
    """(cohort day, k) of every visitor who arrived in the inclusive cohort range."""
    first_cohort = max(first_cohort, 0)
    if last_cohort < first_cohort:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    days = np.arange(first_cohort, last_cohort + 1, dtype=np.int64)
    sizes = arrivals_on(cfg, days)
    cohorts = np.repeat(days, sizes)
    starts = np.repeat(np.cumsum(sizes) - sizes, sizes)
    ks = np.arange(len(cohorts), dtype=np.int64) - starts
    return cohorts, ks


def _pick(u: np.ndarray, weights: list[float]) -> np.ndarray:
    cum = np.cumsum(weights) / np.sum(weights)
    return np.minimum(np.searchsorted(cum, u, side="right"), len(weights) - 1).astype(np.int64)


def _exp_days(u: np.ndarray, mean: float) -> np.ndarray:
    return -np.log1p(-u) * mean


def special_start_ms(cfg: SimulationConfig, pid: np.ndarray, day_index: np.ndarray) -> np.ndarray:
    """Start of a person's first session on a day that matters (arrival, sign-up, new device)."""
    u = uniform(cfg.seed, "special_start", combine(pid, day_index))
    seconds = 6 * 3600 + u * 15.5 * 3600
    return cfg.day_start_ms(0) + day_index.astype(np.int64) * DAY_MS + (seconds * 1000).astype(np.int64)


def lifecycle(cfg: SimulationConfig, cohorts: np.ndarray, ks: np.ndarray) -> dict[str, np.ndarray]:
    """The cheap attributes needed to decide who is active: propensity, sign-up, devices."""
    pid = person_ids(cohorts, ks)
    s = cfg.seed
    u_prop = uniform(s, "propensity", pid)
    propensity = np.select([u_prop < 0.2, u_prop < 0.7], [2.4, 1.0], 0.35)
    channel = _pick(uniform(s, "channel", pid), catalog.CHANNEL_WEIGHTS)
    referred = channel == catalog.REFERRAL
    is_signup = uniform(s, "signs_up", pid) < np.where(referred, 0.7, 0.55)
    u_delay = uniform(s, "signup_delay", pid)
    delay = np.where(
        (u_delay < 0.5) & ~referred,
        0,
        1 + np.minimum(_exp_days(np.clip(u_delay * 2 - 1, 0, 0.999999), 4.0), MAX_SIGNUP_DELAY_DAYS - 1).astype(np.int64),
    )
    signup_day = np.where(is_signup, cohorts + delay, NEVER)
    u_dev = uniform(s, "devices", pid)
    n_devices = np.where(is_signup, np.select([u_dev < 0.55, u_dev < 0.9], [1, 2], 3), 1)
    off1 = 1 + (_exp_days(uniform(s, "device1_day", pid), 8.0)).astype(np.int64)
    off2 = 1 + (_exp_days(uniform(s, "device2_day", pid), 8.0)).astype(np.int64)
    dev1 = np.where(n_devices >= 2, signup_day + np.minimum(off1, MAX_DEVICE_OFFSET_DAYS // 2), NEVER)
    dev2 = np.where(n_devices >= 3, dev1 + np.minimum(off2, MAX_DEVICE_OFFSET_DAYS // 2), NEVER)
    return {
        "pid": pid,
        "cohort": cohorts,
        "propensity": propensity,
        "channel": channel,
        "is_signup": is_signup,
        "signup_day": signup_day,
        "n_devices": n_devices,
        "device_day": np.stack([cohorts, dev1, dev2], axis=1),
    }


def profile(cfg: SimulationConfig, life: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The rest of a person: platforms, clocks, country and the history of their user row."""
    pid = life["pid"]
    s = cfg.seed
    out = dict(life)
    platforms = np.stack([_pick(uniform(s, f"platform{k}", pid), catalog.PLATFORM_WEIGHTS) for k in range(3)], axis=1)
    skew_class = uniform(s, "skew_class", pid)
    skews = []
    for k in range(3):
        u = uniform(s, f"skew{k}", pid) * 2 - 1
        magnitude = np.select(
            [skew_class < 1 - cfg.skewed_device_rate, skew_class < 1 - cfg.skewed_device_rate / 5],
            [1_500, 25 * 60_000],
            6 * 3_600_000,
        )
        skews.append((u * magnitude).astype(np.int64))
    out["platform"] = platforms
    out["skew_ms"] = np.stack(skews, axis=1)
    out["country"] = _pick(uniform(s, "country", pid), catalog.COUNTRY_WEIGHTS)
    signed = life["is_signup"]
    created = np.where(signed, special_start_ms(cfg, pid, np.where(signed, life["signup_day"], 0)), NEVER)
    out["created_ms"] = created

    def change_after(start: np.ndarray, stream: str, prob: float, mean_days: float) -> np.ndarray:
        happens = signed & (uniform(s, stream, pid) < prob)
        delta = _exp_days(uniform(s, stream + "_at", pid), mean_days) * DAY_MS
        return np.where(happens & (start < NEVER), start + 60_000 + delta.astype(np.int64), NEVER)

    out["country_change_ms"] = change_after(created, "country_change", 0.08, 20)
    out["new_country"] = (out["country"] + 1 + (uniform(s, "new_country", pid) * 9).astype(np.int64)) % 10
    out["upgrade_ms"] = change_after(created, "upgrade", 0.22, 8)
    out["downgrade_ms"] = change_after(out["upgrade_ms"], "downgrade", 0.3, 15)
    out["email_change_ms"] = change_after(created, "email_change", 0.05, 25)
    out["deleted_ms"] = change_after(created, "user_deleted", 0.03, 30)
    return out


def user_ids(cfg: SimulationConfig, pid: np.ndarray) -> pa.Array:
    return hex_ids(hash64(cfg.seed, "user_id", pid), "u_")


def anonymous_ids(cfg: SimulationConfig, pid: np.ndarray, device: np.ndarray) -> pa.Array:
    return hex_ids(hash64(cfg.seed, "anonymous_id", (pid << np.uint64(2)) | device.astype(np.uint64)))


@lru_cache(maxsize=4)
def active_on(cfg: SimulationConfig, day_index: int) -> dict[str, np.ndarray]:
    """Profiles of everyone active on a day: all of that day's arrivals, returning visitors
    drawn by a decaying retention curve, and anyone whose sign-up or new device falls on it."""
    cohorts, ks = cohort_members(cfg, day_index - MAX_AGE_DAYS, day_index)
    life = lifecycle(cfg, cohorts, ks)
    age = day_index - cohorts
    p_return = np.minimum(0.9, 0.42 * life["propensity"] * np.maximum(age, 1) ** -0.55 * cfg.incident_factor(day_index, "traffic"))
    u = uniform(cfg.seed, "active", combine(life["pid"], day_index))
    forced = (age == 0) | (life["signup_day"] == day_index) | (life["device_day"][:, 1:] == day_index).any(axis=1)
    keep = forced | (u < p_return)
    people = profile(cfg, {k: v[keep] for k, v in life.items()})
    alive = people["deleted_ms"] >= cfg.day_start_ms(day_index)
    return {k: v[alive] for k, v in people.items()}


def identified_from_day(people: dict[str, np.ndarray]) -> np.ndarray:
    """Per person and device: the first day on which that device carries the user id."""
    days = people["device_day"].copy()
    days[:, 0] = people["signup_day"]
    return days


# ---------------------------------------------------------------- operational tables


def post_count(cfg: SimulationConfig, day_index: int) -> int:
    """How many posts are written on a day; cheap, so viewers can pick from recent posts."""
    if day_index < 2:
        return 0
    ramp = min(1.0, day_index / 14)
    return int(np.random.default_rng([cfg.seed, day_index, 100]).poisson(0.04 * cfg.daily_users * ramp))


def post_keys(day_index: int, n: int) -> np.ndarray:
    return (np.uint64(day_index) << np.uint64(PERSON_BITS)) | np.arange(n, dtype=np.uint64)


@lru_cache(maxsize=64)
def posts_created_on(cfg: SimulationConfig, day_index: int) -> dict[str, np.ndarray]:
    """Posts written on a day, by signed-up users active that day (the creators' sessions
    that emit ``post_created`` are generated from this same list)."""
    people = active_on(cfg, day_index)
    eligible = np.flatnonzero(people["signup_day"] < day_index)
    rng = np.random.default_rng([cfg.seed, day_index, 101])
    n = post_count(cfg, day_index) if len(eligible) else 0
    creators = rng.choice(eligible, size=n) if n else np.empty(0, np.int64)
    created = cfg.day_start_ms(day_index) + rng.integers(2 * 3600_000, 21 * 3600_000, size=n)
    key = post_keys(day_index, n)
    u = lambda stream: uniform(cfg.seed, stream, key)
    edited = np.where(u("post_edit") < 0.3, created + (_exp_days(u("post_edit_at"), 2) * DAY_MS).astype(np.int64), NEVER)
    hidden = np.where(u("post_hide") < 0.1, created + (_exp_days(u("post_hide_at"), 6) * DAY_MS).astype(np.int64), NEVER)
    deleted = np.where(u("post_delete") < 0.1, created + (_exp_days(u("post_delete_at"), 4) * DAY_MS).astype(np.int64), NEVER)
    return {
        "key": key,
        "creator_pid": people["pid"][creators],
        "created_ms": created.astype(np.int64),
        "edited_ms": edited,
        "hidden_ms": hidden,
        "deleted_ms": deleted,
        "length": 20 + (u("post_length") * 400).astype(np.int64),
    }


@lru_cache(maxsize=64)
def orders_created_on(cfg: SimulationConfig, day_index: int) -> dict[str, np.ndarray]:
    """Orders placed on a day; each is the ``order_completed`` of a buyer's session that day."""
    people = active_on(cfg, day_index)
    eligible = np.flatnonzero(people["signup_day"] < day_index)
    rng = np.random.default_rng([cfg.seed, day_index, 202])
    n = rng.poisson(0.08 * cfg.incident_factor(day_index, "orders") * len(eligible)) if len(eligible) else 0
    buyers = rng.choice(eligible, size=n) if n else np.empty(0, np.int64)
    created = cfg.day_start_ms(day_index) + rng.integers(1 * 3600_000, 22 * 3600_000, size=n)
    product = rng.integers(0, len(catalog.PRODUCTS), size=n)
    quantity = 1 + rng.poisson(0.4, size=n)
    key = (np.uint64(day_index) << np.uint64(PERSON_BITS)) | np.arange(n, dtype=np.uint64)
    u = lambda stream: uniform(cfg.seed, stream, key)
    hours = lambda stream, mean: (_exp_days(u(stream), mean / 24) * DAY_MS).astype(np.int64) + 60_000
    cancelled = u("order_cancel") < 0.1
    preparing = created + hours("order_preparing", 2)
    shipped = preparing + hours("order_shipped", 20)
    delivered = shipped + hours("order_delivered", 48)
    cancelled_at = created + hours("order_cancelled", 5)
    return {
        "key": key,
        "buyer_pid": people["pid"][buyers],
        "created_ms": created.astype(np.int64),
        "product": product,
        "revenue": np.round(catalog.PRODUCT_PRICES[product] * quantity, 2),
        "preparing_ms": np.where(cancelled, NEVER, preparing),
        "shipped_ms": np.where(cancelled, NEVER, shipped),
        "delivered_ms": np.where(cancelled, NEVER, delivered),
        "cancelled_ms": np.where(cancelled, cancelled_at, NEVER),
    }


def post_ids(cfg: SimulationConfig, key: np.ndarray) -> pa.Array:
    return hex_ids(hash64(cfg.seed, "post_id", key), "p_")


def order_ids(cfg: SimulationConfig, key: np.ndarray) -> pa.Array:
    return hex_ids(hash64(cfg.seed, "order_id", key), "o_")


def _ts(ms: np.ndarray) -> pa.Array:
    ms = np.asarray(ms, dtype=np.int64)
    return pa.array(ms, type=pa.timestamp("ms"), mask=ms >= NEVER)


def users_table(cfg: SimulationConfig, day_index: int) -> pa.Table:
    """The ``users`` table as the product database shows it at the end of a day."""
    end = cfg.day_start_ms(day_index + 1)
    cohorts, ks = cohort_members(cfg, 0, day_index)
    life = lifecycle(cfg, cohorts, ks)
    keep = life["signup_day"] <= day_index
    p = profile(cfg, {k: v[keep] for k, v in life.items()})
    p = {k: v[p["created_ms"] < end] for k, v in p.items()}
    deleted = p["deleted_ms"] < end

    def seen(ms: np.ndarray) -> np.ndarray:  # a change shows once it happened, and never after deletion
        return (ms < end) & (ms < p["deleted_ms"])

    country = np.where(seen(p["country_change_ms"]), p["new_country"], p["country"])
    plan = np.where(seen(p["upgrade_ms"]) & ~seen(p["downgrade_ms"]), 1, 0)
    changes = [p["created_ms"]]
    for col in ("country_change_ms", "upgrade_ms", "downgrade_ms", "email_change_ms"):
        changes.append(np.where(seen(p[col]), p[col], 0))
    changes.append(np.where(deleted, p["deleted_ms"], 0))
    updated = np.max(np.stack(changes), axis=0)
    ids = user_ids(cfg, p["pid"])
    email_version = pa.array(np.where(seen(p["email_change_ms"]), "+2@example.com", "@example.com"))
    emails = pc.binary_join_element_wise(ids, email_version, "")
    return pa.table(
        {
            "id": ids,
            "email": emails,
            "country": pa.array(np.array(catalog.COUNTRIES)[country], pa.string()),
            "plan": pa.array(np.array(catalog.PLANS)[plan], pa.string()),
            "created_at": _ts(p["created_ms"]),
            "updated_at": _ts(updated),
            "deleted_at": _ts(np.where(deleted, p["deleted_ms"], NEVER)),
        }
    )


def posts_table(cfg: SimulationConfig, day_index: int) -> pa.Table:
    """The ``posts`` table at the end of a day; hard-deleted posts are gone from it."""
    end = cfg.day_start_ms(day_index + 1)
    parts = [posts_created_on(cfg, d) for d in range(0, day_index + 1)]
    p = {k: np.concatenate([part[k] for part in parts]) for k in parts[0]} if parts else {}
    if not parts or len(p["key"]) == 0:
        return _empty_posts()
    keep = p["deleted_ms"] >= end
    p = {k: v[keep] for k, v in p.items()}
    edited = p["edited_ms"] < end
    hidden = p["hidden_ms"] < end
    updated = np.maximum.reduce([p["created_ms"], np.where(edited, p["edited_ms"], 0), np.where(hidden, p["hidden_ms"], 0)])
    return pa.table(
        {
            "id": post_ids(cfg, p["key"]),
            "user_id": user_ids(cfg, p["creator_pid"]),
            "body_length": pa.array(p["length"] + np.where(edited, 17, 0), pa.int64()),
            "is_hidden": pa.array(hidden),
            "created_at": _ts(p["created_ms"]),
            "updated_at": _ts(updated),
        }
    )


def _empty_posts() -> pa.Table:
    return pa.table(
        {
            "id": pa.array([], pa.string()),
            "user_id": pa.array([], pa.string()),
            "body_length": pa.array([], pa.int64()),
            "is_hidden": pa.array([], pa.bool_()),
            "created_at": pa.array([], pa.timestamp("ms")),
            "updated_at": pa.array([], pa.timestamp("ms")),
        }
    )


ORDER_STATUSES = ["placed", "preparing", "shipped", "delivered", "cancelled"]


def orders_table(cfg: SimulationConfig, day_index: int) -> pa.Table:
    """The ``orders`` table at the end of a day: each order's current status and ``updated_at``."""
    end = cfg.day_start_ms(day_index + 1)
    parts = [orders_created_on(cfg, d) for d in range(0, day_index + 1)]
    o = {k: np.concatenate([part[k] for part in parts]) for k in parts[0]}
    steps = np.stack([o["created_ms"], o["preparing_ms"], o["shipped_ms"], o["delivered_ms"], o["cancelled_ms"]], axis=1)
    reached = steps < end
    status = np.where(reached[:, 4], 4, np.where(reached[:, 3], 3, np.where(reached[:, 2], 2, np.where(reached[:, 1], 1, 0))))
    updated = steps[np.arange(len(status)), status]
    return pa.table(
        {
            "id": order_ids(cfg, o["key"]),
            "user_id": user_ids(cfg, o["buyer_pid"]),
            "status": pa.array(np.array(ORDER_STATUSES)[status], pa.string()),
            "revenue": pa.array(o["revenue"], pa.float64()),
            "created_at": _ts(o["created_ms"]),
            "updated_at": _ts(updated),
        }
    )
