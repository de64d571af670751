"""What the hypothesis fuzz tests share: the settings and the strategies for JSON values and bodies
(tests/connectors/test_connector_fuzz.py for the webhooks, tests/connectors/test_api_fuzz.py for every
JSON route, tests/detection/test_detection_review_api.py for the review queue)."""
from __future__ import annotations

import json
import os

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

# 60 examples keep CI fast; DASI_FUZZ_EXAMPLES=500 for a longer local hunt.
EXAMPLES = int(os.environ.get("DASI_FUZZ_EXAMPLES", "60"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False) | st.text(max_size=50),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=15), children, max_size=5),
    max_leaves=30)

ascii_junk = st.text(st.characters(min_codepoint=33, max_codepoint=126), max_size=80)

# Bodies no route may answer with a 500: bytes, any JSON, over 64 KiB, nested past the parser, not UTF-8.
hostile_bodies = st.one_of(
    st.binary(max_size=300),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.just(b'{"text": "' + b"x" * 70_000 + b'"}'),
    st.just(b"[" * 5000 + b"]" * 5000),
    st.just(b"\xff\xfe{not utf-8}"))
