"""Signing agrees with the official standardwebhooks package; the retry schedule and the
settings parse as documented."""

from __future__ import annotations

import random
import time

import pytest
from standardwebhooks import Webhook as Verifier
from standardwebhooks.webhooks import WebhookVerificationError

from hookline.config import DEFAULT_RETRY_SCHEDULE, Settings, SettingsError, parse_retry_schedule
from hookline.delivery.retry import retry_delay
from hookline.delivery.signing import signature_header, signing_secrets
from hookline.domain.webhooks import new_secret


def test_signature_verifies_with_the_official_package() -> None:
    secret, now = new_secret(), int(time.time())
    body = '{"interview_id":"A1","name":"Zoë"}'.encode()
    headers = {
        "webhook-id": "dlv_1",
        "webhook-timestamp": str(now),
        "webhook-signature": signature_header([secret], "dlv_1", now, body),
    }
    assert Verifier(secret).verify(body, headers) == {"interview_id": "A1", "name": "Zoë"}
    with pytest.raises(WebhookVerificationError):
        Verifier(new_secret()).verify(body, headers)
    with pytest.raises(WebhookVerificationError):
        Verifier(secret).verify(body + b" ", headers)


def test_previous_secret_signs_only_until_it_expires() -> None:
    now = time.time()
    assert signing_secrets("new", "old", now + 10, now) == ["new", "old"]
    assert signing_secrets("new", "old", now - 1, now) == ["new"]
    assert signing_secrets("new", None, None, now) == ["new"]


def test_retry_delays_follow_the_schedule_with_jitter() -> None:
    rng = random.Random(7)
    schedule = (5.0, 300.0)
    first = retry_delay(schedule, 1, 0.1, rng)
    second = retry_delay(schedule, 2, 0.1, rng)
    assert first is not None and 4.5 <= first <= 5.5
    assert second is not None and 270 <= second <= 330
    assert retry_delay(schedule, 3, 0.1, rng) is None
    assert retry_delay(schedule, 1, 0.0, rng) == 5.0


def test_default_schedule_is_the_documented_one() -> None:
    assert DEFAULT_RETRY_SCHEDULE == (5, 300, 1800, 7200, 18000, 36000, 36000)
    # The immediate attempt and seven retries: the eighth failure is final.
    assert retry_delay(Settings().retry_schedule, 7, 0.1) is not None
    assert retry_delay(Settings().retry_schedule, 8, 0.1) is None


def test_settings_from_environment() -> None:
    settings = Settings.from_env(
        {
            "HOOKLINE_DATABASE_URL": "postgresql://u:p@127.0.0.1:5432/hookline",
            "HOOKLINE_RETRY_SCHEDULE": "1,1,1",
            "HOOKLINE_ALLOW_PRIVATE_URLS": "true",
            "HOOKLINE_DELIVERY_TIMEOUT": "3",
        }
    )
    assert settings.database_url == "postgresql://u:p@127.0.0.1:5432/hookline"
    assert settings.retry_schedule == (1, 1, 1)
    assert retry_delay(settings.retry_schedule, 4, 0.0) is None
    assert settings.allow_private_urls is True
    assert settings.delivery_timeout == 3
    assert Settings.from_env({}).allow_private_urls is False


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"HOOKLINE_RETRY_SCHEDULE": "1,soon"}, "HOOKLINE_RETRY_SCHEDULE"),
        ({"HOOKLINE_RETRY_SCHEDULE": "-1"}, "negative"),
        ({"HOOKLINE_ALLOW_PRIVATE_URLS": "maybe"}, "HOOKLINE_ALLOW_PRIVATE_URLS"),
        ({"HOOKLINE_DELIVERY_TIMEOUT": "0"}, "HOOKLINE_DELIVERY_TIMEOUT"),
        ({"HOOKLINE_LEASE_SECONDS": "5"}, "HOOKLINE_LEASE_SECONDS"),
    ],
)
def test_bad_settings_are_named(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(env)


def test_empty_schedule_means_a_single_attempt() -> None:
    assert parse_retry_schedule("") == ()
    assert retry_delay(Settings(retry_schedule=()).retry_schedule, 1, 0.1) is None
