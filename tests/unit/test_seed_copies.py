"""The tests' and the package's copies of the seed examples are the seed's, unchanged."""

from __future__ import annotations

from pathlib import Path

import pytest

from hookline.domain.events import OPERATIONAL_EVENT_TYPES, EventType, sample_payload
from tests.conftest import SEED_DIR, seed_example

SHARED_SEED = Path(__file__).resolve().parents[3] / "shared" / "seed" / "examples"


@pytest.mark.parametrize("event_type", [t for t in EventType if t not in OPERATIONAL_EVENT_TYPES])
def test_package_samples_are_the_seed_examples(event_type: EventType) -> None:
    assert sample_payload(event_type) == seed_example(event_type.value)


def test_copies_match_the_shared_seed() -> None:
    if not SHARED_SEED.is_dir():
        pytest.fail(f"the seed examples are expected beside the repository at {SHARED_SEED}")
    for original in SHARED_SEED.glob("*.json"):
        assert (SEED_DIR / original.name).read_bytes() == original.read_bytes(), original.name
