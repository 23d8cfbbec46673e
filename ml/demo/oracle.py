"""The oracle: the best possible p7/p14/p30 of the demo world (docs/model.md "Oracle").

For a score day ``D`` and an open depot, ``oracle_pT = P(label_T = 1 | the generator's
whole state at the end of D)``: the latent propensity, cash, positions, deposit memory,
counters, and the world's file calendar and prices (the generator draws them up front).
``label_T`` is the label of docs/rules.md §8: a first target purchase that is effective
(Amount >= min ticket), never cancelled, with Order_Date in [D+1, D+T].

Method: the chunk is simulated exactly as :func:`ml.demo.tables.iter_frames` does (same
streams, so the state at D is the generated world's), but without writing rows. At each
score day the pre-first open depots are replicated ``replicas`` times and the replicas are
simulated on with the generator's own code (fresh random streams) for the next T calendar
days. Instead of counting replicas with a first buy, every replica adds up the daily
probability of an effective first buy while it is still pre-first,

    h_t = p_t x P(ticket >= min ticket) x P(a free slot for the drawn target ISIN)
              x (1 - P(the purchase is cancelled later)),

until its first effective buy or the horizon; ``E[sum_t h_t] = P(first buy by T)`` exactly
(the sum of the stopped hazard is the compensator of the first-buy indicator), with a far
smaller variance than the 0/1 count because first buys are rare. The standard error per
row is ``std / sqrt(replicas)`` (column ``oracle_se_p30`` with ``with_se=True``).
"""

from __future__ import annotations

from datetime import date
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from ml.demo.params import CHUNK_DEPOTS, DEFAULT_HOUSE_ISINS, P_CANCEL_TARGET, _rng
from ml.demo.simulate import DayCum, _ChunkSim, _NoRows, p_effective_ticket
from ml.demo.world import World, build_world

HORIZONS = (7, 14, 30)
REPLICAS = 32
TARGET_TICKET_MEDIAN = 3000.0     # ticket(rng, n, 3000) in _ChunkSim.target_buys


def cancel_probability(world: World) -> np.ndarray:
    """P(a first target purchase on day i is cancelled later), per business day.

    The cancellation lands in the U file 0 (30 %) or 1-10 (uniform) business days later,
    the next delivered one; when there is none, the purchase stays (as in cancel_day).
    """
    nb = len(world.bdays)
    has = world.next_u >= 0
    lag = np.arange(1, 11)
    later = has[np.minimum(np.arange(nb)[:, None] + lag[None, :], nb)].mean(1)
    return P_CANCEL_TARGET * (0.3 * has[:nb] + 0.7 * later)


class _Accumulator:
    """Sum of the daily first-buy probability per replica, score day and horizon (see the
    module doc); ``score_nums``: the calendar day numbers of the score days that share
    this snapshot (a business day and the non-business days after it)."""

    def __init__(self, world: World, score_nums: np.ndarray, horizons: Sequence[int],
                 n_rep: int) -> None:
        self.limit = np.asarray(score_nums)[:, None] + np.asarray(horizons)[None, :]
        self.z = np.zeros((n_rep, *self.limit.shape))
        self.p_ticket = p_effective_ticket(TARGET_TICKET_MEDIAN, world.min_ticket)
        self.p_cancel = cancel_probability(world)

    def accumulate(self, sim: _ChunkSim, i: int, p: np.ndarray) -> None:
        nt = sim.nt
        room = np.zeros(sim.n)
        for t in range(nt):          # the target ISIN is drawn uniformly
            room += ((sim.slot_isin == t) | (sim.slot_isin == -1)).any(1)
        h = p * (self.p_ticket * (1 - self.p_cancel[i])) * (room / nt)
        h = np.where(sim.is_open & ~sim.has_target, h, 0.0)
        inside = sim.w.day_num[i] <= self.limit
        self.z += h[:, None, None] * inside[None]


def _replicate(sim: _ChunkSim, rows: np.ndarray, day: int, width: int, replicas: int,
               acc: _Accumulator) -> _ChunkSim:
    """``replicas`` copies of depots ``rows`` of ``sim`` after the end of ``day``."""
    idx = np.repeat(rows, replicas)
    rep = object.__new__(_ChunkSim)
    for name, value in vars(sim).items():
        if isinstance(value, np.ndarray) and value.shape[:1] == (sim.n,):
            value = value[idx]
        elif isinstance(value, DayCum):
            value = value.replicate(idx, day, width)
        setattr(rep, name, value)
    rep.n = len(idx)
    rep.rng = _rng(sim.w.seed, 30, sim.chunk, day)
    rep.O = rep.B = rep.S = rep.P = _NoRows()
    rep.record, rep.force_cancel, rep.force_transfer, rep.oracle = False, False, False, acc
    return rep


