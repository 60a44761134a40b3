"""Every client of HUB_REDIS_URL gets the same TLS: verified, with HUB_REDIS_CA_FILE."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import pytest
import redis

from hub.core.errors import ConfigError
from hub.core.redis_connect import (
    SentinelAddress,
    async_redis_client,
    broker_ssl,
    broker_url,
    redis_client,
    sentinel_address,
    tls_options,
)
from hub.core.settings import Settings
from hub.ingress.event_store import connect
from hub.worker.celery_app import create_celery

TLS_URL = "rediss://hub:s3cret@redis.internal:6380/2"


def _settings(url: str, ca: Path | None = None) -> Settings:
    return Settings(hub_redis_url=url, hub_redis_ca_file=ca)


def test_plain_redis_gets_no_tls() -> None:
    settings = _settings("redis://hub:s3cret@127.0.0.1:6379/0")
    assert tls_options(settings) == {} and broker_ssl(settings) is None
    pool = redis_client(settings).connection_pool
    assert pool.connection_class is redis.Connection
    assert pool.connection_kwargs["username"] == "hub"  # an ACL user logs in by name
    assert create_celery(settings).conf.broker_use_ssl is None


def test_rediss_verifies_the_server_against_the_ca_file(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    settings = _settings(TLS_URL, ca)
    assert tls_options(settings) == {
        "ssl_cert_reqs": "required",
        "ssl_check_hostname": True,
        "ssl_ca_certs": str(ca),
    }
    for client in (
        redis_client(settings),
        async_redis_client(settings),
        connect(TLS_URL, settings),
    ):
        kwargs = client.connection_pool.connection_kwargs
        assert kwargs["ssl_ca_certs"] == str(ca) and kwargs["ssl_cert_reqs"] == "required"
        assert kwargs["username"] == "hub" and kwargs["db"] == 2
    # the broker transport, beat and Flower: never kombu's CERT_NONE default
    conf = create_celery(settings).conf
    assert conf.broker_use_ssl == {
        "ssl_cert_reqs": ssl.CERT_REQUIRED,
        "ssl_check_hostname": True,
        "ssl_ca_certs": str(ca),
    }


def test_rediss_without_a_ca_file_uses_the_system_cas() -> None:
    options = tls_options(_settings(TLS_URL))
    assert options == {"ssl_cert_reqs": "required", "ssl_check_hostname": True}


def test_a_url_given_wins_over_the_setting(tmp_path: Path) -> None:
    settings = _settings("redis://127.0.0.1:6379/0", tmp_path / "ca.pem")
    assert tls_options(settings, TLS_URL)["ssl_ca_certs"] == str(tmp_path / "ca.pem")
    assert tls_options(settings) == {}


SENTINEL_URL = "redis+sentinel://hub:p%40ss@s1:26379,s2,[::1]:26380/hubprimary/3"


def test_a_sentinel_url_names_the_sentinels_the_primary_and_its_login() -> None:
    address = sentinel_address(SENTINEL_URL)
    assert address == SentinelAddress(
        (("s1", 26379), ("s2", 26379), ("::1", 26380)), "hubprimary", 3, "hub", "p@ss"
    )
    assert address.describe() == "redis+sentinel://s1:26379,s2:26379,[::1]:26380/hubprimary/3"
    assert sentinel_address("redis+sentinel://:pw@s1/hubprimary") == SentinelAddress(
        (("s1", 26379),), "hubprimary", 0, None, "pw"
    )
    assert sentinel_address("redis://127.0.0.1:6379/0") is None


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("redis+sentinel://s1:26379", "names no primary"),
        ("redis+sentinel://s1:26379/hubprimary/zero", "must be a number"),
        ("redis+sentinel://s1:port/hubprimary", "is not host:port"),
        ("redis+sentinel://:secret-pw@,s2/hubprimary", "is not host:port"),
        ("sentinel://s1:26379", "write a Sentinel deployment as"),
        ("rediss+sentinel://s1:26379/hubprimary", "TLS to Sentinel is not supported"),
    ],
)
def test_a_sentinel_url_that_cannot_be_read_says_what_is_wrong(url: str, says: str) -> None:
    with pytest.raises(ConfigError, match=says) as caught:
        sentinel_address(url)
    assert "secret-pw" not in str(caught.value)


def test_every_client_of_a_sentinel_url_asks_the_sentinels_for_the_primary() -> None:
    settings = _settings(SENTINEL_URL)
    for client in (redis_client(settings), async_redis_client(settings), connect(SENTINEL_URL)):
        pool: Any = client.connection_pool  # a SentinelConnectionPool (sync or asyncio)
        assert pool.service_name == "hubprimary"
        kwargs = pool.connection_kwargs
        assert (kwargs["username"], kwargs["password"], kwargs["db"]) == ("hub", "p@ss", 3)
        sentinels = pool.sentinel_manager.sentinels
        assert len(sentinels) == 3
        assert sentinels[0].connection_pool.connection_kwargs.get("password") is None


def test_the_broker_reaches_the_primary_through_kombus_sentinel_transport() -> None:
    settings = _settings(SENTINEL_URL)
    assert broker_url(settings) == (
        "sentinel://hub:p%40ss@s1:26379/3;sentinel://hub:p%40ss@s2:26379/3;"
        "sentinel://hub:p%40ss@[::1]:26380/3"
    )
    conf = create_celery(settings).conf
    assert conf.broker_transport == "sentinel"  # kombu's alias, the hub's transport
    assert conf.broker_transport_options["master_name"] == "hubprimary"
    assert conf.broker_transport_options["visibility_timeout"] > 0  # the hub's own, kept
    plain = create_celery(_settings("redis://127.0.0.1:6379/0")).conf
    assert plain.broker_transport == "hub.worker.broker:Transport"
    assert "master_name" not in plain.broker_transport_options
