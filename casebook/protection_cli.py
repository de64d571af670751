"""Placeholder: being written (issue 7)."""


def register(sub) -> None:
    pass
