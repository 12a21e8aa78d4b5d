"""One day of the event stream, generated with array operations only.

A session is a list of *blocks* (open the app, browse the feed, play a game,
shop, sign up, ...); every block expands to a fixed template of events. Day
``d`` generates the sessions that *start* on ``d``; their events may run past
midnight into ``d + 1`` (see ``landing.py`` for how event days are cut).

Two passes: the first generates everyone's own sessions, including the shares
and invites they send; the second generates the sessions of the people who
open those links (social joins), which need the shares' times.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from product_analytics.simulator import catalog
from product_analytics.simulator.hashing import hash64, hex_ids
from product_analytics.simulator.world import (
    DAY_MS,
    SimulationConfig,
    active_on,
    anonymous_ids,
    identified_from_day,
    order_ids,
    orders_created_on,
    post_count,
    post_ids,
    post_keys,
    posts_created_on,
    user_ids,
)

KINDS = [
    "view",
    "identify",
    "app_opened",
    "signed_up",
    "logged_in",
    "game_started",
    "game_ended",
    "result_shared",
    "invite_sent",
    "invite_accepted",
    "shared_link_opened",
    "post_created",
    "post_viewed",
    "post_liked",
    "product_viewed",
    "product_added",
    "checkout_started",
    "order_completed",
]
# Names to the small integer codes the vectorized arrays hold.
KIND_CODE = {name: i for i, name in enumerate(KINDS)}
VIEW_NAMES = ["Home", "Feed", "Game", "Product", "Checkout", "Sign up", "Log in", "Create post", "Shared link", "Invite"]
VIEW_CODE = {name: i for i, name in enumerate(VIEW_NAMES)}
GAPS = {"normal": 0, "quick": 1, "play": 2}

BLOCKS: dict[str, list[tuple[str, str | None, str]]] = {
    "open_web": [("view", "Home", "normal")],
    "open_app": [("app_opened", None, "normal")],
    "browse": [("view", "Feed", "normal"), ("post_viewed", None, "quick")],
    "browse_like": [("view", "Feed", "normal"), ("post_viewed", None, "quick"), ("post_liked", None, "quick")],
    "play": [("view", "Game", "normal"), ("game_started", None, "quick"), ("game_ended", None, "play")],
    "play_no_end": [("view", "Game", "normal"), ("game_started", None, "quick")],
    "play_share": [
        ("view", "Game", "normal"),
        ("game_started", None, "quick"),
        ("game_ended", None, "play"),
        ("result_shared", None, "quick"),
    ],
    "play_invite": [
        ("view", "Game", "normal"),
        ("game_started", None, "quick"),
        ("game_ended", None, "play"),
        ("invite_sent", None, "quick"),
    ],
    "shop_view": [("view", "Product", "normal"), ("product_viewed", None, "quick")],
    "shop_add": [("view", "Product", "normal"), ("product_viewed", None, "quick"), ("product_added", None, "normal")],
    "shop_checkout": [
        ("view", "Product", "normal"),
        ("product_viewed", None, "quick"),
        ("product_added", None, "normal"),
        ("view", "Checkout", "normal"),
        ("checkout_started", None, "quick"),
    ],
    "shop_order": [
        ("view", "Product", "normal"),
        ("product_viewed", None, "quick"),
        ("product_added", None, "normal"),
        ("view", "Checkout", "normal"),
        ("checkout_started", None, "quick"),
        ("order_completed", None, "normal"),
    ],
    "post": [("view", "Create post", "normal"), ("post_created", None, "normal")],
    "signup": [("view", "Sign up", "normal"), ("identify", None, "quick"), ("signed_up", None, "quick")],
    "login": [("view", "Log in", "normal"), ("identify", None, "quick"), ("logged_in", None, "quick")],
    "join_share": [
        ("view", "Shared link", "normal"),
        ("shared_link_opened", None, "quick"),
        ("game_started", None, "normal"),
        ("game_ended", None, "play"),
    ],
    "join_invite": [
        ("view", "Invite", "normal"),
        ("invite_accepted", None, "quick"),
        ("game_started", None, "normal"),
        ("game_ended", None, "play"),
    ],
}
BLOCK_CODE = {name: i for i, name in enumerate(BLOCKS)}
RANDOM_BLOCKS = {
    "browse": 0.27,
    "browse_like": 0.12,
    "play": 0.2,
    "play_no_end": 0.03,
    "play_share": 0.08,
    "play_invite": 0.05,
    "shop_view": 0.14,
    "shop_add": 0.07,
    "shop_checkout": 0.04,
}
_RANDOM_IDS = np.array([BLOCK_CODE[b] for b in RANDOM_BLOCKS])
_RANDOM_CUM = np.cumsum(list(RANDOM_BLOCKS.values())) / sum(RANDOM_BLOCKS.values())

# The block templates as arrays: per block, its length and, per position, the event kind,
# the view (-1: none) and the kind of gap before the event.
_MAXLEN = max(len(t) for t in BLOCKS.values())
BLOCK_LENGTHS = np.array([len(t) for t in BLOCKS.values()])
BLOCK_KINDS = np.full((len(BLOCKS), _MAXLEN), -1, dtype=np.int8)
BLOCK_VIEWS = np.full((len(BLOCKS), _MAXLEN), -1, dtype=np.int8)
BLOCK_GAPS = np.zeros((len(BLOCKS), _MAXLEN), dtype=np.int8)
for _b, _template in enumerate(BLOCKS.values()):
    for _i, (_kind, _view, _gap) in enumerate(_template):
        BLOCK_KINDS[_b, _i] = KIND_CODE[_kind]
        BLOCK_VIEWS[_b, _i] = VIEW_CODE[_view] if _view else -1
        BLOCK_GAPS[_b, _i] = GAPS[_gap]

_GAP_BASE = np.array([2_000.0, 500.0, 30_000.0])  # normal, quick, play (ms)
_GAP_MEAN = np.array([35_000.0, 6_000.0, 150_000.0])
IDENTIFY_OFFSET = 2  # in a sign-up / log-in session: [open, "Sign up" view, identify, ...]
_IS_CREATION = np.isin(np.arange(len(KINDS)), [KIND_CODE["result_shared"], KIND_CODE["invite_sent"]])


@dataclass
class Sessions:
    """Column arrays, one entry per session (indices into the day's people)."""

    person: np.ndarray
    device: np.ndarray
    start_ms: np.ndarray
    lead: np.ndarray  # first block
    special: np.ndarray  # signup / login block at position 1, or -1
    tail: np.ndarray  # post / shop_order block after the special one, or -1
    n_random: np.ndarray
    ident: np.ndarray  # 0 anonymous, 1 identified, 2 identified from IDENTIFY_OFFSET on
    channel: np.ndarray  # utm channel on the session's events, or -1
    instance: np.ndarray  # social instance joined, or -1
    stream_ref: np.ndarray  # index into the day's posts (tail=post) or orders (tail=shop_order), or -1
    favorite_game: np.ndarray


def _concat_sessions(parts: list[Sessions]) -> Sessions:
    return Sessions(**{f: np.concatenate([getattr(p, f) for p in parts]) for f in Sessions.__dataclass_fields__})


def _open_block(platform: np.ndarray) -> np.ndarray:
    return np.where(platform == catalog.WEB, BLOCK_CODE["open_web"], BLOCK_CODE["open_app"])


class DayGenerator:
    """Generates the sessions that start on one day, and their events."""

    def __init__(self, cfg: SimulationConfig, day_index: int):
        self.cfg = cfg
        self.d = day_index
        self.day_ms = cfg.day_start_ms(day_index)
        self.people = active_on(cfg, day_index)
        self.rng = np.random.default_rng([cfg.seed, day_index, 7])
        self.ident_day = identified_from_day(self.people)
        self.posts = posts_created_on(cfg, day_index)
        self.orders = orders_created_on(cfg, day_index)
        self.recent_posts = np.concatenate(
            [post_keys(d, post_count(cfg, d)) for d in range(max(0, day_index - 7), day_index)] or [np.empty(0, np.uint64)]
        )

    # ------------------------------------------------------------ sessions
    def _session_frame(self, person, device, start_ms, lead, **overrides) -> Sessions:
        n = len(person)
        cols = {
            "special": np.full(n, -1),
            "tail": np.full(n, -1),
            "n_random": 1 + self.rng.poisson(1.6 * (0.6 + 0.4 * self.people["propensity"][person])),
            "ident": self._ident_mode(person, device),
            "channel": np.full(n, -1),
            "instance": np.full(n, -1),
            "stream_ref": np.full(n, -1),
            "favorite_game": self._games(n),
        }
        cols.update(overrides)
        return Sessions(person=person, device=device, start_ms=start_ms, lead=lead, **cols)

    def _ident_mode(self, person: np.ndarray, device: np.ndarray) -> np.ndarray:
        return (self.ident_day[person, device] < self.d).astype(np.int64)

    def _games(self, n: int) -> np.ndarray:
        cum = np.cumsum(catalog.GAME_WEIGHTS)
        return np.minimum(np.searchsorted(cum, self.rng.random(n)), len(catalog.GAMES) - 1)

    def _available_device(self, person: np.ndarray) -> np.ndarray:
        """A device the person already uses today (one identified before today when signed up)."""
        days = self.people["device_day"][person]
        usable = days < self.d
        usable[:, 0] = True
        choice = (self.rng.random((len(person), 3)) * usable).argmax(axis=1)
        return choice

    def own_sessions(self) -> Sessions:
        p = self.people
        n_people = len(p["pid"])
        d = self.d
        arrival = p["cohort"] == d
        referred_arrival = arrival & (p["channel"] == catalog.REFERRAL)
        signup_today = p["signup_day"] == d
        device_today = p["device_day"][:, 1:] == d
        new_device = np.where(device_today[:, 0], 1, np.where(device_today[:, 1], 2, 0))
        special_day = (arrival & ~referred_arrival) | signup_today | (new_device > 0)

        # Referred arrivals start with the social join of pass two instead.
        n_sessions = np.where(referred_arrival, 0, 1 + np.minimum(self.rng.poisson(0.45 * p["propensity"]), 4))
        person = np.repeat(np.arange(n_people), n_sessions)
        first = np.r_[True, person[1:] != person[:-1]] if len(person) else np.empty(0, bool)
        diurnal = _diurnal_ms(self.rng, len(person))
        special_start = _special_start(self.cfg, p["pid"][person], d)
        is_special = first & special_day[person]
        later = ~first & special_day[person]
        start = np.where(
            is_special,
            special_start,
            np.where(
                later,
                special_start + (self.rng.random(len(person)) * (self.day_ms + DAY_MS - 600_000 - special_start)).astype(np.int64),
                self.day_ms + diurnal,
            ),
        )
        device = self._available_device(person)
        device = np.where(signup_today[person] | (arrival[person] & ~referred_arrival[person]), 0, device)
        device = np.where(is_special & (new_device[person] > 0), new_device[person], device)
        special = np.where(
            is_special & signup_today[person],
            BLOCK_CODE["signup"],
            np.where(is_special & (new_device[person] > 0), BLOCK_CODE["login"], -1),
        )
        ident = self._ident_mode(person, device)
        ident = np.where(special >= 0, 2, ident)
        # The signup day's later sessions run on the now identified first device.
        ident = np.where(later & signup_today[person], 1, ident)
        channel = np.where(is_special & arrival[person], p["channel"][person], -1)
        retarget = (self.rng.random(len(person)) < 0.05) & (channel < 0)
        channel = np.where(retarget, len(catalog.CHANNELS), channel)
        own = self._session_frame(
            person, device, start, _open_block(p["platform"][person, device]), special=special, ident=ident, channel=channel
        )

        posts = self._stream_sessions(self.posts["creator_pid"], self.posts["created_ms"], BLOCK_CODE["post"])
        orders = self._stream_sessions(self.orders["buyer_pid"], self.orders["created_ms"] - 200_000, BLOCK_CODE["shop_order"])
        return _concat_sessions([own, posts, orders])

    def _stream_sessions(self, pids: np.ndarray, at_ms: np.ndarray, tail_block: int) -> Sessions:
        """Sessions that write a post or place an order listed in the operational tables."""
        person = np.searchsorted(self.people["pid"], pids)
        device = np.zeros(len(person), dtype=np.int64)
        return self._session_frame(
            person,
            device,
            at_ms.astype(np.int64) - 40_000,
            _open_block(self.people["platform"][person, 0]),
            tail=np.full(len(person), tail_block),
            n_random=np.zeros(len(person), dtype=np.int64),
            stream_ref=np.arange(len(person)),
        )

    def join_sessions(self, instances: dict[str, np.ndarray]) -> Sessions:
        """Sessions of people who open a shared result or accept an invite."""
        p = self.people
        d = self.d
        n_inst = len(instances["time_ms"])
        ordinary = (p["cohort"] < d) & (p["signup_day"] != d) & ~(p["device_day"][:, 1:] == d).any(axis=1)
        candidates = np.flatnonzero(ordinary)
        per_instance = np.where(instances["is_invite"], 0.7, np.where(instances["destination"] == 0, 1.2, 0.8))
        n_join = self.rng.poisson(per_instance) if n_inst and len(candidates) else np.zeros(n_inst, np.int64)
        inst = np.repeat(np.arange(n_inst), n_join)
        person = candidates[self.rng.integers(0, max(len(candidates), 1), size=len(inst))]
        clash = p["pid"][person] == instances["creator_pid"][inst]
        inst, person = inst[~clash], person[~clash]
        delay = np.minimum(5_000 + self.rng.exponential(25 * 60_000, len(inst)), 3 * 3_600_000).astype(np.int64)
        device = self._available_device(person)

        referred = np.flatnonzero((p["cohort"] == d) & (p["channel"] == catalog.REFERRAL))
        early = np.flatnonzero(instances["time_ms"] < self.day_ms + 21 * 3_600_000 + 1_800_000)
        if len(early):
            r_inst = early[self.rng.integers(0, len(early), size=len(referred))]
            r_delay = np.minimum(5_000 + self.rng.exponential(20 * 60_000, len(referred)), 2 * 3_600_000).astype(np.int64)
        else:  # nobody shared early enough: they arrive on their own
            r_inst = np.full(len(referred), -1)
            r_delay = np.zeros(len(referred), dtype=np.int64)
        person = np.concatenate([person, referred])
        inst = np.concatenate([inst, r_inst])
        device = np.concatenate([device, np.zeros(len(referred), dtype=np.int64)])
        # -1 (no instance) reads the appended default: the instances may be none at all (a
        # launch day whose referred newcomers found no early share)
        pick = np.where(inst >= 0, inst, -1)
        inst_time = np.append(instances["time_ms"], 0)[pick]
        start = np.where(
            inst >= 0,
            inst_time + np.concatenate([delay, r_delay]),
            _special_start(self.cfg, p["pid"][person], d),
        )
        is_invite = np.append(instances["is_invite"], False)[pick]
        lead = np.where(
            inst < 0, _open_block(p["platform"][person, device]), np.where(is_invite, BLOCK_CODE["join_invite"], BLOCK_CODE["join_share"])
        )
        first_touch = np.r_[np.full(len(person) - len(referred), -1), np.full(len(referred), catalog.REFERRAL)]
        return self._session_frame(
            person,
            device,
            start,
            lead,
            instance=inst,
            channel=first_touch,
            favorite_game=np.where(inst >= 0, np.append(instances["game"], 0)[pick], self._games(len(person))),
        )

    # ------------------------------------------------------------ events
    def expand(self, s: Sessions, first_event_index: int, first_session_index: int) -> dict[str, np.ndarray]:
        """Blocks and events of a set of sessions, as column arrays."""
        rng = self.rng
        n_s = len(s.person)
        n_blocks = 1 + (s.special >= 0) + (s.tail >= 0) + s.n_random
        b_sess = np.repeat(np.arange(n_s), n_blocks)
        b_pos = np.arange(len(b_sess)) - np.repeat(np.cumsum(n_blocks) - n_blocks, n_blocks)
        u = rng.random(len(b_sess))
        btype = _RANDOM_IDS[np.minimum(np.searchsorted(_RANDOM_CUM, u), len(_RANDOM_IDS) - 1)]
        after_lead = b_pos - 1
        has_special = s.special[b_sess] >= 0
        btype = np.where(b_pos == 0, s.lead[b_sess], btype)
        btype = np.where((after_lead == 0) & has_special, s.special[b_sess], btype)
        tail_pos = 1 + has_special.astype(np.int64)
        btype = np.where((b_pos == tail_pos) & (s.tail[b_sess] >= 0), s.tail[b_sess], btype)
        # Shares and invites need a known user; before identification it is a plain game.
        ident = s.ident[b_sess]
        block_identified = (ident == 1) | ((ident == 2) & (b_pos >= 2))
        social = (btype == BLOCK_CODE["play_share"]) | (btype == BLOCK_CODE["play_invite"])
        btype = np.where(social & ~block_identified, BLOCK_CODE["play"], btype)
        if len(self.recent_posts) == 0:
            btype = np.where((btype == BLOCK_CODE["browse"]) | (btype == BLOCK_CODE["browse_like"]), BLOCK_CODE["shop_view"], btype)
        b_game = np.where(rng.random(len(b_sess)) < 0.75, s.favorite_game[b_sess], self._games(len(b_sess)))
        # A join opens the game of the share or invite it follows.
        is_join = (btype == BLOCK_CODE["join_share"]) | (btype == BLOCK_CODE["join_invite"])
        b_game = np.where(is_join, s.favorite_game[b_sess], b_game)
        b_mode = np.minimum(np.searchsorted(np.cumsum(catalog.GAME_MODE_WEIGHTS), rng.random(len(b_sess))), 2)
        b_product = rng.integers(0, len(catalog.PRODUCTS), size=len(b_sess))
        is_order = btype == BLOCK_CODE["shop_order"]
        order_ref = np.where(is_order, s.stream_ref[b_sess], -1)
        b_product = np.where(is_order, self.orders["product"][np.maximum(order_ref, 0)] if len(self.orders["product"]) else 0, b_product)
        b_post = rng.integers(0, max(len(self.recent_posts), 1), size=len(b_sess))

        lengths = BLOCK_LENGTHS[btype]
        n_e = int(lengths.sum())
        block_first_event = np.cumsum(lengths) - lengths
        e_block = np.repeat(np.arange(len(b_sess), dtype=np.int32), lengths)
        flat = np.repeat(btype * _MAXLEN - block_first_event, lengths) + np.arange(n_e)  # template cell per event
        kind = BLOCK_KINDS.ravel()[flat]
        view = BLOCK_VIEWS.ravel()[flat]
        gap_kind = BLOCK_GAPS.ravel()[flat]
        e_sess = b_sess[e_block]

        u = rng.random((2, n_e))
        gaps = _GAP_BASE[gap_kind] - _GAP_MEAN[gap_kind] * np.log1p(-u[0])
        pause = (u[1] < 0.015) & (gap_kind == GAPS["normal"])  # a break that stays inside the session
        gaps = np.where(pause, 5 * 60_000 + (u[1] / 0.015) * 24 * 60_000, gaps).astype(np.int64)
        sess_first = np.r_[True, e_sess[1:] != e_sess[:-1]] if n_e else np.empty(0, bool)
        gaps[sess_first] = 0
        csum = np.cumsum(gaps)
        counts = np.bincount(e_sess, minlength=n_s)  # every session has at least one event
        true_ms = s.start_ms[e_sess] + csum - np.repeat(csum[sess_first], counts)
        offset_in_session = np.arange(n_e) - np.repeat(np.flatnonzero(sess_first), counts)
        ident = s.ident[e_sess]
        identified = (ident == 1) | ((ident == 2) & (offset_in_session >= IDENTIFY_OFFSET))
        return {
            "event_index": first_event_index + np.arange(n_e, dtype=np.int64),
            "session": first_session_index + e_sess,
            "person": s.person[e_sess],
            "device": s.device[e_sess],
            "kind": kind,
            "view": view,
            "true_ms": true_ms.astype(np.int64),
            "identified": identified,
            "session_first": sess_first,
            "channel": s.channel[e_sess],
            "instance": s.instance[e_sess],
            "game": b_game[e_block],
            "mode": b_mode[e_block],
            "product": b_product[e_block],
            "post": b_post[e_block],
            "stream_ref": s.stream_ref[e_sess],
        }


def _special_start(cfg: SimulationConfig, pid: np.ndarray, d: int) -> np.ndarray:
    from product_analytics.simulator.world import special_start_ms

    return special_start_ms(cfg, pid, np.full(len(pid), d, dtype=np.int64))


_HOUR_WEIGHTS = np.array([3, 2, 1, 1, 1, 1, 2, 4, 5, 5, 5, 5, 6, 6, 5, 5, 5, 6, 7, 8, 9, 9, 7, 5], dtype=float)
_HOUR_CUM = np.cumsum(_HOUR_WEIGHTS) / _HOUR_WEIGHTS.sum()


def _diurnal_ms(rng: np.random.Generator, n: int) -> np.ndarray:
    hour = np.minimum(np.searchsorted(_HOUR_CUM, rng.random(n)), 23)
    return (hour * 3_600_000 + rng.random(n) * 3_600_000).astype(np.int64)


def _concat(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


@dataclass
class GeneratedDay:
    """The events of the sessions that start on one day, and what really happened."""

    events: pa.Table
    identities: pa.Table
    instances: pa.Table
    members: pa.Table
    firsts: pa.Table
    first_games: pa.Table


def generate_day(cfg: SimulationConfig, day_index: int) -> GeneratedDay:
    gen = DayGenerator(cfg, day_index)
    own_sessions = gen.own_sessions()
    own = gen.expand(own_sessions, 0, 0)
    joins = gen.expand(gen.join_sessions(_instances(gen, own)), len(own["kind"]), len(own_sessions.person))
    ev = _concat([own, joins])
    # Shares sent in the joiners' own sessions are instances too (nobody joins them today).
    instances = _instances(gen, ev)
    ev["creation_rank"] = np.cumsum(_IS_CREATION[ev["kind"]]) - 1
    ids = _DayIds(cfg, gen, instances)
    parts = [_assemble(cfg, gen, _slice(ev, a, b), instances, ids, k) for k, (a, b) in enumerate(_chunks(ev["session_first"]))]
    return GeneratedDay(**{f: pa.concat_tables([getattr(part, f) for part in parts]) for f in GeneratedDay.__dataclass_fields__})


CHUNK_EVENTS = 1_000_000  # events are assembled in chunks of whole sessions: bounded, cache-friendly arrays


def _chunks(session_first: np.ndarray) -> list[tuple[int, int]]:
    """Cut points near every CHUNK_EVENTS events, at session starts."""
    n = len(session_first)
    starts = np.flatnonzero(session_first)
    cuts = [0]
    while n - cuts[-1] > CHUNK_EVENTS:
        i = np.searchsorted(starts, cuts[-1] + CHUNK_EVENTS)
        if i >= len(starts):
            break
        cuts.append(int(starts[i]))
    cuts.append(n)
    return list(zip(cuts[:-1], cuts[1:], strict=True))


def _slice(ev: dict[str, np.ndarray], a: int, b: int) -> dict[str, np.ndarray]:
    return {k: v[a:b] for k, v in ev.items()}


class _DayIds:
    """String ids shared by every chunk of a day: the social instances and their creators."""

    def __init__(self, cfg: SimulationConfig, gen: DayGenerator, instances: dict[str, np.ndarray]):
        key = (np.uint64(gen.d) << np.uint64(40)) | instances["event_index"].astype(np.uint64)
        self.instances = hex_ids(hash64(cfg.seed, "instance_id", key), "s_")
        self.creators = user_ids(cfg, instances["creator_pid"])


def _instances(gen: DayGenerator, ev: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Every share or invite sent, in event order; the destination is drawn per instance."""
    creators = _IS_CREATION[ev["kind"]]
    index = ev["event_index"][creators]
    return {
        "event_index": index,
        "time_ms": ev["true_ms"][creators],
        "creator_pid": gen.people["pid"][ev["person"][creators]],
        "is_invite": ev["kind"][creators] == KIND_CODE["invite_sent"],
        "game": ev["game"][creators],
        "destination": (
            hash64(gen.cfg.seed, "destination", (np.uint64(gen.d) << np.uint64(40)) | index.astype(np.uint64)) & np.uint64(1)
        ).astype(np.int64),
    }


def _dict_array(codes: np.ndarray, values: list) -> pa.Array:
    """A dictionary-encoded string column from integer codes (negative codes are null)."""
    codes = np.asarray(codes, dtype=np.int32)
    absent = [i for i, v in enumerate(values) if v is None]
    null = (codes < 0) | np.isin(codes, absent) if absent else codes < 0
    indices = pa.array(np.maximum(codes, 0), pa.int32(), mask=null)
    return pa.DictionaryArray.from_arrays(indices, pa.array([v or "" for v in values], pa.string()))


def _strings(values: list[str]) -> pa.Array:
    return pa.array(values, pa.string())


def _take(values: pa.Array, index: np.ndarray, keep: np.ndarray | None = None) -> pa.Array:
    """``values[index]``, null where ``keep`` is false."""
    return values.take(pa.array(index, pa.int64(), mask=None if keep is None else ~keep))


def _json_rows(parts: list) -> pa.Array:
    """One JSON object per row from ``[key, values, quoted, key, values, quoted, ...]``."""
    pieces: list = []
    closing = "{"
    for i in range(0, len(parts), 3):
        key, values, quoted = parts[i : i + 3]
        text = values if pa.types.is_string(values.type) else pc.cast(values, pa.string())
        pieces += [closing + ("," if i else "") + f'"{key}":' + ('"' if quoted else ""), text]
        closing = '"' if quoted else ""
    pieces.append(closing + "}")
    return pc.binary_join_element_wise(*pieces, "")


class _Scatter:
    """Builds a full-length string column from values computed for subsets of rows."""

    def __init__(self, n: int):
        self.n = n
        self.rows: list[np.ndarray] = []
        self.values: list[pa.Array] = []

    def put(self, rows: np.ndarray, values) -> None:
        if len(rows):
            self.rows.append(rows)
            self.values.append(values(rows) if callable(values) else values)

    def build(self) -> pa.Array:
        position = np.full(self.n, -1, dtype=np.int64)
        start = 0
        for rows in self.rows:
            position[rows] = np.arange(start, start + len(rows))
            start += len(rows)
        values = pa.concat_arrays([v.cast(pa.string()) for v in self.values] or [pa.array([], pa.string())])
        return values.take(pa.array(position, mask=position < 0))


GAME_NAMES = _strings(catalog.GAMES)
MODE_NAMES = _strings(catalog.GAME_MODES)
PRODUCT_NAMES = _strings(catalog.PRODUCTS)
COUNTRY_NAMES = _strings(catalog.COUNTRIES)
DESTINATION_NAMES = _strings(catalog.SHARE_DESTINATIONS)
CHANNELS = list(catalog.CHANNELS) + [("retargeting", *catalog.RETARGETING, "https://www.google.com/")]
REFERRERS = sorted({c[4] for c in CHANNELS if c[4]}) + ["https://social.example.com/"]
_CHANNEL_REFERRER = np.array([REFERRERS.index(c[4]) if c[4] else -1 for c in CHANNELS])
PATHS = ["/", "/feed", "/checkout", "/signup", "/login", "/new-post", "/invite"]
PATHS += [f"/games/{g}" for g in catalog.GAMES] + [f"/play/{g}" for g in catalog.GAMES]
PATHS += [f"/shop/{s}" for s in catalog.PRODUCTS]
_VIEW_PATH = np.array([0, 1, 7, 7 + 2 * len(catalog.GAMES), 2, 3, 4, 5, 7 + len(catalog.GAMES), 6])
_VIEW_PATH_STEP = np.array([0, 0, 1, 0, 0, 0, 0, 0, 1, 0])  # Game and Shared link pages add the game


def _assemble(
    cfg: SimulationConfig, gen: DayGenerator, ev: dict[str, np.ndarray], instances: dict, ids: _DayIds, chunk: int
) -> GeneratedDay:
    """The Arrow table of a run of whole sessions, and its share of the ground truth."""
    rng = np.random.default_rng([cfg.seed, gen.d, 9, chunk])
    p = gen.people
    n = len(ev["kind"])
    kind = ev["kind"]
    person = ev["person"]
    device = ev["device"]
    platform = p["platform"][person, device]
    web = platform == catalog.WEB
    session = ev["session"] - (ev["session"][0] if n else 0)

    # Clocks: event time on the device (skewed), sending (sometimes much later), receiving.
    n_sess = int(session.max()) + 1 if n else 0
    sess_mobile = p["platform"][ev["person"][ev["session_first"]], ev["device"][ev["session_first"]]] != catalog.WEB
    u_sess = rng.random((3, n_sess))
    offline = (u_sess[0] < cfg.offline_session_rate) & sess_mobile
    multi_day = offline & (u_sess[1] < cfg.multi_day_offline_share)
    hold = np.where(
        multi_day,
        DAY_MS * (1 - 1.3 * np.log1p(-u_sess[2])),
        np.where(offline, 60_000 * np.exp(np.log(90) + 1.0 * (u_sess[2] - 0.5) * 3), 0),
    ).astype(np.int64)
    u = rng.random((4, n))
    beacon_delay = np.where(web & (u[0] < 0.01), -120_000 * np.log1p(-u[1]), 0).astype(np.int64)
    send_ms = ev["true_ms"] + (200 + u[2] * 8_000).astype(np.int64) + hold[session] + beacon_delay
    skew = p["skew_ms"][person, device]
    received = send_ms + (30 + u[3] * 370).astype(np.int64)
    original = ev["true_ms"] + skew
    sent = send_ms + skew
    timestamp = received - (sent - original)

    # Ids: per person and device first, then gathered per event.
    inst_ids, creator_uids = ids.instances, ids.creators
    # Device and user ids per session, gathered to events in order (sessions are contiguous).
    session_rows = np.flatnonzero(ev["session_first"])
    session_pid = p["pid"][person[session_rows]]
    session_anon = anonymous_ids(cfg, session_pid, device[session_rows])
    session_uid = user_ids(cfg, session_pid)
    message_id = hex_ids(hash64(cfg.seed, "message_id", (np.uint64(gen.d) << np.uint64(40)) | ev["event_index"].astype(np.uint64)))
    country = np.where(ev["true_ms"] >= p["country_change_ms"][person], p["new_country"][person], p["country"][person])
    app_version = np.where(
        web, -1, np.clip(gen.d // 14 - (p["pid"][person] % np.uint64(3)).astype(np.int64), 0, len(catalog.APP_VERSIONS) - 1)
    )

    channel = ev["channel"]
    view = ev["view"]
    game = ev["game"]
    path = np.where(view >= 0, _VIEW_PATH[view] + _VIEW_PATH_STEP[view] * game, -1)
    path = np.where(view == VIEW_CODE["Product"], path + ev["product"], path)
    path = np.where(web, path, -1)
    referrer = np.where(ev["session_first"] & web & (channel >= 0), _CHANNEL_REFERRER[np.maximum(channel, 0)], -1)
    referrer = np.where(ev["session_first"] & web & (ev["instance"] >= 0), len(REFERRERS) - 1, referrer)
    event_type = np.where(kind == KIND_CODE["view"], np.where(web, 1, 2), np.where(kind == KIND_CODE["identify"], 3, 0))
    track_name = np.where((kind == KIND_CODE["view"]) | (kind == KIND_CODE["identify"]), -1, kind)

    properties = _properties(cfg, gen, ev, instances, inst_ids, creator_uids, rng)
    identify = np.flatnonzero(kind == KIND_CODE["identify"])
    traits = _Scatter(n)
    traits.put(
        identify,
        lambda rows: _json_rows(
            [
                "email",
                pc.binary_join_element_wise(_take(session_uid, session[rows]), "@example.com", ""),
                True,
                "country",
                _take(COUNTRY_NAMES, country[rows]),
                True,
                "plan",
                pa.array(["free"] * len(rows)),
                True,
            ]
        ),
    )

    table = pa.table(
        {
            "message_id": message_id,
            "type": _dict_array(event_type, ["track", "page", "screen", "identify"]),
            "event": _dict_array(track_name, KINDS),
            "name": _dict_array(view, VIEW_NAMES),
            "anonymous_id": _take(session_anon, session),
            "user_id": _take(session_uid, session, ev["identified"]),
            "timestamp": pa.array(timestamp, pa.timestamp("ms")),
            "original_timestamp": pa.array(original, pa.timestamp("ms")),
            "sent_at": pa.array(sent, pa.timestamp("ms")),
            "received_at": pa.array(received, pa.timestamp("ms")),
            "context_platform": _dict_array(platform, catalog.PLATFORMS),
            "context_app_version": _dict_array(app_version, catalog.APP_VERSIONS),
            "context_locale": _dict_array(country, catalog.LOCALES),
            "context_country": _dict_array(country, catalog.COUNTRIES),
            "context_campaign_source": _dict_array(channel, [c[1] for c in CHANNELS]),
            "context_campaign_medium": _dict_array(channel, [c[2] for c in CHANNELS]),
            "context_campaign_name": _dict_array(channel, [c[3] for c in CHANNELS]),
            "context_page_path": _dict_array(path, PATHS),
            "context_page_url": _dict_array(path, [f"https://play.example.com{x}" for x in PATHS]),
            "context_page_referrer": _dict_array(referrer, REFERRERS),
            "properties": properties,
            "traits": traits.build(),
        }
    )
    truth = _truth(gen, ev, instances, table, ids, session, session_anon, session_uid)
    # A share of messages is delivered twice: the same message, a later arrival.
    dup = np.flatnonzero(rng.random(n) < cfg.duplicate_rate)
    if len(dup):
        u_dup = rng.random((2, len(dup)))
        again = (-np.where(u_dup[0] < 0.2, 3 * 3_600_000, 40_000) * np.log1p(-u_dup[1])).astype(np.int64) + 1
        copies = table.take(pa.array(dup))
        for column, values in (("sent_at", sent[dup] + again), ("received_at", received[dup] + again)):
            copies = copies.set_column(copies.schema.get_field_index(column), column, pa.array(values, pa.timestamp("ms")))
        table = pa.concat_tables([table, copies])
    return GeneratedDay(events=table, **truth)


def _properties(cfg, gen: DayGenerator, ev, instances, inst_ids, creator_uids, rng) -> pa.Array:
    """The ``properties`` JSON of every track, built per event kind over just its rows."""
    kind = ev["kind"]
    n = len(kind)
    order = np.argsort(kind, kind="stable")
    bounds = np.searchsorted(kind[order], np.arange(len(KINDS) + 1))
    rows_of = {k: order[bounds[i] : bounds[i + 1]] for i, k in enumerate(KINDS)}
    out = _Scatter(n)
    game = lambda r: _take(GAME_NAMES, ev["game"][r])
    mode = lambda r: _take(MODE_NAMES, ev["mode"][r])
    out.put(rows_of["game_started"], lambda r: _json_rows(["game_id", game(r), True, "mode", mode(r), True]))
    ended = rows_of["game_ended"]
    measured = rng.random(len(ended)) >= 0.03  # some clients send game_ended without its measures
    duration = (ev["true_ms"][ended] - ev["true_ms"][ended - 1]) // 1000  # the template puts game_started just before
    score = rng.integers(0, 5000, size=len(ended))
    out.put(
        ended[measured],
        lambda r: _json_rows(
            [
                "game_id",
                game(r),
                True,
                "mode",
                mode(r),
                True,
                "score",
                pa.array(score[measured]),
                False,
                "duration_seconds",
                pa.array(duration[measured]),
                False,
            ]
        ),
    )
    out.put(ended[~measured], lambda r: _json_rows(["game_id", game(r), True, "mode", mode(r), True]))

    # Creations are numbered in event order, like ``instances``.
    creation_rank = ev["creation_rank"]
    out.put(
        rows_of["result_shared"],
        lambda r: _json_rows(
            [
                "share_id",
                _take(inst_ids, creation_rank[r]),
                True,
                "game_id",
                game(r),
                True,
                "destination",
                _take(DESTINATION_NAMES, instances["destination"][creation_rank[r]]),
                True,
            ]
        ),
    )
    out.put(rows_of["invite_sent"], lambda r: _json_rows(["invite_id", _take(inst_ids, creation_rank[r]), True, "game_id", game(r), True]))
    for join_kind, id_key in (("invite_accepted", "invite_id"), ("shared_link_opened", "share_id")):
        rows = rows_of[join_kind]
        u = rng.random((2, len(rows)))
        id_missing = u[0] < cfg.missing_join_id_rate
        with_referrer = id_missing | (u[1] < 0.85)
        inst = ev["instance"][rows]
        for has_id, has_ref in ((True, True), (True, False), (False, True)):
            pick = (~id_missing == has_id) & (with_referrer == has_ref)
            parts = []
            if has_id:
                parts += [id_key, _take(inst_ids, inst[pick]), True]
            if has_ref:
                parts += ["referrer_user_id", _take(creator_uids, inst[pick]), True]
            out.put(rows[pick], lambda r, parts=parts: _json_rows(parts + ["game_id", game(r), True]))
    recent = post_ids(cfg, gen.recent_posts)
    for k in ("post_viewed", "post_liked"):
        out.put(rows_of[k], lambda r: _json_rows(["post_id", _take(recent, ev["post"][r]), True]))
    todays_posts = post_ids(cfg, gen.posts["key"])
    out.put(rows_of["post_created"], lambda r: _json_rows(["post_id", _take(todays_posts, ev["stream_ref"][r]), True]))
    price = pa.array(catalog.PRODUCT_PRICES)
    for k in ("product_viewed", "product_added", "checkout_started"):
        out.put(
            rows_of[k],
            lambda r: _json_rows(
                ["product_id", _take(PRODUCT_NAMES, ev["product"][r]), True, "price", _take(price, ev["product"][r]), False]
            ),
        )
    todays_orders = order_ids(cfg, gen.orders["key"])
    revenue = pa.array(gen.orders["revenue"], pa.float64())
    out.put(
        rows_of["order_completed"],
        lambda r: _json_rows(
            [
                "order_id",
                _take(todays_orders, ev["stream_ref"][r]),
                True,
                "product_id",
                _take(PRODUCT_NAMES, ev["product"][r]),
                True,
                "revenue",
                _take(revenue, ev["stream_ref"][r]),
                False,
            ]
        ),
    )
    return out.build()


def _first_per_group(group: np.ndarray, at_ms: np.ndarray) -> np.ndarray:
    """Index of each group's earliest row."""
    order = np.lexsort((at_ms, group))
    keep = np.r_[True, group[order][1:] != group[order][:-1]] if len(order) else np.empty(0, bool)
    return order[keep]


def _truth(gen, ev, instances, table, ids, session, session_anon, session_uid) -> dict[str, pa.Table]:
    """What really happened, for tests only: the pipeline never reads it."""
    inst_ids, creator_uids = ids.instances, ids.creators
    p = gen.people
    pid = pa.array(p["pid"].astype(np.int64))
    signed = p["is_signup"]
    firsts = np.flatnonzero(ev["session_first"])  # a person's first event opens one of their sessions
    _, one_per_device = np.unique(ev["person"][firsts] * 3 + ev["device"][firsts], return_index=True)
    device_person = ev["person"][firsts][one_per_device]
    identities = pa.table(
        {
            "anonymous_id": _take(session_anon, one_per_device),
            "person_id": _take(pid, device_person),
            "user_id": _take(session_uid, one_per_device, signed[device_person]),
        }
    )
    first_index = ev["event_index"][0] if len(ev["event_index"]) else 0
    mine = np.flatnonzero((instances["event_index"] >= first_index) & (instances["event_index"] < first_index + len(ev["event_index"])))
    creation = pa.array(instances["event_index"][mine] - first_index)
    inst = pa.table(
        {
            "instance_id": _take(inst_ids, mine),
            "kind": _dict_array(instances["is_invite"][mine].astype(np.int64), ["share", "invite"]).cast(pa.string()),
            "creator_user_id": _take(creator_uids, mine),
            "game_id": _take(GAME_NAMES, instances["game"][mine]),
            "destination": _take(DESTINATION_NAMES, instances["destination"][mine], ~instances["is_invite"][mine]),
            "message_id": table["message_id"].take(creation),
            "created_at": table["timestamp"].take(creation),
        }
    )
    j = np.flatnonzero(np.isin(ev["kind"], [KIND_CODE["invite_accepted"], KIND_CODE["shared_link_opened"]]))
    who = ev["person"][j]
    members = pa.table(
        {
            "instance_id": _take(inst_ids, ev["instance"][j]),
            "person_id": _take(pid, who),
            "user_id": _take(session_uid, session[j], signed[who]),
            "anonymous_id": _take(session_anon, session[j]),
            "message_id": table["message_id"].take(pa.array(j)),
            "joined_at": table["timestamp"].take(pa.array(j)),
        }
    )
    ts = table["timestamp"].to_numpy().astype("datetime64[ms]").astype(np.int64)
    first = firsts[_first_per_group(ev["person"][firsts], ts[firsts])]
    arrow_first = pa.array(first)
    first_events = pa.table(
        {
            "person_id": _take(pid, ev["person"][first]),
            "user_id": _take(session_uid, session[first], signed[ev["person"][first]]),
            "first_event_at": table["timestamp"].take(arrow_first),
            "platform": table["context_platform"].take(arrow_first).cast(pa.string()),
            "utm_source": table["context_campaign_source"].take(arrow_first).cast(pa.string()),
            "utm_medium": table["context_campaign_medium"].take(arrow_first).cast(pa.string()),
            "utm_campaign": table["context_campaign_name"].take(arrow_first).cast(pa.string()),
        }
    )
    started = np.flatnonzero(ev["kind"] == KIND_CODE["game_started"])
    first_game = started[_first_per_group(ev["person"][started], ts[started])]
    games = pa.table(
        {
            "person_id": _take(pid, ev["person"][first_game]),
            "first_game_at": table["timestamp"].take(pa.array(first_game)),
            "first_game_id": _take(GAME_NAMES, ev["game"][first_game]),
        }
    )
    return {"identities": identities, "instances": inst, "members": members, "firsts": first_events, "first_games": games}
