"""`dasi kb ...`: the knowledge base's commands (reindex, search, eval, validate, import, export)."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from assistant.core.settings import get_settings


def cmd_kb_reindex(args: argparse.Namespace) -> int:
    from knowledge import index

    settings = get_settings()
    if not args.force and index.is_current(settings):
        print("knowledge index is current")
        return 0

    def progress(done: int, total: int) -> None:
        if not getattr(args, "quiet", False):
            bar = "#" * int(30 * done / total)
            print(f"\r[{bar:<30}] {done}/{total}", end="", file=sys.stderr, flush=True)

    n = index.build(settings, progress)
    from knowledge import multilingual

    n += multilingual.build(settings)  # the translations' per-language index (knowledge/multilingual.py)
    print(f"\nknowledge index built: {n} documents", file=sys.stderr) if not getattr(args, "quiet", False) else \
        print(f"knowledge index built: {n} documents")
    return 0


def cmd_kb_search(args: argparse.Namespace) -> int:
    from knowledge.index import KnowledgeIndex

    hits = KnowledgeIndex(get_settings()).search(args.query, k=args.top)
    rows = [{"id": h.article.id, "title": h.article.title, "score": round(h.confidence, 4)} for h in hits]
    if args.json:
        print(json.dumps(rows, ensure_ascii=False))
    else:
        for r in rows:
            print(f"{r['score']:.3f}  {r['id']}  {r['title']}")
    return 0


def cmd_kb_eval(args: argparse.Namespace) -> int:
    from knowledge.evaluate import evaluate, load_questions
    from knowledge.index import KnowledgeIndex

    settings = get_settings()
    result = evaluate(KnowledgeIndex(settings), load_questions(Path(args.file)), mode=args.mode,
                      threshold=settings.kb_min_confidence)
    print(json.dumps(result.as_dict(), ensure_ascii=False))
    if args.show_misses:
        for q in result.misses:
            print(f"miss: {q}", file=sys.stderr)
        for q in result.wrongly_answered:
            print(f"answered, though no article answers it: {q}", file=sys.stderr)
    return 0


def cmd_kb_eval_translations(args: argparse.Namespace) -> int:
    """Top-1 per language on knowledge/eval/translations/<lang>.jsonl, and the bar each language would get."""
    from knowledge import multilingual

    settings = get_settings()
    if not multilingual.is_current(settings):
        multilingual.build(settings)
    idx = multilingual.TranslationIndex(settings)
    suggested = {}
    # --file: one JSONL of {"lang", "q", "ids"} for every language (a blind set); else our own questions.
    rows = [json.loads(line) for line in args.file.read_text(encoding="utf-8").splitlines() if line.strip()] \
        if args.file else None
    for lang in multilingual.LANGUAGES:
        questions = [r for r in rows if r["lang"] == lang] if rows is not None \
            else multilingual.load_language_questions(lang)
        result = multilingual.evaluate_language(idx, lang, questions, mode=args.mode)
        suggested[lang] = result.suggested_bar
        print(json.dumps(result.as_dict(), ensure_ascii=False))
    if args.write_bars:
        data = json.loads(multilingual.BARS_FILE.read_text(encoding="utf-8"))
        data[settings.embeddings] = suggested
        multilingual.BARS_FILE.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        print(f"bars for {settings.embeddings} written to {multilingual.BARS_FILE}", file=sys.stderr)
    return 0


def cmd_kb_validate(args: argparse.Namespace) -> int:
    from knowledge.articles import ArticleError, load_articles

    try:
        articles = load_articles(get_settings().knowledge_dir, include_drafts=True)
    except ArticleError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    from knowledge.translations import load_translations

    try:
        translations = load_translations(get_settings().knowledge_dir)
    except ArticleError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"{len(articles)} articles and {len(translations)} translations are valid")
    return 0


def cmd_kb_import(args: argparse.Namespace) -> int:
    """All files are validated first: one invalid file and nothing is imported."""
    from knowledge.editing import InvalidArticles, import_dir

    try:
        changed = import_dir(get_settings(), Path(args.dir), author="cli")
    except InvalidArticles as exc:
        for err in exc.errors:
            print(err, file=sys.stderr)
        print(f"nothing imported: {len(exc.errors)} invalid file(s)", file=sys.stderr)
        return 1
    print(f"imported {len(changed)} changed article(s){': ' + ', '.join(changed) if changed else ''}")
    return 0


def cmd_kb_export(args: argparse.Namespace) -> int:
    from knowledge.editing import export_dir

    print(f"exported {export_dir(get_settings(), Path(args.dir))} article(s) to {args.dir}")
    return 0


def register(sub: Any) -> None:
    kb = sub.add_parser("kb", help="knowledge base").add_subparsers(dest="kb_command", required=True)
    reindex = kb.add_parser("reindex", help="rebuild the index")
    reindex.add_argument("--force", action="store_true", default=True)
    reindex.set_defaults(func=cmd_kb_reindex)
    search = kb.add_parser("search", help="search the knowledge base")
    search.add_argument("query")
    search.add_argument("--top", type=int, default=3)
    search.add_argument("--json", action="store_true")
    search.set_defaults(func=cmd_kb_search)
    kb.add_parser("validate", help="check every article's front matter").set_defaults(func=cmd_kb_validate)
    ev = kb.add_parser("eval", help="recall@1, recall@3, MRR and the share past the confidence bar on a question "
                                    "file (JSONL with q and ids; ids [] = no article answers it)")
    ev.add_argument("file")
    ev.add_argument("--mode", choices=["hybrid", "bm25", "vector"], default="hybrid")
    ev.add_argument("--show-misses", action="store_true")
    ev.set_defaults(func=cmd_kb_eval)
    evt = kb.add_parser("eval-translations", help="top-1 per language on knowledge/eval/translations/*.jsonl")
    evt.add_argument("--mode", choices=["hybrid", "bm25", "vector"], default="hybrid")
    evt.add_argument("--write-bars", action="store_true", help="keep the measured bars in bars.json")
    evt.add_argument("--file", type=Path, help="questions of every language in one JSONL (e.g. the blind set)")
    evt.set_defaults(func=cmd_kb_eval_translations)
    kb_import = kb.add_parser("import", help="validate, copy in and index the articles of a folder")
    kb_import.add_argument("dir")
    kb_import.set_defaults(func=cmd_kb_import)
    kb_export = kb.add_parser("export", help="copy every article (drafts too) to a folder")
    kb_export.add_argument("dir")
    kb_export.set_defaults(func=cmd_kb_export)
