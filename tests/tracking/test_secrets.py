"""No secret is stored: a password in a URL, a token in a query string, a secret resolved from
the environment appear in no byte of the store, the artifacts, the run directory (Hydra's
.hydra/*.yaml included), the command's output or a report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from mlplat import redact

PASSWORD = "Pw-s3cret-41"
TOKEN = "Tok-s3cret-42"
ENV_SECRET = "Env-s3cret-43"
SECRETS = (PASSWORD, TOKEN, ENV_SECRET)


def _files_holding(root: Path, secrets=SECRETS) -> list[str]:
    found = []
    for path in root.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            found += [f"{path.relative_to(root)}: {s}" for s in secrets if s.encode() in data]
    return found


def _outputs(*procs) -> str:
    return "\n".join(p.stdout + p.stderr for p in procs)


def test_masking_rules():
    assert redact.url(f"postgresql+psycopg://postgres:{PASSWORD}@127.0.0.1:5432/db") == \
        "postgresql+psycopg://postgres:***@127.0.0.1:5432/db"
    # a password holding '@' and ':' is masked whole (split at the authority's last '@')
    assert redact.url("postgresql://u:p@ss:w@h/db") == "postgresql://u:***@h/db"
    assert redact.url(f"https://h/x.csv?token={TOKEN}&rows=5&X-Amz-Signature=abc") == \
        "https://h/x.csv?token=***&rows=5&X-Amz-Signature=***"
    for plain in ("sqlite:////abs/runs/mlplat.db", "postgresql+psycopg://postgres@127.0.0.1/db", "runs/x"):
        assert redact.url(plain) == plain
    line = f"tracking.url=postgresql+psycopg://postgres:{PASSWORD}@h/db"
    assert redact.override(line) == "tracking.url=postgresql+psycopg://postgres:***@h/db"
    assert redact.override(redact.override(line)) == redact.override(line)  # idempotent
    assert redact.override(f"+bot.signing_secret={TOKEN}") == "+bot.signing_secret=***"
    # Hydra's escaped form (its launcher's log lines, override_dirname)
    assert redact.text(rf"#0 : tracking.url=postgresql\://postgres\:{PASSWORD}@h\:5432/db seed=1") == \
        r"#0 : tracking.url=postgresql\://postgres\:***@h\:5432/db seed=1"
    cfg = {"tracking": {"url": f"postgresql://u:{PASSWORD}@h/db"}, "bot": {"token": TOKEN, "token_env": "X"},
           "seed": 1, "tags": [f"see https://u:{PASSWORD}@h/"]}
    assert redact.value(cfg) == {"tracking": {"url": "postgresql://u:***@h/db"},
                                 "bot": {"token": "***", "token_env": "X"}, "seed": 1, "tags": ["see https://u:***@h/"]}


def test_secret_environment_values_are_masked_wherever_they_appear(monkeypatch):
    monkeypatch.setenv("DATA_API_TOKEN", ENV_SECRET)
    monkeypatch.setenv("PWD", "some-working-dir")  # not a secret name: never masked
    assert redact.text(f"key {ENV_SECRET} in some-working-dir") == "key *** in some-working-dir"


def test_no_secret_in_store_artifacts_run_dir_output_or_reports(project):
    """One run with a password and a token in a URL and an ${oc.env:...} secret, then every
    place a person or a file could see them."""
    env = {"DATA_API_TOKEN": ENV_SECRET}
    link = f"https://bob:{PASSWORD}@example.org/data.csv?token={TOKEN}"
    # hydra.output_subdir=.hydra: Hydra writes its config.yaml, hydra.yaml, overrides.yaml (off by default)
    train = project.train("dataset=wine", "evaluation=fast", "hydra.output_subdir=.hydra", f"+tags.link='{link}'",
                          "+tags.api=${oc.env:DATA_API_TOKEN}", **env)
    run_id = project.json("runs", "list")[0]["id"]
    shown = [project.mlplat(*args, check=True, **env) for args in (
        ("runs", "show", run_id), ("runs", "show", run_id, "--format", "json"), ("runs", "list"),
        ("audit", "log", "--format", "json"), ("report", "governance", "--format", "md"))]
    assert "bob:***@example.org" in shown[0].stdout + shown[1].stdout  # masked, not dropped
    leaks = [s for s in SECRETS if s in _outputs(train, *shown)]
    assert not leaks, leaks
    assert not _files_holding(project.root), _files_holding(project.root)
    hydra_files = list((project.root / "runs" / "hydra").rglob(".hydra/*.yaml"))
    assert len(hydra_files) == 3 and any("bob:***@" in p.read_text() for p in hydra_files)
    # the run still records what ran: the masked config reproduces the run's hash and data
    stored = json.loads(shown[1].stdout)
    assert stored["config"]["tags"]["api"] == "***" and stored["config"]["dataset"]["name"] == "wine"


@pytest.mark.postgres
def test_postgres_password_is_never_stored(project, pg_url):
    """A real PostgreSQL store whose URL carries a password (the server trusts any password):
    from MLPLAT_STORE_URL and from a tracking.url override, in no table, file or output."""
    url = sa.make_url(pg_url).set(password=PASSWORD).render_as_string(hide_password=False)
    artifacts = project.root / "runs" / "artifacts"
    from_env = project.mlplat("train", "dataset=wine", "evaluation=fast", f"tracking.artifacts={artifacts}",
                              check=True, MLPLAT_STORE_URL=url)
    from_override = project.mlplat("train", "-m", "dataset=wine", "evaluation=fast", "seed=1,2",
                                   f"tracking.url={url}", f"tracking.artifacts={artifacts}", check=True,
                                   MLPLAT_STORE_URL=url)
    listing = project.mlplat("runs", "list", "--format", "json", check=True, MLPLAT_STORE_URL=url)
    assert len(json.loads(listing.stdout)) == 3
    verify = project.mlplat("audit", "verify", check=True, MLPLAT_STORE_URL=url)
    assert PASSWORD not in _outputs(from_env, from_override, listing, verify)
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        tables = conn.execute(sa.text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).scalars().all()
        holding = [t for t in tables if conn.execute(
            sa.text(f'SELECT count(*) FROM "{t}" AS t WHERE t::text LIKE :p'), {"p": f"%{PASSWORD}%"}).scalar()]
        stored = conn.execute(sa.text("SELECT config FROM runs LIMIT 1")).scalar()
    engine.dispose()
    assert not holding, holding
    assert ":***@" in json.loads(stored)["tracking"]["url"]
    assert not _files_holding(project.root, (PASSWORD,))
