"""Generate the small bundled datasets under data/ reproducibly (fixed seeds).

Run: python scripts/make_data.py   (the files are committed; this documents their origin)
- data/churn.csv      binary classification, categoricals and missing values
- data/wage.parquet   regression, categoricals and missing values
- data/churn.sqlite   the churn table in SQLite, for the SQL dataset
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd

DATA = Path(__file__).resolve().parents[1] / "data"


def make_churn(n: int = 2000, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    tenure = rng.integers(1, 72, n)
    monthly = np.round(rng.normal(65, 20, n).clip(15, 130), 2)
    contract = rng.choice(["month", "year", "two_year"], n, p=[0.55, 0.25, 0.2])
    region = rng.choice(["north", "south", "east", "west"], n)
    support_calls = rng.poisson(1.5, n)
    logit = -1.0 + 0.04 * (monthly - 65) - 0.05 * (tenure - 30) + 0.45 * support_calls
    logit += np.where(contract == "month", 1.2, np.where(contract == "year", -0.3, -1.2))
    churned = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    df = pd.DataFrame(
        {
            "customer_id": np.arange(1, n + 1),
            "tenure_months": tenure,
            "monthly_charges": monthly,
            "support_calls": support_calls,
            "contract": contract,
            "region": region,
            "churned": churned,
        }
    )
    # missing values the feature set must impute
    df.loc[rng.random(n) < 0.05, "monthly_charges"] = np.nan
    df.loc[rng.random(n) < 0.03, "region"] = None
    return df


def make_wage(n: int = 3000, seed: int = 11) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    age = rng.integers(18, 66, n)
    education = rng.choice(["school", "bachelor", "master", "phd"], n, p=[0.4, 0.35, 0.2, 0.05])
    sector = rng.choice(["public", "private", "nonprofit"], n, p=[0.3, 0.6, 0.1])
    hours = np.round(rng.normal(38, 6, n).clip(10, 70), 1)
    experience = np.clip(age - 18 - rng.integers(0, 8, n), 0, None)
    edu_bonus = pd.Series(education).map({"school": 0, "bachelor": 8, "master": 14, "phd": 20}).to_numpy()
    wage = 12 + 0.35 * experience + edu_bonus + 0.15 * (hours - 38) + rng.normal(0, 4, n)
    wage += np.where(sector == "private", 3, 0)
    df = pd.DataFrame(
        {
            "person_id": np.arange(1, n + 1),
            "age": age,
            "experience": experience.astype(float),
            "hours_per_week": hours,
            "education": education,
            "sector": sector,
            "wage": np.round(wage, 2),
        }
    )
    df.loc[rng.random(n) < 0.04, "hours_per_week"] = np.nan
    df.loc[rng.random(n) < 0.02, "sector"] = None
    return df


def main() -> None:
    DATA.mkdir(exist_ok=True)
    churn = make_churn()
    churn.to_csv(DATA / "churn.csv", index=False)
    make_wage().to_parquet(DATA / "wage.parquet", index=False)
    db = DATA / "churn.sqlite"
    db.unlink(missing_ok=True)
    with sqlite3.connect(db) as con:
        churn.to_sql("customers", con, index=False)


if __name__ == "__main__":
    main()
