"""Each router on an app of its own: the routes take everything from the ServerContext in app.state."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from pcnn_fer.serve.context import ServerContext
from pcnn_fer.serve.errors import install_error_handlers
from pcnn_fer.serve.settings import ServeSettings


@pytest.fixture
def alone(recognizer):
    """alone(router, **settings) -> a TestClient of an app holding that router only; closed after the test."""
    clients = []

    def start(router, **settings) -> TestClient:
        app = FastAPI()
        app.state.context = ServerContext.start(recognizer, ServeSettings(**settings))
        install_error_handlers(app)
        app.include_router(router)
        client = TestClient(app)
        clients.append(client)
        return client

    yield start
    for client in clients:
        client.app.state.context.close()
