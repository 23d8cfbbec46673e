"""The planted first-buy hazard (docs/demo_world.md)."""

from __future__ import annotations

import numpy as np

# Planted first-buy hazard (per business day, logistic): see docs/demo_world.md.
HAZARD = {
    "intercept": -7.9,
    "log_deposit_30d": 0.9,     # x log1p(deposits of the last 30 days / 1000 EUR)
    "cash_share": 1.2,          # x cash / (cash + portfolio value)
    "buys_30d": 0.3,            # x min(effective buys in 30 days, 5)
    "new_isins_90d": 0.4,       # x min(ISINs bought for the first time in 90 days, 4)
    "cancels_30d": -0.8,        # x min(order cancellations known in 30 days, 3)
    "latent": 0.8,              # x z, z ~ N(0, 1) per depot, never observable
}


def hazard_logit(dep30: np.ndarray, cash_share: np.ndarray, buys30: np.ndarray,
                 new90: np.ndarray, canc30: np.ndarray, latent: np.ndarray) -> np.ndarray:
    """Log-odds of a first target purchase on a business day (the planted signal)."""
    h = HAZARD
    return (h["intercept"] + h["log_deposit_30d"] * np.log1p(np.maximum(dep30, 0) / 1000)
            + h["cash_share"] * cash_share + h["buys_30d"] * np.minimum(buys30, 5)
            + h["new_isins_90d"] * np.minimum(new90, 4)
            + h["cancels_30d"] * np.minimum(canc30, 3) + h["latent"] * latent)
