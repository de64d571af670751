"""Translated core articles: every one records its Korean version and adds no number the Korean lacks;
a Korean edit (by hand or in the editor) makes its translations stale and unservable until staff review
them; retrieval in each language finds the right article (floors measured, see README)."""
import re
import shutil
import unicodedata
from difflib import SequenceMatcher
from pathlib import Path

import pytest

from assistant.core.settings import get_settings
from assistant.store.migrate import upgrade
from knowledge import editing, multilingual, translating
from knowledge.articles import ArticleError, load_articles
from knowledge.multilingual import answer_in_language, find_in_language
from knowledge.translations import (
    CORE_ARTICLES,
    LANGUAGES,
    korean_articles,
    load_translations,
    parse_translation,
    source_hash,
    status,
    translation_path,
)
from tests.conftest import ROOT

ARTICLES = ROOT / "knowledge" / "articles"
OLD_KO, NEW_KO = "운영 시간은 전화로 확인해 주세요.", "운영 시간은 전화로 먼저 확인해 주세요."


# --- numbers ------------------------------------------------------------------------------------

def _ascii_digits(text: str) -> str:
    """Thai, Arabic-Indic, full-width … digits → 0-9; thousands separators between digits dropped."""
    text = "".join(str(unicodedata.digit(ch)) if ch.isdigit() else ch for ch in text)
    return re.sub(r"(?<=\d)[,.](?=\d{3}(?!\d))", "", text)


def numbers(text: str) -> tuple[set[str], set[str]]:
    """Every run of digits, and every phone-like group (runs joined by '-', 7 digits or more) with the
    separators removed, so 02-814-3660 must appear whole and 25-2 (제25조의2) need only its parts."""
    text = _ascii_digits(text)
    runs = set(re.findall(r"\d+", text))
    groups = {g.replace("-", "") for g in re.findall(r"\d+(?:-\d+)+", text)}
    return runs, {g for g in groups if len(g) >= 7}


def added_numbers(korean: str, translated: str) -> list[str]:
    k_runs, k_phones = numbers(korean)
    t_runs, t_phones = numbers(translated)
    return sorted((t_runs - k_runs) | (t_phones - k_phones))


def test_the_number_check_catches_a_changed_or_added_number():
    korean = "다시함께상담센터 02-814-3660, 1366 (24시간), 성매매처벌법 제6조, 5메가바이트, 1,000원"
    assert added_numbers(korean, "Centre 02-814-3660, 1366 (24 hours), Article 6, 5 MB, 1000 won") == []
    assert added_numbers(korean, "ศูนย์ ๐๒-๘๑๔-๓๖๖๐") == []  # Thai digits are digits
    assert added_numbers(korean, "Centre 02-814-3661") == ["028143661", "3661"]
    assert added_numbers(korean, "Article 7") == ["7"]
    assert added_numbers(korean, "call 1366-3660") == ["13663660"]  # a phone number made of real parts


def test_every_core_article_is_translated_and_records_its_korean_version():
    korean = korean_articles(ARTICLES)
    translations = load_translations(ARTICLES)  # parsing requires source_hash (16 hex digits)
    have = {(t.id, t.lang) for t in translations}
    assert have >= {(a, lang) for a in CORE_ARTICLES for lang in LANGUAGES}
    for t in translations:
        assert t.id in korean and korean[t.id].published, t.path
        assert re.fullmatch(r"[0-9a-f]{16}", t.source_hash)
        # The shipped translations follow the shipped Korean: edit a Korean article here and update
        # (and have reviewed) its translations in the same change, or this says which are stale.
        assert status(t, korean[t.id]) in ("current", "unreviewed"), f"{t.path} is stale: the Korean changed"


def test_a_translation_without_its_source_version_does_not_load(tmp_path):
    path = tmp_path / "en" / "centre-contact.md"
    with pytest.raises(ArticleError, match="source_hash"):
        parse_translation("---\nid: centre-contact\nlang: en\ntitle: Contact\n---\nCall us.\n", path)


@pytest.mark.parametrize("lang", list(LANGUAGES))
def test_every_number_in_a_translation_appears_in_its_korean_source(lang):
    korean = korean_articles(ARTICLES)
    for t in load_translations(ARTICLES):
        if t.lang != lang:
            continue
        k = korean[t.id]
        source = "\n".join([k.title, k.body, *k.questions])
        assert not added_numbers(source, "\n".join([t.title, t.body, *t.questions])), (t.path, added_numbers(
            source, "\n".join([t.title, t.body, *t.questions])))
        # … and no phone number of the Korean body is lost in translation.
        _, k_phones = numbers(k.body)
        _, t_phones = numbers(t.body)
        short = {n for n in re.findall(r"\b(?:112|119|1366|1345|132)\b", k.body)}
        assert k_phones <= t_phones, (t.path, k_phones - t_phones)
        assert short <= set(re.findall(r"\d+", _ascii_digits(t.body))), (t.path, short)


