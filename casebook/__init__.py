"""Conversations, cases and everything stored about people: SQLAlchemy models and services."""
