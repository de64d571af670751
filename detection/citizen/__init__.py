"""Citizen reports (시민제보): anyone may report an ad on the public page `/report` or in the chat, without
an account or a name, and check it later with a receipt code. A report becomes a `citizen` post in the
detection pipeline (safe fetch of its link, OCR of its screenshots, the classifier, clusters, evidence)
and waits in the review queue; staff decisions there are what the receipt shows.

Layers (checked): `routes` (HTTP, thin) → `worker` (the gateway's background processing) | `stats` →
`service` → `images | store` → `tables`."""
