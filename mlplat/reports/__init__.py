"""Reports for people: charts of leaderboards and sweeps (PNG and self-contained HTML)."""
