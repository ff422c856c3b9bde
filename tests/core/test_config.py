"""Settings as plain data: validation and round trip."""

import pytest

from ev_chargepoints.core.config import ConfigError, OcpiFeed, Settings


def test_defaults_are_valid_and_point_at_the_london_datastore():
    settings = Settings()
    settings.validate()
    assert settings.datastore_url == "https://data.london.gov.uk"
    assert settings.occupancy_breaks == (5.0, 15.0, 25.0)
    assert settings.disclosure_threshold == 3


def test_round_trip_through_a_plain_dict():
    settings = Settings(datastore_url="http://127.0.0.1:8080", occupancy_breaks=(4, 12, 30),
                        ocpi_feeds=[OcpiFeed("Operator A", "https://a.example/ocpi/2.2.1/locations",
                                             authcfg="abc1234", token_base64=False)])
    again = Settings.from_dict(settings.to_dict())
    assert again == Settings.from_dict(again.to_dict())
    assert again.ocpi_feeds[0].authcfg == "abc1234" and not again.ocpi_feeds[0].token_base64
    assert again.occupancy_breaks == (4.0, 12.0, 30.0)


def test_live_status_age_limit_defaults_to_30_minutes_and_round_trips():
    assert Settings().status_max_age_minutes == 30
    again = Settings.from_dict({**Settings(status_max_age_minutes=45).to_dict(),
                                "status_max_age_minutes": "45"})
    assert again.status_max_age_minutes == 45
    assert Settings.from_dict({}).status_max_age_minutes == 30  # settings saved before it


@pytest.mark.parametrize("change, message", [
    ({"datastore_url": "ftp://x"}, "http(s) address"),
    ({"datastore_url": "https://user:pw@data.london.gov.uk"}, "authentication configuration"),
    ({"occupancy_breaks": (15, 5, 25)}, "Utilisation bands"),
    ({"disclosure_threshold": 0}, "at least 1 device"),
    ({"ocpi_feeds": [OcpiFeed("A", "https://a/ocpi"), OcpiFeed("A", "https://b/ocpi")]},
     "same name"),
    ({"ocpi_feeds": [OcpiFeed("A", "https://a/ocpi", poll_seconds=5)]}, "30 seconds"),
    ({"status_max_age_minutes": 0}, "stale after 1 to 10080 minutes"),
    ({"status_max_age_minutes": 7 * 24 * 60 + 1}, "stale after 1 to 10080 minutes"),
])
def test_invalid_settings_say_what_is_wrong(change, message):
    with pytest.raises(ConfigError) as exc:
        Settings(**change).validate()
    assert message in exc.value.message
