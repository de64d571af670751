"""Placeholder: being written (issue 7)."""
from aiohttp import web


def setup(app: web.Application) -> None:
    pass
