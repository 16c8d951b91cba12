"""The receiver kits' event types are generated from Hookline's own definitions
(scripts/generate_receiver_code.py); these tests fail the day either kit drifts."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

import hookline_receiver
from hookline.domain import payloads
from hookline.domain.events import GET_QUERY_FIELDS, PAYLOAD_MODELS, EventType

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts/generate_receiver_code.py"


def load_generator():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("generate_receiver_code", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("target", "render"),
    [
        ("receivers/python/src/hookline_receiver/events.py", "render_python"),
        ("receivers/typescript/src/events.ts", "render_typescript"),
    ],
)
def test_generated_files_are_up_to_date(target: str, render: str) -> None:
    written = (ROOT / target).read_text(encoding="utf-8")
    assert written == getattr(load_generator(), render)(), (
        f"{target} drifted from Hookline's models: run .venv/bin/python {SCRIPT.relative_to(ROOT)}"
    )


def test_check_mode_passes_on_the_repository() -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("event_type", list(EventType))
def test_python_kit_models_have_the_servers_schema(event_type: EventType) -> None:
    server_model = PAYLOAD_MODELS[event_type]
    kit_model = hookline_receiver.PAYLOAD_MODELS[hookline_receiver.EventType(event_type.value)]
    assert kit_model.__name__ == server_model.__name__
    assert kit_model.model_json_schema() == server_model.model_json_schema()
    assert kit_model.model_config == payloads.OpenModel.model_config


def test_get_notice_has_the_query_fields_hookline_sends() -> None:
    assert tuple(hookline_receiver.EventNotice.model_fields) == GET_QUERY_FIELDS
    assert hookline_receiver.GET_QUERY_FIELDS == GET_QUERY_FIELDS
