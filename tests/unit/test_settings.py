"""Settings: every HOOKLINE_* field validated, and documented in the README's table."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hookline.config import ENV_PREFIX, Settings, SettingsError

README = Path(__file__).resolve().parents[2] / "README.md"
ROW = re.compile(r"^\| `(HOOKLINE_[A-Z_]+)` \| (?:`([^`]*)`|unset) \| (.+) \|$")


def _readme_table() -> dict[str, tuple[str, str]]:
    rows = (ROW.match(line) for line in README.read_text().splitlines())
    return {m[1]: (m[2], m[3]) for m in rows if m}


def _spelled(value: object) -> str | None:
    if value is None:
        return None  # the table says "unset"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, tuple):
        return ",".join(str(_spelled(v)) for v in value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def test_the_readme_documents_every_setting_as_the_code_has_it() -> None:
    table = _readme_table()
    fields = Settings.model_fields
    assert set(table) == {f"{ENV_PREFIX}{name.upper()}" for name in fields}
    for name, field in fields.items():
        default, meaning = table[f"{ENV_PREFIX}{name.upper()}"]
        assert default == _spelled(field.default), name
        assert meaning == field.description, name


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("HOOKLINE_LOG_LEVEL", "loud"),
        ("HOOKLINE_RETRY_JITTER", "1.5"),
        ("HOOKLINE_DELIVERY_TIMEOUT", "0"),
        ("HOOKLINE_RETRY_SCHEDULE", "5,-1"),
        ("HOOKLINE_RETRY_SCHEDULE", "5,inf"),
        ("HOOKLINE_CLAIM_BATCH_SIZE", "many"),
    ],
)
def test_a_bad_value_names_its_variable(variable: str, value: str) -> None:
    with pytest.raises(SettingsError, match=variable):
        Settings.from_env({variable: value})


def test_changed_settings_are_validated_too() -> None:
    settings = Settings.from_env({})
    assert settings.changed(worker_concurrency=5).worker_concurrency == 5
    with pytest.raises(SettingsError, match="HOOKLINE_WORKER_CONCURRENCY"):
        settings.changed(worker_concurrency=0)


def test_a_database_password_is_never_repeated() -> None:
    with pytest.raises(SettingsError) as raised:
        Settings.from_env(
            {"HOOKLINE_DATABASE_URL": "postgresql://u:hunter2@h/db", "HOOKLINE_LEASE_SECONDS": "x"}
        )
    assert "hunter2" not in str(raised.value)
