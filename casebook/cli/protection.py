"""`dasi keys new|rotate`, `dasi retention run [--apply]`, `dasi people erase ID [--yes]`.

Output names records (case numbers, ids, counts, ages) and never their content."""
from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.engine import Engine

from assistant.core.settings import get_settings
from assistant.store.db import dispose_sync_engines, sync_engine


def _err(message: str) -> int:
    print(f"오류: {message}", file=sys.stderr)
    return 1


@contextmanager
def _engine() -> Iterator[Engine]:
    """The store's sync engine, disposed when the command is done (it may VACUUM the file afterwards)."""
    try:
        yield sync_engine(get_settings().database_url)
    finally:
        dispose_sync_engines()


def _scrub(engine) -> None:
    """Old tokens and erased content must not linger in the database files either."""
    from assistant.store.keys import scrub

    if engine.dialect.name == "sqlite":
        if not scrub(engine):
            print("주의: SQLite 파일을 정리(VACUUM)하지 못했습니다 (사용 중). 나중에 다시 실행하세요.", file=sys.stderr)
    else:
        print("참고: PostgreSQL은 바뀌기 전 행을 VACUUM FULL 전까지 데이터 파일에 남깁니다. "
              "점검 시간에 VACUUM FULL을 실행하세요.", file=sys.stderr)


class BadKeySetting(RuntimeError):
    pass


def _check_keys() -> None:
    from cryptography.fernet import Fernet

    keys = get_settings().data_keys
    if not keys:
        raise BadKeySetting("DASI_DATA_KEY가 비어 있습니다 (.env 또는 환경 변수)")
    for n, key in enumerate(keys, start=1):
        try:
            Fernet(key.encode())
        except ValueError:
            raise BadKeySetting(f"DASI_DATA_KEY의 {n}번째 키가 올바른 Fernet 키가 아닙니다") from None


def _same_keys(engine) -> None:
    """Erasing writes fresh tokens (empty values): refuse if the configured keys are not the ones the
    data was written with, or those rows would become unreadable with the real key."""
    from assistant.store.keys import preflight

    preflight(engine)


def _guarded(func):
    """Errors an operator can act on become one Korean line and exit code 1, never a traceback."""
    def run(args: argparse.Namespace) -> int:
        from sqlalchemy.exc import SQLAlchemyError

        from assistant.store.crypto import MissingKeyError
        from assistant.store.keys import RotationRefused
        from casebook.protection.retention import TrackerError

        try:
            _check_keys()
            return func(args)
        except (RotationRefused, TrackerError, BadKeySetting) as exc:
            return _err(str(exc))
        except MissingKeyError as exc:
            return _err(f"데이터 키 문제 — 설정된 DASI_DATA_KEY로 복호화할 수 없습니다 ({exc})")
        except SQLAlchemyError as exc:
            return _err(f"데이터베이스 오류 ({type(exc).__name__}): `dasi db upgrade`를 실행했는지, "
                        "DASI_DATABASE_URL이 맞는지 확인하세요")
    run.__doc__ = func.__doc__
    return run


def cmd_keys_new(args: argparse.Namespace) -> int:
    from assistant.store.crypto import new_data_key

    key = new_data_key()
    print(key)
    print("\n이 키를 .env의 DASI_DATA_KEY 맨 앞에 쉼표로 붙이세요 (새 키가 암호화, 모든 키가 복호화):", file=sys.stderr)
    print(f"  DASI_DATA_KEY={key},<지금의 키>", file=sys.stderr)
    print("서비스를 다시 시작한 뒤 `dasi keys rotate`로 모든 데이터를 새 키로 다시 암호화하고,"
          " 그다음에 옛 키를 지우세요. 키는 안전한 곳에 따로 보관하세요.", file=sys.stderr)
    return 0


