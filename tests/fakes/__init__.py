"""Local stand-ins for the platforms (Kakao, Meta, X) that speak their documented wire format,
check what the connectors send, and can be told to answer 429 or 500."""
