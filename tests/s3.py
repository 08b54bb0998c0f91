"""A real S3 API on this machine for the tests: moto in server mode (``ThreadedMotoServer``) on
127.0.0.1, started once per run; ``s3`` gives a boto3 client on it with every bucket gone.

Registered for every test by ``pytest_plugins`` in ``tests/conftest.py``.
"""

from __future__ import annotations

import socket

import boto3
import pytest
import requests

KEY_ID, SECRET = "AKIATESTLABELFAB", "test-secret-key-of-labelfab"


@pytest.fixture(scope="session")
def s3_server():
    from moto.server import ThreadedMotoServer

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def s3(s3_server):
    requests.post(f"{s3_server}/moto-api/reset", timeout=10)
    client = boto3.client("s3", endpoint_url=s3_server, aws_access_key_id=KEY_ID, aws_secret_access_key=SECRET,
                          region_name="us-east-1")
    client.endpoint = s3_server
    return client
