"""X (Twitter) direct messages through the Account Activity webhook and the v2 DM API.

verify (GET CRC, POST X-Twitter-Webhooks-Signature[-OAuth2]) → parse (direct_message_events only,
not our own) → the router stores and answers → render (text; buttons as a text list) → send.
"""
from connectors.x.outreach import XOutreachSender
from connectors.x.send import XSender
from connectors.x.webhook import crc_response, parse, setup, signature_ok

__all__ = ["XOutreachSender", "XSender", "crc_response", "parse", "setup", "signature_ok"]