# --- staleness ------------------------------------------------------------------------------------

EMBEDDINGS = "hashing"  # these tests are about what may be served, not retrieval quality
QUESTION = {"en": "What is the centre's phone number?", "vi": "Số điện thoại của trung tâm là gì?"}


@pytest.fixture
def kb(env, tmp_path):
    shutil.copytree(ARTICLES, tmp_path / "articles")
    env(DASI_KNOWLEDGE_DIR=str(tmp_path / "articles"), DASI_CHROMA_DIR=str(tmp_path / "chroma"),
        DASI_INDEX_DIR=str(tmp_path / "knowledge"), DASI_EMBEDDINGS=EMBEDDINGS)
    upgrade()
    settings = get_settings()
    multilingual.build(settings)
    return settings


def _statuses(settings, article_id: str) -> set[str]:
    return {p.status for p in translating.pairs(settings, article_id)}


def _served(settings, lang: str = "en"):
    return answer_in_language(QUESTION[lang], lang, settings=settings)


def test_a_hand_edit_of_the_korean_file_makes_its_translations_stale(kb):
    before = _served(kb)
    assert before and before.article_id == "centre-contact" and "02-814-3660" in before.text
    assert not before.stale and not before.reviewed and before.lang == "en"
    assert _statuses(kb, "centre-contact") == {"unreviewed"}
    path = kb.knowledge_dir / "centre-contact.md"
    path.write_text(path.read_text(encoding="utf-8").replace(OLD_KO, NEW_KO), encoding="utf-8")
    assert _statuses(kb, "centre-contact") == {"stale"}
    # Not served, with no re-index in between: the files decide.
    assert _served(kb) is None and _served(kb, "vi") is None
    hit = find_in_language(kb, QUESTION["en"], "en")
    assert hit and hit.stale and hit.article_id == "centre-contact" and hit.text == ""
    # Front matter that is not the text (questions, reviewed_at) does not make a translation stale.
    other = kb.knowledge_dir / "migrants-1345.md"
    other.write_text(other.read_text(encoding="utf-8").replace("reviewed_at: 2026-11-24", "reviewed_at: 2026-12-01"),
                     encoding="utf-8")
    assert _statuses(kb, "migrants-1345") == {"unreviewed"}


def test_an_editor_save_makes_them_stale_and_a_review_serves_them_again(kb):
    text = editing.read(kb, "centre-contact")
    result = editing.save(kb, text.replace(OLD_KO, NEW_KO), "user:minji", article_id="centre-contact")
    assert result.changed and _statuses(kb, "centre-contact") == {"stale"} and _served(kb) is None

    # Editing the stale translation keeps it stale: only a review vouches for the new Korean.
    pair = translating.pair(kb, "centre-contact", "en")
    body = pair.translation.body.replace("Please check the opening hours by phone.",
                                         "Please check the opening hours by phone first.")
    saved = translating.save(kb, "centre-contact", "en", pair.translation.title, body, "user:minji",
                             base=pair.file_hash)
    assert saved.saved and not saved.reviewed and saved.index_error is None
    assert translating.pair(kb, "centre-contact", "en").status == "stale" and _served(kb) is None

    # A save from a page opened before that edit is refused.
    with pytest.raises(editing.EditConflict):
        translating.save(kb, "centre-contact", "en", "x", "y", "user:someone", base=pair.file_hash)

    reviewed = translating.save(kb, "centre-contact", "en", pair.translation.title, body, "user:jisu", review=True)
    assert reviewed.reviewed
    t = translating.pair(kb, "centre-contact", "en").translation
    assert t.reviewed_by == "user:jisu" and t.source_hash == source_hash(editing.validate(kb, editing.read(
        kb, "centre-contact"), "centre-contact"))
    assert t.source_revision == result.revision_id  # the editor's revision of the Korean it was reviewed against
    served = _served(kb)
    assert served and served.reviewed and "by phone first" in served.text
    assert _served(kb, "vi") is None  # the other languages are still stale
    # Audited like the article editor: who did what, against which Korean version.
    actions = [(r.action, r.author) for r in translating.history(kb, "centre-contact", "en")]
    assert actions == [("review", "user:jisu"), ("edit", "user:minji")]
    # With review required, an unreviewed translation is not served either.
    assert answer_in_language("Where is the centre?", "en", settings=kb, require_review=True) is not None
    assert answer_in_language(QUESTION["vi"], "vi", settings=kb, require_review=True) is None


