"""Instagram and Facebook Messenger through Meta's webhooks and Send API.

verify (GET hub.challenge, POST X-Hub-Signature-256) → parse (every entry[], messaging[] and
standby[] item) → the router stores and answers → render (1,000-byte parts, quick replies) → send.
"""
from connectors.meta.send import MetaSender, reply_window
from connectors.meta.webhook import parse, setup, signature_ok

__all__ = ["MetaSender", "parse", "reply_window", "setup", "signature_ok"]
