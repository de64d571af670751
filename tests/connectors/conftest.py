"""Fixtures the channel tests share."""
import pytest
from aiohttp.test_utils import TestClient, TestServer

from assistant.core.settings import get_settings
from assistant.store.migrate import upgrade
from connectors.gateway import create_app
from tests.conftest import free_port


@pytest.fixture
async def rasa_down_client(env):
    """The real gateway app with Rasa and the action server not running (nothing listens there)."""
    env(DASI_RASA_URL=f"http://127.0.0.1:{free_port()}", DASI_ACTIONS_URL=f"http://127.0.0.1:{free_port()}",
        DASI_RASA_TIMEOUT="1")
    upgrade()
    async with TestClient(TestServer(create_app(get_settings()))) as c:
        yield c
