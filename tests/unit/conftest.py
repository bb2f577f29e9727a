"""Fixtures for the unit tests (``vb_cache`` comes from tests/conftest.py)."""

from __future__ import annotations

import socket
import urllib.request
from collections.abc import Iterator

import pytest
from http_helpers import FileServer, direct_opener


@pytest.fixture
def file_server() -> Iterator[FileServer]:
    """A FileServer on 127.0.0.1, closed after the test."""
    with FileServer() as srv:
        yield srv


@pytest.fixture
def opener() -> urllib.request.OpenerDirector:
    """An opener that ignores proxy settings, for requests to ``file_server``."""
    return direct_opener()


@pytest.fixture
def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (picked by the kernel, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
