"""Who may see and change which case, person and conversation: supervisors every case, counsellors the
cases they own or are members of (and people behind conversations they hold or held), others nothing."""
from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from casebook.cases.errors import CaseError, bad_input, denied
from casebook.cases.inputs import NUMBER
from casebook.conversations import queue
from casebook.models import (
    Assignment,
    Case,
    CaseMember,
    Conversation,
    User,
)
from casebook.staff.accounts import SignedIn

CASE_ROLES = ("counsellor", "supervisor")


def require_case_role(user: SignedIn) -> None:
    if user.role not in CASE_ROLES:
        raise CaseError(403, "forbidden", "role")


def own_or_member(user: SignedIn):
    members = select(CaseMember.case_id).where(CaseMember.user_id == user.user_id)
    return or_(Case.owner_id == user.user_id, Case.id.in_(members))


def visible(user: SignedIn):
    """The WHERE clause for the cases this user may see."""
    require_case_role(user)
    return true() if user.role == "supervisor" else own_or_member(user)


async def find_case(session: AsyncSession, user: SignedIn, number: Any, action: str) -> Case:
    require_case_role(user)
    if not isinstance(number, str) or not NUMBER.match(number):
        raise CaseError(404, "not_found", "no_case")
    case = (await session.scalars(select(Case).where(Case.number == number))).first()
    if case is None:
        raise CaseError(404, "not_found", "no_case")
    if user.role != "supervisor" and not await may_see(session, user, case):
        raise denied(action, "case", number, "case_denied")
    return case


async def check_access(session: AsyncSession, user: SignedIn, number: str, action: str) -> None:
    """Refuse (CaseError) unless this user may work on the case; nothing is recorded when allowed."""
    await find_case(session, user, number, action)


async def may_see(session: AsyncSession, user: SignedIn, case: Case) -> bool:
    if user.role == "supervisor":
        return True
    if user.role != "counsellor":
        return False
    if case.owner_id == user.user_id:
        return True
    return (await session.scalar(select(CaseMember.id).where(
        CaseMember.case_id == case.id, CaseMember.user_id == user.user_id))) is not None


async def may_see_person(session: AsyncSession, user: SignedIn, person_id: int) -> bool:
    """Supervisors: everyone. Counsellors: people in one of their cases or behind a conversation they
    hold or held."""
    if user.role == "supervisor":
        return True
    if user.role != "counsellor":
        return False
    if await session.scalar(select(Case.id).where(Case.person_id == person_id, own_or_member(user)).limit(1)):
        return True
    held = select(Assignment.conversation_id).where(Assignment.user_id == user.user_id)
    return bool(await session.scalar(select(Conversation.id).where(
        Conversation.person_id == person_id,
        or_(Conversation.assignee_id == user.user_id, Conversation.id.in_(held))).limit(1)))


async def staff_member(session: AsyncSession, login: Any) -> User:
    if not isinstance(login, str) or not login:
        raise bad_input("login", "login_shape")
    target = (await session.scalars(select(User).where(User.login == login[:60]))).first()
    if target is None or target.disabled or target.role not in CASE_ROLES:
        raise bad_input("login", "no_staff")
    return target


async def readable_conversation(session: AsyncSession, user: SignedIn, public_id: Any, action: str) -> Conversation:
    if not isinstance(public_id, str) or not 1 <= len(public_id) <= 36:
        raise bad_input("conversation_id", "conversation_shape")
    conv = (await session.scalars(select(Conversation).where(Conversation.public_id == public_id))).first()
    if conv is None:
        raise CaseError(404, "not_found", "no_conversation")
    if not await queue.may_read(session, user, conv):
        raise denied(action, "conversation", conv.public_id, "conversation_denied")
    return conv
