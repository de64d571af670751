"""The gateway and one connector per channel: verify, parse, route, render, send."""
