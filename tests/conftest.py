"""Fixtures shared by the tests."""
from __future__ import annotations

import sys

import pytest


@pytest.fixture
def switchy():
    """sys.setswitchinterval(1e-6) for the test: forces thread interleavings."""
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(old)


tiny_switch_interval = switchy
