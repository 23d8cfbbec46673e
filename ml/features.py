"""The model's input columns: the one list that train, score, dataset and the benchmarks read.

Each family is a tuple of CD_FA_AGG_BUY_<CODE> column names, in a fixed order. A model
records the list it was trained on in features.json; scoring refuses a model whose list
differs from FEATURES (docs/model.md). Rules of every column: docs/rules.md §7.
"""

from __future__ import annotations

# docs/rules.md §7: the twelve core features of the contract, names and meaning fixed.
CORE_FEATURES: tuple[str, ...] = (
    "Buys_7d",
    "Buys_30d",
    "Last_Buy_Days",
    "Avg_Ticket_90d",
    "Cash",
    "Portfolio_Value",
    "Cash_Ratio",
    "Deposit_30d_eff",
    "Turnover_30d",
    "Pos_Count",
    "NewRefs_90d",
    "CancelRate_30d",
)

# Features v2 from orders and bookings (windowed delta streams): docs/rules.md §7a.
TRANSACTION_FEATURES: tuple[str, ...] = (
    "Deposit_7d",
    "Deposit_14d",
    "Deposit_90d",
    "Days_Since_Deposit",
    "Deposit_Decay",
    "Withdrawal_30d",
    "Sales_Proceeds_30d",
    "Orders_90d",
    "Orders_365d",
    "Buys_90d",
    "Buys_365d",
    "Sales_90d",
    "Sales_365d",
    "Distinct_Isins_Bought_90d",
    "Distinct_Isins_Bought_365d",
    "Target_SavingsPlan_365d",
    "Target_TransferIn_365d",
    "Days_Since_Target_SavingsPlan",
)

# Features v2 from holdings, tenure, the fund house and co-occurrence: docs/rules.md §7b.
HOLDINGS_FEATURES: tuple[str, ...] = (
    "Tenure_Days",
    "Cash_Change_7d",
    "Cash_Change_30d",
    "Portfolio_Change_7d",
    "Portfolio_Change_30d",
    "Max_Position_Share",
    "House_Positions",
    "House_Value",
    "House_Buys_365d",
    "Cooc_Score",
)

FEATURE_SETS: dict[str, tuple[str, ...]] = {
    "core": CORE_FEATURES,
    "v2": CORE_FEATURES + TRANSACTION_FEATURES + HOLDINGS_FEATURES,
}

# Features whose distribution moves with the calendar by construction: a tenure grows by a
# day every day, an expanding statistic drifts as history accumulates, and "days since" of
# pay-day deposits and monthly savings plans cycle with the day of the month. Their PSI
# against the training window is computed, stored and shown (FA_DRIFT, the report) but
# raises no drift_psi alert (docs/operations.md "Drift").
CALENDAR_FEATURES: frozenset[str] = frozenset({
    "Last_Buy_Days", "Days_Since_Deposit", "Days_Since_Target_SavingsPlan", "Tenure_Days", "Cooc_Score",
})

# What train and score use.
FEATURES: tuple[str, ...] = FEATURE_SETS["v2"]