@_guarded
def cmd_keys_rotate(args: argparse.Namespace) -> int:
    from assistant.store import keys

    if len(get_settings().data_keys) < 2:
        print("알림: DASI_DATA_KEY에 키가 하나뿐입니다 — 옛 키로 암호화된 값은 다시 암호화할 수 없습니다.",
              file=sys.stderr)

    def progress(name: str, count: keys.ColumnCount) -> None:
        print(f"\r{name}: {count.rotated}건 재암호화", end="", file=sys.stderr, flush=True)

    with _engine() as engine:
        report = keys.rotate_all(engine, batch=args.batch, progress=progress)
        if any(c.rotated for c in report.columns.values()):
            _scrub(engine)
    print(file=sys.stderr)
    tables: dict[str, keys.ColumnCount] = {}
    for name, c in report.columns.items():
        t = tables.setdefault(name.split(".", 1)[0], keys.ColumnCount())
        t.rotated, t.current = t.rotated + c.rotated, t.current + c.current
        t.unreadable, t.changed = t.unreadable + c.unreadable, t.changed + c.changed
    print(f"{'테이블 (암호화된 값 수)':<24}{'재암호화':>10}{'이미 새 키':>12}{'열 수 없음':>12}")
    for name, c in tables.items():
        print(f"{name:<24}{c.rotated:>10}{c.current:>12}{c.unreadable:>12}")
    ev = report.evidence_files
    print(f"{'evidence files':<24}{ev.rotated:>10}{ev.current:>12}{ev.unreadable:>12}")
    if report.evidence_log_old:
        print(f"주의: 증거 로그 항목 {report.evidence_log_old}개는 해시 체인 때문에 다시 암호화하지 않았습니다. "
              "증거를 검증해야 하는 동안은 옛 키를 DASI_DATA_KEY 뒤쪽에 남겨 두세요.")
    if report.changed:
        print(f"주의: 작업 중에 {report.changed}개 값이 바뀌었습니다. `dasi keys rotate`를 한 번 더 실행하세요.")
    if report.unreadable:
        return _err(f"{report.unreadable}개 값은 설정된 어떤 키로도 열 수 없습니다. 그 값을 암호화한 키를 "
                    "DASI_DATA_KEY에 추가해 다시 실행하세요; 그 전에는 옛 키를 지우지 마세요.")
    if report.changed:
        return 1
    print("완료: 모든 값이 첫 번째 키로 암호화되어 있습니다.")
    return 0


@_guarded
def cmd_retention_run(args: argparse.Namespace) -> int:
    from sqlalchemy.orm import Session

    from casebook.protection import retention

    settings = get_settings()
    case_days = args.case_days or settings.retention_case_days
    conv_days = args.conversation_days or settings.retention_conversation_days
    if case_days < 1 or conv_days < 1:
        return _err("보존 기간은 1일 이상이어야 합니다")
    with _engine() as engine:
        with Session(engine) as s:
            plan = retention.plan(s, case_days, conv_days)
        mode = "적용" if args.apply else "시험 실행 (아무것도 지우지 않음; 지우려면 --apply)"
        print(f"보존 기간: 종결 사례 {case_days}일, 미연결 대화 {conv_days}일 — {mode}")
        print(f"사례 {len(plan.cases)}건")
        for item in plan.cases[:args.limit]:
            print(f"  {item.number}  종결 후 {plan.age_days(item)}일")
        if len(plan.cases) > args.limit:
            print(f"  … 외 {len(plan.cases) - args.limit}건")
        linked = sum(1 for c in plan.conversations if c.linked)
        by_channel = ", ".join(f"{k} {v}" for k, v in sorted(retention.channel_counts(plan.conversations).items()))
        print(f"대화 {len(plan.conversations)}건 (미연결 {len(plan.conversations) - linked}, 연결 {linked})"
              + (f": {by_channel}" if by_channel else ""))
        print(f"사람 {len(plan.persons)}명 (이름·연락처 삭제)")
        if not args.apply:
            return 0
        _same_keys(engine)
        if args.skip_trackers:
            print("주의: Rasa tracker store의 대화 기록은 지우지 않습니다 (--skip-trackers).", file=sys.stderr)

        def progress(what: str, done: int, total: int) -> None:
            print(f"\r{what}: {done}/{total}", end="", file=sys.stderr, flush=True)

        result = retention.apply(engine, plan, progress=progress, skip_trackers=args.skip_trackers)
        _scrub(engine)
    print(file=sys.stderr)
    print(f"삭제 완료: 사례 {result.cases}건, 대화 {result.conversations}건, 사람 {result.persons}명, "
          f"Rasa 기록 {result.tracker_events}건")
    return 0


