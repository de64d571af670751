"""Property-based fuzzing of the three webhooks: malformed JSON, wrong types, huge bodies and bad
signatures never give a 500, and a forged request never stores a message."""
from __future__ import annotations

import json
import urllib.parse

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fakes import harness as hz
from tests.fakes.server import dumps
from tests.fuzzing import FUZZ, ascii_junk, hostile_bodies, json_values


def paths(obj, prefix=()):
    yield prefix
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from paths(v, prefix + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from paths(v, prefix + (i,))


@st.composite
def mutated(draw, platform: str):
    """A documented payload with one part replaced by something of the wrong type or shape."""
    payload = hz.fixture(platform, draw(st.sampled_from(hz.fixtures(platform))))
    path = draw(st.sampled_from(list(paths(payload))[1:]))
    target = payload
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = draw(json_values)
    return dumps(payload)


def bodies(platform: str):
    return st.one_of(hostile_bodies, mutated(platform),
                     st.just(b'{"object": "instagram", "entry": [' + b'{"id": "1"},' * 7000 + b'{}]}'))  # > 64 KiB


@pytest.fixture
def h(env, tmp_path):
    h = hz.start(env, tmp_path)
    yield h
    h.close()


def forged_headers(platform: str, body: bytes, junk: str, mode: int) -> dict:
    """0: no signature, 1: junk, 2: a correct-looking signature made with the wrong secret."""
    name = {"meta": "X-Hub-Signature-256", "x": "X-Twitter-Webhooks-Signature-OAuth2",
            "kakao": "X-Skill-Secret"}[platform]
    if mode == 0:
        return {}
    if mode == 1:
        return {name: junk}
    sign = {"meta": hz.hex_signature, "x": hz.b64_signature, "kakao": lambda secret, b: secret}[platform]
    return {name: sign("wrong-" + junk, body)}


PATHS = {"meta": "/webhooks/meta", "x": "/webhooks/x", "kakao": "/webhooks/kakao"}


@pytest.mark.parametrize("platform", ["meta", "x", "kakao"])
def test_forged_requests_are_refused_and_store_nothing(h, platform):
    @FUZZ
    @given(body=st.one_of(bodies(platform), st.sampled_from(hz.fixtures(platform)).map(
        lambda n: dumps(hz.fixture(platform, n)))), junk=ascii_junk, mode=st.integers(0, 2))
    def check(body, junk, mode):
        status, _, raw, _ = h.post(PATHS[platform], body, forged_headers(platform, body, junk, mode))
        assert status in (401, 403, 413), (status, raw[:200])
        assert json.loads(raw)["error"]
    check()
    h.idle()
    assert h.messages() == [] and h.meta.sent == [] and h.x.sent == [] and h.kakao.calls == 0


@pytest.mark.parametrize("platform", ["meta", "x", "kakao"])
def test_signed_garbage_never_gives_a_500(h, platform):
    sign = {"meta": lambda b: {"X-Hub-Signature-256": hz.hex_signature(hz.META_SECRET, b)},
            "x": lambda b: {"X-Twitter-Webhooks-Signature-OAuth2": hz.b64_signature(hz.X_CLIENT, b)},
            "kakao": lambda b: {"X-Skill-Secret": hz.KAKAO_SECRET}}[platform]

    @FUZZ
    @given(body=bodies(platform))
    def check(body):
        status, _, raw, _ = h.post(PATHS[platform], body, sign(body))
        assert status < 500, (status, raw[:300])
        if status >= 400:
            assert json.loads(raw)["error"]
    check()
    h.idle()
    assert all(m.delivery in ("sent", "stored") for m in h.messages(direction="out"))
    assert not h.meta.rejected and not h.x.rejected and not h.kakao.rejected


def test_the_x_crc_signs_nothing_that_is_then_accepted_as_a_body(h):
    """Security review, finding 1: the CRC's answer has the webhook signature's key and format, so whatever
    it signs, posted back with that answer as the signature, must never be taken as events."""
    small_json = json_values.map(lambda v: json.dumps(v, separators=(",", ":"), ensure_ascii=False))
    dm = hz.fixture("x", "dm_text.json")

    @FUZZ
    @given(token=st.one_of(st.text(max_size=60), ascii_junk, small_json,
                           st.just(json.dumps(dm, separators=(",", ":"), ensure_ascii=False))))
    def check(token):
        status, _, raw, _ = h.get("/webhooks/x?" + urllib.parse.urlencode({"crc_token": token}))
        assert status in (200, 400), (status, raw[:200])
        signature = json.loads(raw).get("response_token")
        if signature:
            headers = {"X-Twitter-Webhooks-Signature-OAuth2": signature}
            posted, _, raw, _ = h.post("/webhooks/x", token.encode(), headers)
            assert posted == 400, (token, posted, raw[:200])  # signed, but never a JSON object
    check()
    h.idle()
    assert h.messages() == [] and h.x.sent == []


def test_channels_without_secrets_are_off(env, tmp_path):
    h = hz.start(env, tmp_path, channels=False)
    try:
        for path in PATHS.values():
            assert h.post(path, b"{}")[0] == 404
        assert h.get("/webhooks/meta?hub.mode=subscribe&hub.challenge=1&hub.verify_token=")[0] == 404
        assert h.get("/webhooks/x?crc_token=abc")[0] == 404
    finally:
        h.close()
