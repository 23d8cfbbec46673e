"""The planted first-buy hazard: terms, weights by named profile (docs/demo_world.md).

Per open depot without an effective, never-cancelled target purchase so far, and per
business day ``i`` with a U file, the probability of a target purchase attempt is
``1 / (1 + exp(-eta))`` with ``eta = intercept + sum_k weight_k * term_k``. Every term is
computed from the depot's state at the end of the previous business day (see
:func:`hazard_terms`); the same formula drives the simulation and the oracle.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

HALF_LIFE_DEPOSIT_DAYS = 10.0     # memory of deposits (calendar days)
HALF_LIFE_CASH_DAYS = 20.0        # the slow cash average idle growth is measured against
FRESH_DEPOSIT_DAYS = 5.0          # e-folding of the "deposit just arrived" term
YOUNG_TENURE_DAYS = 120.0         # e-folding of the young-account term
MOMENTUM_DAYS = 20                # business days of target-fund price momentum
MOMENTUM_SCALE = 0.05             # log-return that counts as one unit (clipped to +-2)

# Terms (each a function of the state; docs/demo_world.md lists them with their formulas).
TERMS = (
    "log_deposit_30d",    # log1p(deposits of the last 30 calendar days / 1000 EUR)
    "cash_share",         # cash / (cash + portfolio value), 0 when both are 0
    "buys_30d",           # min(effective buys in 30 days, 5)
    "new_isins_90d",      # min(ISINs bought for the first time in 90 days, 4)
    "cancels_30d",        # min(order cancellations known in 30 days, 3)
    "inflow_recency",     # log1p(deposits decayed with a 10-day half-life / 1000 EUR)
    "fresh_deposit",      # exp(-days since the last deposit / 5), 0 without any
    "buys_365d",          # log1p(effective buys in 365 days)
    "young_account",      # exp(-tenure days / 120)
    "house_positions",    # min(positions in the fund house's other funds, 2)
    "house_buys_90d",     # min(effective purchases of house funds in 90 days, 2)
    "idle_cash_growth",   # log1p(max(cash - 20-day-half-life cash average, 0) / 1000), no buy in 30 d
    "market_momentum",    # clip(log(P_target[e] / P_target[e-20]) / 0.05, -2, 2)
    "payday",             # 1 on the 2nd-5th business day of a month
    "january",            # 1 in January
    "q4",                 # 1 in October-December
    "cash_x_recency",     # cash_share * inflow_recency (interaction)
    "latent",             # z ~ N(0, 1) per depot, never observable
)

HAZARD_PROFILES: dict[str, dict[str, float]] = {
    # The world the pipeline is developed on.
    "default": {
        "intercept": -9.6,
        "log_deposit_30d": 0.35, "cash_share": 0.7, "buys_30d": 0.2, "new_isins_90d": 0.25,
        "cancels_30d": -0.6,
        "inflow_recency": 0.8, "fresh_deposit": 0.9, "buys_365d": 0.5, "young_account": 1.2,
        "house_positions": 0.7, "house_buys_90d": 0.5, "idle_cash_growth": 0.5,
        "market_momentum": 0.3, "payday": 0.4, "january": 0.3, "q4": 0.25,
        "cash_x_recency": 0.6, "latent": 0.6,
    },
    # Other weights, for checking a model on a world it was not designed on: inflow
    # recency weaker, house funds and tenure stronger, other seasonality, more momentum.
    "alt": {
        "intercept": -8.95,
        "log_deposit_30d": 0.3, "cash_share": 0.6, "buys_30d": 0.05, "new_isins_90d": 0.1,
        "cancels_30d": -0.3,
        "inflow_recency": 0.25, "fresh_deposit": 0.3, "buys_365d": 0.3, "young_account": 2.0,
        "house_positions": 1.2, "house_buys_90d": 1.0, "idle_cash_growth": 0.7,
        "market_momentum": 0.5, "payday": 0.05, "january": -0.2, "q4": 0.5,
        "cash_x_recency": 0.15, "latent": 0.6,
    },
}


def hazard_terms(*, dep30, cash_share, buys30, new90, canc30, ew_dep, days_since_dep, buys365,
                 tenure_days, house_pos, house_buys90, idle_growth, momentum, payday, january,
                 q4, latent) -> dict[str, np.ndarray]:
    """The terms of the hazard from raw state (arrays per depot, or scalars per day).

    Units: EUR for money, calendar days for ``days_since_dep`` (inf = never) and
    ``tenure_days``, a log-return for ``momentum``; counts as counts.
    """
    recency = np.log1p(np.maximum(ew_dep, 0) / 1000)
    return {
        "log_deposit_30d": np.log1p(np.maximum(dep30, 0) / 1000),
        "cash_share": cash_share,
        "buys_30d": np.minimum(buys30, 5),
        "new_isins_90d": np.minimum(new90, 4),
        "cancels_30d": np.minimum(canc30, 3),
        "inflow_recency": recency,
        "fresh_deposit": np.exp(-np.asarray(days_since_dep, float) / FRESH_DEPOSIT_DAYS),
        "buys_365d": np.log1p(buys365),
        "young_account": np.exp(-np.asarray(tenure_days, float) / YOUNG_TENURE_DAYS),
        "house_positions": np.minimum(house_pos, 2),
        "house_buys_90d": np.minimum(house_buys90, 2),
        "idle_cash_growth": np.log1p(np.maximum(idle_growth, 0) / 1000) * (buys30 == 0),
        "market_momentum": np.clip(momentum / MOMENTUM_SCALE, -2, 2),
        "payday": payday, "january": january, "q4": q4,
        "cash_x_recency": cash_share * recency,
        "latent": latent,
    }


def hazard_logit(terms: Mapping[str, np.ndarray], weights: Mapping[str, float]) -> np.ndarray:
    """Log-odds of a first target purchase attempt: intercept + sum of weight x term."""
    eta = weights["intercept"]
    for k in TERMS:
        eta = eta + weights[k] * terms[k]
    return eta


def profile(name: str) -> dict[str, float]:
    """The weights of a named profile (ValueError on an unknown name)."""
    if name not in HAZARD_PROFILES:
        raise ValueError(f"unknown hazard profile {name!r} (choose from "
                         f"{', '.join(sorted(HAZARD_PROFILES))})")
    return HAZARD_PROFILES[name]
