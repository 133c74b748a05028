"""The run store (SQLAlchemy: SQLite by default, PostgreSQL for teams) and artifacts."""