@_guarded
def cmd_people_erase(args: argparse.Namespace) -> int:
    from sqlalchemy.orm import Session

    from casebook.protection import retention

    with _engine() as engine:
        _same_keys(engine)
        with Session(engine) as s:
            try:
                ep = retention.erase_plan(s, args.id)
            except retention.UnknownPerson:
                return _err(f"ID {args.id}인 사람이 없습니다. 아무것도 바뀌지 않았습니다.")
        print(f"사람 {ep.person_id}: 사례 {len(ep.case_ids)}건 ({', '.join(ep.case_numbers) or '-'}), "
              f"대화 {len(ep.conversations)}건의 내용을 지웁니다.")
        if not args.yes:
            if not sys.stdin.isatty():
                return _err("확인이 필요합니다: --yes를 붙여 다시 실행하세요. 아무것도 바뀌지 않았습니다.")
            if input(f"지우려면 ID({args.id})를 입력하세요: ").strip() != str(args.id):
                return _err("취소했습니다. 아무것도 바뀌지 않았습니다.")
        try:
            who = {"os_user": getpass.getuser()}
        except (OSError, KeyError):  # no login name in some containers
            who = {}
        if args.by:
            who["requested_by"] = args.by[:60]
        ep, events = retention.erase_person(engine, args.id, skip_trackers=args.skip_trackers, **who)
        _scrub(engine)
    print(f"삭제 완료: 사람 {ep.person_id}, 사례 {len(ep.case_ids)}건, 대화 {len(ep.conversations)}건, "
          f"Rasa 기록 {events}건. 감사 로그에 person.erase로 남겼습니다.")
    return 0


def _positive(value: str) -> int:
    n = int(value)
    if n < 1:
        raise argparse.ArgumentTypeError("must be ≥ 1")
    return n


def register(sub) -> None:
    keys = sub.add_parser("keys", help="data encryption keys").add_subparsers(dest="keys_command", required=True)
    keys.add_parser("new", help="print a new data key and how to add it").set_defaults(func=cmd_keys_new)
    rotate = keys.add_parser("rotate", help="re-encrypt everything under the first DASI_DATA_KEY")
    rotate.add_argument("--batch", type=_positive, default=500, help="rows per transaction")
    rotate.set_defaults(func=cmd_keys_rotate)

    ret = sub.add_parser("retention", help="purge expired content").add_subparsers(dest="retention_command",
                                                                                  required=True)
    run = ret.add_parser("run", help="show (default) or purge (--apply) what is past its retention period")
    run.add_argument("--apply", action="store_true", help="really erase (default: dry run)")
    run.add_argument("--case-days", type=_positive, default=None, help="override DASI_RETENTION_CASE_DAYS")
    run.add_argument("--conversation-days", type=_positive, default=None,
                     help="override DASI_RETENTION_CONVERSATION_DAYS")
    run.add_argument("--skip-trackers", action="store_true", help="do not touch Rasa's tracker store")
    run.add_argument("--limit", type=_positive, default=500, help="case numbers listed at most")
    run.set_defaults(func=cmd_retention_run)

    people = sub.add_parser("people", help="people (contacts)").add_subparsers(dest="people_command", required=True)
    erase = people.add_parser("erase", help="honour a deletion request: erase a person's content everywhere")
    erase.add_argument("id", type=int)
    erase.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    erase.add_argument("--by", default="", help="who handled the request (recorded in the audit log)")
    erase.add_argument("--skip-trackers", action="store_true", help="do not touch Rasa's tracker store")
    erase.set_defaults(func=cmd_people_erase)
