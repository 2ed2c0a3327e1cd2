"""Synthetic customer-churn data with a fixed seed: the same bytes on every machine."""

from __future__ import annotations

import csv
import json
import random
from datetime import date, timedelta
from pathlib import Path

PLANS = ("basic", "plus", "pro")
REGIONS = ("north", "south", "east", "west")
NOTES = (
    "asked about pricing",
    "happy with support",
    "reported slow app",
    "wants annual billing",
    "",
)


def write_customers(
    path: Path, *, rows: int = 2000, seed: int = 7, drifted: bool = False, first_id: int = 0
) -> None:
    """`drifted`: the world a few months later: newer customers (shorter tenure), higher
    prices, more support tickets; churn still follows the same causes."""
    rng = random.Random(seed)
    start = date(2025, 1, 1)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(
            [
                "customer_id",
                "signup_date",
                "plan",
                "region",
                "tenure_months",
                "monthly_charges",
                "support_tickets",
                "notes",
                "churned",
            ]
        )
        for i in range(rows):
            plan = rng.choices(PLANS, weights=(5, 3, 2))[0]
            tenure = rng.randint(1, 30 if drifted else 72)
            price = {"basic": 20, "plus": 45, "pro": 90}[plan] * (1.25 if drifted else 1.0)
            charges = round(price * rng.uniform(0.8, 1.3), 2)
            tickets = min(12, int(rng.expovariate(0.3 if drifted else 0.6)))
            note = rng.choice(NOTES)
            if rng.random() < 0.03:
                # Planted personal data: the data contract must catch and pseudonymise it.
                note = f"call back at +1-555-{rng.randint(100, 999)}-{rng.randint(1000, 9999)}"
            elif rng.random() < 0.03:
                note = f"prefers email: customer{first_id + i}@example.com"
            if drifted:  # the price rise made price the main reason to leave
                risk = 0.55 * (tickets / 12) + 0.45 * max(0.0, charges - 60) / 60
                risk += 0.2 * (1 - tenure / 30) - 0.1
            else:
                risk = 0.35 * (tickets / 12) + 0.3 * (1 - tenure / 72) + 0.1 * (plan == "basic")
            churned = int(rng.random() < risk)
            writer.writerow(
                [
                    f"C{first_id + i:05d}",
                    (start + timedelta(days=rng.randint(0, 600))).isoformat(),
                    plan,
                    rng.choice(REGIONS),
                    tenure,
                    charges,
                    tickets,
                    note,
                    churned,
                ]
            )


def write_events(directory: Path, *, days: int = 5, seed: int = 11) -> None:
    """Daily usage events, one JSON-lines file a day: a directory to version as a whole."""
    rng = random.Random(seed)
    directory.mkdir(parents=True, exist_ok=True)
    for day in range(days):
        lines = [
            json.dumps(
                {"customer_id": f"C{rng.randint(0, 1999):05d}", "minutes": rng.randint(0, 240)}
            )
            for _ in range(200)
        ]
        (directory / f"day-{day:02d}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