def test_an_unpublished_korean_article_takes_its_translations_with_it(kb):
    editing.unpublish(kb, "centre-contact", "user:minji")
    assert _served(kb) is None


def test_bad_input_stores_nothing(kb):
    before = translation_path(kb.knowledge_dir, "centre-contact", "en").read_bytes()
    with pytest.raises(ArticleError):
        translating.save(kb, "centre-contact", "en", "", "body", "user:minji")
    with pytest.raises(ValueError):
        translation_path(kb.knowledge_dir, "../centre-contact", "en")
    with pytest.raises(ValueError):
        translation_path(kb.knowledge_dir, "centre-contact", "xx")
    assert translation_path(kb.knowledge_dir, "centre-contact", "en").read_bytes() == before
    assert translating.history(kb, "centre-contact", "en") == []


# --- retrieval (multilingual e5, the default embeddings) -----------------------------------------

# Top-1 on knowledge/eval/translations/<lang>.jsonl with e5 (hybrid), measured 2026-12-03: our own
# questions, 20 answerable per language. Regression floors, not targets (issue 20 asks ≥ 0.85 on blind sets).
TOP1_FLOOR = {"en": 0.85, "vi": 0.85, "th": 0.75, "zh": 0.80, "ru": 0.75, "tl": 0.70}


@pytest.fixture(scope="module")
def e5_index(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("kb-translations")
    mp = pytest.MonkeyPatch()
    mp.setenv("DASI_ENV_FILE", str(tmp / "none.env"))
    mp.setenv("DASI_CHROMA_DIR", str(tmp / "chroma"))
    mp.setenv("DASI_INDEX_DIR", str(tmp / "knowledge"))
    mp.setenv("DASI_EMBEDDINGS", "e5")  # the vector cache in var/ is shared, so a second run is quick
    get_settings.cache_clear()
    settings = get_settings()
    assert not multilingual.is_current(settings)
    multilingual.build(settings)
    assert multilingual.is_current(settings)
    yield settings, multilingual.TranslationIndex(settings)
    mp.undo()
    get_settings.cache_clear()


def _bare(text: str) -> str:
    return "".join(ch for ch in text.casefold() if ch.isalnum())


@pytest.mark.parametrize("lang", list(LANGUAGES))
def test_questions_in_each_language_find_the_right_article(e5_index, lang):
    settings, index = e5_index
    rows = multilingual.load_language_questions(lang)
    answerable = [r for r in rows if r["ids"]]
    assert len(answerable) >= 5 and len(rows) > len(answerable)
    # Not copied from the translations' (or the Korean articles') own questions and titles.
    own = [_bare(q) for t in load_translations(ARTICLES) if t.lang == lang for q in (*t.questions, t.title)]
    for row in rows:
        assert all(SequenceMatcher(None, _bare(row["q"]), q).ratio() < 0.75 for q in own), row["q"]
    result = multilingual.evaluate_language(index, lang, rows)
    print("\n", result.as_dict())
    assert result.top1 / result.questions >= TOP1_FLOOR[lang]
    assert result.wrongly_answered == 0  # the bar stops every question no core article answers
    assert result.answered >= 0.5 * result.questions  # … and lets at least half the answerable ones through


def test_answer_in_language_gives_the_text_in_that_language(e5_index):
    settings, _ = e5_index
    cases = {"en": ("the agency kept my passport and says I get it back only when I repay the flight money",
                    "rights-passport-taken", "passport"),
             "vi": ("em không nói được tiếng Hàn, có số nào nói tiếng Việt không", "migrants-danuri", "1577-1366"),
             "zh": ("中介扣着我的护照，说还了机票钱才给", "rights-passport-taken", "护照")}
    for lang, (q, article_id, word) in cases.items():
        found = answer_in_language(q, lang, settings=settings)
        assert found and found.article_id == article_id and word in found.text and found.confidence > 0, (lang, found)
        assert "**" not in found.text and "## " not in found.text
    assert answer_in_language("what's the weather like in Seoul tomorrow", "en", settings=settings) is None
    assert answer_in_language("anything", "ko", settings=settings) is None  # Korean goes through the Korean NLU


def test_shipped_korean_articles_still_load_with_the_translations_folder_beside_them():
    assert len(load_articles(ARTICLES, include_drafts=True)) == len(list(Path(ARTICLES).glob("*.md")))
