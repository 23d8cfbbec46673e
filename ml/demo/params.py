"""Constants of the demo world: sizes, vocabularies, event and mess rates (docs/demo_world.md)."""

from __future__ import annotations

import numpy as np

CHUNK_DEPOTS = 5000          # part of the determinism contract: do not change casually
MAX_SLOTS = 8                # positions a depot can hold at once
N_OTHER_ISINS = 60           # non-target instruments
DEFAULT_HOUSE_ISINS = ("LU000DEMO031", "LU000DEMO049", "LU000DEMO056")   # contracts §3
P_PAYDAY_SKIP = 0.1          # a pay-day deposit fails to come in a given month
P_HOUSE_BUY = 0.4            # share of a house-affine depot's other purchases that are house funds
MIN_BUSINESS_DAYS = 12       # below this the forced mess items do not fit

ORDER_TYPES = ("Purchase", "Sale", "SavingsPlan", "TransferIn", "TransferOut")
BOOKING_TYPES = ("Deposit", "Withdrawal", "Fee", "Dividend", "Settlement", "Interest", "Tax")
O_PUR, O_SALE, O_SP, O_TIN, O_TOUT = range(5)
B_DEP, B_WD, B_FEE, B_DIV, B_SET, B_INT, B_TAX = range(7)

# Remarks; code -1 is NULL. None of the ordinary remarks contains "storn".
ORDER_REMARKS = ("Online", "Sparplan", "Filiale", "Depotübertrag", "Telefon")
R_NULL, R_ONLINE, R_SPARPLAN, R_FILIALE, R_UEBERTRAG, R_TELEFON = range(-1, 5)
BOOKING_REMARKS = ("Online", "Sparplan", "Überweisung", "Ordergebühr", "Kapitalertragsteuer",
                   "Zinsgutschrift", "Ertragsausschüttung", "Depotgebühr")
(BR_NULL, BR_ONLINE, BR_SPARPLAN, BR_UEBERW, BR_ORDERFEE, BR_KEST, BR_ZINS,
 BR_ERTRAG, BR_DEPOTFEE) = range(-1, 8)
CANCEL_REMARKS = ("Storno", "STORNO Kauf", "storniert", "Stornierung", "storno wg. Fehler",
                  "STORNO")
# Values of bad rows (docs/rules.md §4); none of them is valid after trim/upper-case.
BAD_ISINS = ("DE000A0D9PT", "XX12345678901", "1E00B4L5Y983", "DE000A0D9PT!", "LU-00DEMO015")
BAD_ORDER_TYPES = ("Kauf", "Buy", "Switch")
BAD_BOOKING_TYPES = ("Gutschrift", "Transfer")
BLANK_DEPOT = "   "

REPEAT_TARGET_P = 0.004         # per business day, after the first target purchase

# Per business day probabilities (scaled by the depot's activity, mean 1).
P_DEPOSIT, P_WITHDRAW, P_BUY, P_SELL = 0.012, 0.004, 0.010, 0.006
P_TRANSFER_IN, P_TRANSFER_OUT, P_DIVIDEND = 0.0006, 0.0004, 0.003
P_CANCEL_ORDER, P_CANCEL_TARGET, P_CANCEL_BOOKING = 0.025, 0.08, 0.01

# File calendar mess (per business day).
P_MISSING_B, P_MISSING_U, P_LATE_U = 0.012, 0.006, 0.02
P_CORR_LATER, P_CORR_TIE = 0.02, 0.006

BLANK_CODE = -2   # placeholder for the blank depot; resolved per chunk in tables._to_frames


def _rng(seed: int, *stream: int) -> np.random.Generator:
    """An independent, reproducible stream per purpose (and per chunk)."""
    return np.random.default_rng([seed, *stream])
