"""One way to write an amount of money, used by every face and message: ``$1.40``, ``$0.008``, ``$25.00``.

At least the cents, at most four decimals (fal bills MMAudio at $0.001 per second, so a 1 s job is $0.001), and no
zeros past the cents: never ``$1.4000`` next to ``$1.4``.
"""

from __future__ import annotations


def usd(amount: float) -> str:
    """``amount`` US dollars as text: ``usd(1.4) == "$1.40"``, ``usd(0.008) == "$0.008"``, ``usd(25) == "$25.00"``."""
    text = f"{round(float(amount), 4):.4f}"
    whole, _, decimals = text.partition(".")
    decimals = decimals.rstrip("0").ljust(2, "0")
    sign = "-" if whole.startswith("-") else ""
    return f"{sign}${whole.lstrip('-')}.{decimals}"
