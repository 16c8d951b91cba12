"""Realistic candidate journeys, built from the seed's example payloads: interview_started,
then interview_completed, then report_available once the analysis is done."""

from __future__ import annotations

import random
import secrets
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import click

from hookline.domain.events import EventType, sample_payload
from hookline.tools.client import HooklineClient

FIRST_NAMES = ("Ada", "Grace", "Alan", "Katherine", "Edsger", "Barbara", "Donald", "Frances")
LAST_NAMES = ("Lovelace", "Hopper", "Turing", "Johnson", "Dijkstra", "Liskov", "Knuth", "Allen")


@dataclass(frozen=True)
class Candidate:
    name: str
    email: str
    candidate_id: str
    interview_id: str
    score: int


def candidates(count: int, rng: random.Random | None = None) -> Iterator[Candidate]:
    rng = rng or random.Random()
    for _ in range(count):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        yield Candidate(
            name=f"{first} {last}",
            email=f"{first}.{last}.{secrets.token_hex(2)}@example.com".lower(),
            candidate_id=secrets.token_hex(8).upper(),
            interview_id=secrets.token_hex(8).upper(),
            score=rng.randint(35, 98),
        )


def _candidate_metadata(candidate: Candidate, template: dict[str, Any]) -> dict[str, Any]:
    return template | {
        "candidate_name": candidate.name,
        "candidate_email": candidate.email,
        "candidate_id": candidate.candidate_id,
    }


def journey(candidate: Candidate, posting_id: str) -> list[tuple[EventType, dict[str, Any]]]:
    """The three events of one interview, in order, timestamped now."""
    now = time.time()
    started = sample_payload(EventType.INTERVIEW_STARTED)
    started |= {
        "interview_id": candidate.interview_id,
        "posting_id": posting_id,
        "timestamp": now,
        "metadata": _candidate_metadata(candidate, started["metadata"]),
    }
    completed = sample_payload(EventType.INTERVIEW_COMPLETED) | {
        "interview_id": candidate.interview_id,
        "posting_id": posting_id,
        "timestamp": now,
        "completion_timestamp": now,
    }
    report = sample_payload(EventType.REPORT_AVAILABLE)
    report |= {
        "interview_id": candidate.interview_id,
        "posting_id": posting_id,
        "timestamp": now,
        "metadata": _candidate_metadata(candidate, report["metadata"]),
    }
    summary = report["agentic_data"]["web_interview_info"]["summary"]
    summary |= {"interview_id": candidate.interview_id, "match_score": candidate.score}
    details = report["interview_data_model"]["details"]
    details |= {"name": candidate.name, "email": candidate.email, "score": float(candidate.score)}
    return [
        (EventType.INTERVIEW_STARTED, started),
        (EventType.INTERVIEW_COMPLETED, completed),
        (EventType.REPORT_AVAILABLE, report),
    ]


def run_simulation(
    client: HooklineClient,
    interviews: int,
    posting_id: str,
    analysis_delay: float,
    out=sys.stderr,  # type: ignore[no-untyped-def]
) -> list[dict[str, Any]]:
    """Publish ``interviews`` journeys; the events published, in order."""
    journeys = [journey(c, posting_id) for c in candidates(interviews)]
    published: list[dict[str, Any]] = []
    with click.progressbar(length=3 * interviews, label="publishing journeys", file=out) as bar:
        for step in range(3):
            if step == 2 and analysis_delay:
                time.sleep(analysis_delay)  # the AI analysis takes a while
            for events_of_one in journeys:
                event_type, payload = events_of_one[step]
                result = client.publish(event_type.value, payload)
                published.append(result | {"event_type": event_type.value})
                bar.update(1)
    return published
