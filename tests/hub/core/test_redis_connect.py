"""Every client of HUB_REDIS_URL gets the same TLS: verified, with HUB_REDIS_CA_FILE."""

from __future__ import annotations

import ssl
from pathlib import Path

import redis

from hub.core.redis_connect import async_redis_client, broker_ssl, redis_client, tls_options
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
