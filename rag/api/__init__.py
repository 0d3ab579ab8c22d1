"""The HTTP API: FastAPI app (`create_app`) over one Pipeline, served by uvicorn (`rag serve`)."""

from rag.api.app import create_app

__all__ = ["create_app"]