def oracle_for_world(world: World, score_days: Iterable, horizons: Sequence[int] = HORIZONS,
                     replicas: int = REPLICAS, with_se: bool = False) -> pd.DataFrame:
    """Oracle probabilities for the open depots of the given score days.

    ``score_days``: dates (anything ``numpy.datetime64`` takes) from the world's first
    business day to its last; a weekend or holiday has the state of the business day
    before it (nothing happens in between) and its own label window. Returns one row per
    (Score_Date, Depot_Number) of every depot open at the end of the day: Score_Date (datetime64), Depot_Number (str),
    oracle_p{T} per horizon (0 for depots with an effective first buy by then), and
    oracle_se_p{max T} with ``with_se``. Deterministic per world and arguments.
    """
    horizons = tuple(sorted(int(h) for h in horizons))
    wanted = np.array(sorted({np.datetime64(d, "D") for d in score_days}), dtype="datetime64[D]")
    wanted = wanted[(wanted >= world.bdays[0]) & (wanted <= world.bdays[-1])]
    snap = np.searchsorted(world.bdays, wanted, side="right") - 1   # last business day <= D
    by_snap = {int(b): wanted[snap == b] for b in np.unique(snap)}
    days = np.array(sorted(by_snap), dtype=np.int64)
    if replicas < 2:
        raise ValueError("the oracle needs at least 2 replicas")
    out: list[pd.DataFrame] = []
    n_chunks = -(-len(world.depot_numbers) // CHUNK_DEPOTS)
    last = int(days.max()) if len(days) else -1
    for chunk in range(n_chunks):
        if not len(days):
            break
        lo = chunk * CHUNK_DEPOTS
        sim = _ChunkSim(world, chunk)
        sim.O = sim.B = sim.S = sim.P = _NoRows()
        sim.record = False
        for i in range(last + 1):
            sim.step(i)
            if i in by_snap:
                out.append(_score_days(sim, i, by_snap[i], lo, horizons, replicas, with_se))
    cols = (["Score_Date", "Depot_Number"] + [f"oracle_p{h}" for h in horizons]
            + ([f"oracle_se_p{horizons[-1]}"] if with_se else []))
    if not out:
        return pd.DataFrame(columns=cols)
    df = pd.concat(out, ignore_index=True)
    return df.sort_values(["Score_Date", "Depot_Number"], ignore_index=True)[cols]


def _score_days(sim: _ChunkSim, i: int, dates: np.ndarray, lo: int, horizons: Sequence[int],
                replicas: int, with_se: bool) -> pd.DataFrame:
    """Rows of the score days ``dates`` whose state is the end of business day ``i``."""
    w = sim.w
    nums = dates.astype(np.int64)
    open_rows = np.flatnonzero(sim.is_open)
    pre = open_rows[~sim.has_target[open_rows]]
    ahead = np.flatnonzero((w.day_num > w.day_num[i]) & (w.day_num <= nums.max() + max(horizons)))
    probs = np.zeros((len(dates), len(open_rows), len(horizons)))
    se = np.zeros((len(dates), len(open_rows)))
    if len(pre) and len(ahead):
        acc = _Accumulator(w, nums, horizons, len(pre) * replicas)
        rep = _replicate(sim, pre, i, len(ahead), replicas, acc)
        for j in ahead:
            rep.step(int(j))
        z = acc.z.reshape(len(pre), replicas, len(dates), len(horizons))
        where = np.searchsorted(open_rows, pre)
        probs[:, where] = np.clip(z.mean(1), 0.0, 1.0).transpose(1, 0, 2)
        se[:, where] = (z[..., -1].std(1, ddof=1) / np.sqrt(replicas)).T
    frames = []
    for k, d in enumerate(dates):
        df = pd.DataFrame({"Score_Date": np.full(len(open_rows), d).astype("datetime64[s]"),
                           "Depot_Number": w.depot_numbers[lo + open_rows].astype(str)})
        for m, h in enumerate(horizons):
            df[f"oracle_p{h}"] = probs[k, :, m]
        if with_se:
            df[f"oracle_se_p{horizons[-1]}"] = se[k]
        frames.append(df)
    return pd.concat(frames, ignore_index=True)


def oracle(depots: int, days: int, seed: int, end_date: date, target_isins: Sequence[str],
           score_days: Iterable, min_ticket: float = 1000.0,
           house_isins: Sequence[str] = DEFAULT_HOUSE_ISINS, hazard_profile: str = "default",
           horizons: Sequence[int] = HORIZONS, replicas: int = REPLICAS,
           with_se: bool = False) -> pd.DataFrame:
    """:func:`oracle_for_world` of the world ``demo-data`` writes for the same arguments
    (bad rows do not change the simulation)."""
    world = build_world(depots, days, seed, end_date, target_isins, min_ticket, True,
                        house_isins, hazard_profile)
    return oracle_for_world(world, score_days, horizons, replicas, with_se)
