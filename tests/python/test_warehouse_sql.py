"""The SQL that dbt sends to Snowflake and to BigQuery parses in that warehouse's dialect.

DuckDB forgives what the others refuse (a bare `union`, `cast(... as varchar)` on BigQuery,
`union distinct` on Snowflake), so every model, data test and analysis (the loop's SQL) is
compiled with each adapter's dispatch and linted by sqlfluff in that dialect.

`dbt compile --no-introspect --no-populate-cache` renders every node without a query: the
macros dispatch on the adapter type only, and no model runs SQL at compile time. The profiles
point at a closed local port, so a connection attempt would fail the test rather than hang.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from idstitch.runner import PROJECT_DIR

pytestmark = pytest.mark.warehouse

BIN = Path(sys.executable).parent
TIMEOUT = 300

PROFILES = """\
idstitch:
  target: snowflake
  outputs:
    snowflake:
      type: snowflake
      account: offline
      user: offline
      password: offline
      host: 127.0.0.1
      port: 9
      protocol: http
      database: analytics
      warehouse: offline
      schema: idstitch
      threads: 1
      connect_retries: 0
      connect_timeout: 5
    bigquery:
      type: bigquery
      method: oauth-secrets
      token: offline
      project: idstitch-offline
      dataset: idstitch
      location: US
      threads: 1
      api_endpoint: http://127.0.0.1:9
      job_retries: 0
"""

# parsing errors are always reported; AM02 (a bare UNION) is the one layout-free rule that
# matters across warehouses (its meaning differs, and BigQuery refuses it)
RULES = "AM02"


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """target/compiled of the project for each warehouse, compiled side by side."""
    work = tmp_path_factory.mktemp("warehouse_sql")
    (work / "profiles.yml").write_text(PROFILES)
    procs = {}
    for target in ("snowflake", "bigquery"):
        env = {
            **os.environ,
            "DBT_TARGET_PATH": str(work / f"target_{target}"),
            "DBT_LOG_PATH": str(work / f"logs_{target}"),
        }
        cmd = ["timeout", str(TIMEOUT), str(BIN / "dbt"), "compile", "--no-introspect"]
        cmd += ["--no-populate-cache", "--project-dir", str(PROJECT_DIR)]
        cmd += ["--profiles-dir", str(work), "--target", target]
        procs[target] = subprocess.Popen(
            cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
    out = {}
    for target, proc in procs.items():
        output, _ = proc.communicate(timeout=TIMEOUT + 30)
        assert proc.returncode == 0, f"dbt compile --target {target} failed:\n{output}"
        out[target] = work / f"target_{target}" / "compiled" / "idstitch"
    return out


@pytest.mark.parametrize("dialect", ["snowflake", "bigquery"])
def test_compiled_sql_parses_in_dialect(compiled: dict[str, Path], dialect: str) -> None:
    root = compiled[dialect]
    files = sorted(root.rglob("*.sql"))
    assert any("analyses" in f.parts for f in files), "the loop's SQL (analyses) is missing"
    assert any("marts" in f.parts for f in files), "the marts are missing"
    cmd = ["timeout", str(TIMEOUT), str(BIN / "sqlfluff"), "lint", "--dialect", dialect]
    cmd += ["--templater", "raw", "--rules", RULES, "--processes", "2", "--nofail"]
    cmd += ["--format", "github-annotation-native", "models", "analyses"]
    # run where no project .sqlfluff applies: the compiled SQL is checked as the warehouse sees it
    done = subprocess.run(cmd, cwd=root, capture_output=True, text=True, timeout=TIMEOUT + 30)
    problems = [
        line for line in done.stdout.splitlines() if line.startswith(("::warning", "::error"))
    ]
    assert not problems, f"{len(problems)} problems in {dialect} SQL:\n" + "\n".join(problems)
    assert len(files) > 50


EXAMPLE_ENV = {
    "SNOWFLAKE_ACCOUNT": "xy12345.eu-central-1",
    "SNOWFLAKE_USER": "IDSTITCH_BOT",
    "SNOWFLAKE_PASSWORD": "secret",
    "SNOWFLAKE_PRIVATE_KEY_PATH": "/keys/idstitch.p8",
    "BIGQUERY_PROJECT": "my-project",
    "BIGQUERY_KEYFILE": "/keys/idstitch.json",
}
EXPECTED_AUTH = {
    "duckdb": ("duckdb", None),
    "snowflake": ("snowflake", "password"),
    "snowflake_keypair": ("snowflake", "private_key_path"),
    "bigquery": ("bigquery", "oauth"),
    "bigquery_service_account": ("bigquery", "service-account"),
}


def test_profiles_example_targets_are_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every target of profiles.example.yml renders into its adapter's credentials."""
    from argparse import Namespace

    import yaml
    from dbt.config.profile import Profile
    from dbt.config.renderer import ProfileRenderer
    from dbt.flags import set_from_args
    from dbt_common.context import set_invocation_context

    for key, value in EXAMPLE_ENV.items():
        monkeypatch.setenv(key, value)
    set_invocation_context(dict(os.environ))
    set_from_args(Namespace(), None)
    raw = yaml.safe_load((PROJECT_DIR / "profiles.example.yml").read_text())["idstitch"]
    assert set(raw["outputs"]) == set(EXPECTED_AUTH)
    for target, (kind, auth) in EXPECTED_AUTH.items():
        profile = Profile.from_raw_profile_info(
            raw, "idstitch", ProfileRenderer({}), target_override=target
        )
        credentials = profile.credentials
        assert credentials.type == kind, target
        if kind == "snowflake":
            assert getattr(credentials, auth), f"{target}: no {auth}"
        if kind == "bigquery":
            assert credentials.method == auth, target
            assert credentials.database == "my-project"
