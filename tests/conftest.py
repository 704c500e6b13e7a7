"""Fixtures for the services some tests need: a throwaway PostgreSQL database and Debian's Chromium.

Locally these tests skip when the service is absent; ``.ci/run`` installs both and sets
``LAI_TEST_REQUIRE_SERVICES=1`` so that there a missing service fails the run instead.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"


def _unavailable(reason: str) -> None:
    if os.environ.get("LAI_TEST_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{reason} (required: LAI_TEST_REQUIRE_SERVICES=1)")
    pytest.skip(reason)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """URL of a new, empty PostgreSQL database, dropped after the test."""
    admin_url = os.environ.get("LAI_TEST_POSTGRES_URL")
    if not admin_url:
        _unavailable("PostgreSQL not configured: set LAI_TEST_POSTGRES_URL")
    assert admin_url is not None
    import sqlalchemy as sa

    name = f"lai_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as error:
        admin.dispose()
        _unavailable(f"PostgreSQL at LAI_TEST_POSTGRES_URL not reachable: {error.orig}")
    url = sa.engine.make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """Path of Debian's Chromium for browser tests (Playwright's ``executable_path``)."""
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        _unavailable("Chromium not installed (apt-get install chromium)")
    return CHROMIUM if Path(CHROMIUM).exists() else str(shutil.which("chromium"))


_CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser(chromium_path: str) -> Iterator[Any]:
    """A headless Chromium driven by Playwright's sync API, shared by the session's browser tests."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=chromium_path, args=_CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def use_compiled(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A switch of LAI's radiomics passes: ``switch(True)`` the C extensions, ``switch(False)`` numpy.

    It sets ``LAI_RADIOMICS_KERNELS=c|numpy`` and checks that the passes asked for are the ones in use.
    """
    from lai.radiomics import texture

    def switch(on: bool) -> None:
        monkeypatch.setenv("LAI_RADIOMICS_KERNELS", "c" if on else "numpy")
        texture.compiled.cache_clear()
        assert (texture.compiled() is not None) == on
        if not on:
            assert texture.compiled_numeric() is None

    yield switch
    texture.compiled.cache_clear()
