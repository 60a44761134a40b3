"""The HubSpot connector against its sandbox: contacts by id, by email, in a batch, by search."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
from pydantic import SecretStr

from connectors.hubspot import CONNECTOR
from connectors.hubspot.api import HubSpotApi, build_api
from connectors.hubspot.sandbox import HubSpotSandboxConfig, create_app
from connectors.hubspot.settings import HubSpotSettings
from hub.core.errors import ConfigError, FatalError
from hub.core.settings import Settings
from tests.support.sandboxes import Served, operate, serve

TOKEN = "pat-na1-test"
CONTACTS = [
    {
        "id": "501",
        "properties": {"email": "Li.Lei@xn--r8jz45g.jp", "firstname": "Li", "lastname": "Lei"},
    },
    {"id": "502", "properties": {"email": "ada@example.com", "firstname": "Ada"}},
]


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Served]:
    with serve(create_app(HubSpotSandboxConfig(tokens=[TOKEN]))) as served:
        yield served


@pytest.fixture
def hubspot(sandbox: Served, redis_client: redis.Redis) -> Served:
    sandbox.control("POST", "reset")
    sandbox.control("POST", "seed", {"contacts": CONTACTS})
    return sandbox


def _api(served: Served, redis_client: redis.Redis, token: str = TOKEN) -> HubSpotApi:
    settings = HubSpotSettings(base_url=served.url, access_token=SecretStr(token))
    return build_api(settings, Settings(), redis_client)


def test_get_a_contact_by_id_with_the_properties_asked_for(
    hubspot: Served, redis_client: redis.Redis
) -> None:
    api = _api(hubspot, redis_client)
    contact = operate(CONNECTOR, api, "contacts.get", id=501, properties=["email", "firstname"])
    assert contact["id"] == "501"
    assert contact["properties"] == {"email": "Li.Lei@xn--r8jz45g.jp", "firstname": "Li"}
    (call,) = hubspot.calls()
    assert call["path"] == "/crm/v3/objects/contacts/501"
    assert "properties=email%2Cfirstname" in call["query"]


def test_get_a_contact_by_email_and_a_missing_one_fails_naming_hubspot(
    hubspot: Served, redis_client: redis.Redis
) -> None:
    api = _api(hubspot, redis_client)
    found = operate(CONNECTOR, api, "contacts.get", id="ADA@example.com", id_property="email")
    assert found["id"] == "502"
    with pytest.raises(FatalError) as caught:
        operate(CONNECTOR, api, "contacts.get", id=999)
    assert caught.value.status == 404 and "HubSpot answered 404" in str(caught.value)


def test_batch_read_answers_the_contacts_found_and_the_ids_missing(
    hubspot: Served, redis_client: redis.Redis
) -> None:
    api = _api(hubspot, redis_client)
    answer = operate(
        CONNECTOR, api, "contacts.batch_read", ids=[501, "777", 502], properties=["email"]
    )
    assert [c["id"] for c in answer["results"]] == ["501", "502"]
    assert answer["missing"] == ["777"]
    assert len(hubspot.calls()) == 1


def test_search_filters_and_pages_to_the_limit(hubspot: Served, redis_client: redis.Redis) -> None:
    many = [{"id": str(600 + n), "properties": {"email": f"p{n}@example.org"}} for n in range(230)]
    hubspot.control("POST", "seed", {"contacts": many})
    api = _api(hubspot, redis_client)
    by_email = operate(
        CONNECTOR,
        api,
        "contacts.search",
        filters=[{"propertyName": "email", "value": "ADA@EXAMPLE.COM"}],
        properties=["email"],
    )
    assert [c["id"] for c in by_email] == ["502"]
    everyone = operate(CONNECTOR, api, "contacts.search", limit=1000)
    assert len(everyone) == 232 and len({c["id"] for c in everyone}) == 232
    assert len(hubspot.calls()) == 1 + 3  # the search, then three pages of 100
    first_two = operate(CONNECTOR, api, "contacts.search", limit=150)
    assert len(first_two) == 150


def test_a_wrong_token_says_which_setting_to_check_and_never_shows_it(
    hubspot: Served, redis_client: redis.Redis
) -> None:
    api = _api(hubspot, redis_client, token="pat-na1-wrong-value")
    with pytest.raises(FatalError) as caught:
        operate(CONNECTOR, api, "contacts.get", id=501)
    assert caught.value.status == 401 and "HUBSPOT_ACCESS_TOKEN" in str(caught.value)
    assert "wrong-value" not in str(caught.value)


def test_without_a_token_the_connector_says_what_to_set() -> None:
    with pytest.raises(ConfigError, match="set HUBSPOT_ACCESS_TOKEN"):
        build_api(HubSpotSettings(access_token=None), Settings(), None)
