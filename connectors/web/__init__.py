"""The web chat: the page at / and its JSON API."""
