"""LLM conversations: Label Studio's ``<Chat>`` object and its ``chatmessage`` results.

``<Chat name="chat" value="$chat">`` shows a conversation given in task data as a list of
messages ``{"role": "user", "content": "..."}`` (roles as Label Studio names them: ``user``,
``assistant``, ``system``, ``tool``, ``developer``). Label Studio's ``<Chat>`` is an object and
its own control at once (label-studio-sdk's ``ChatMessageTag``: ``from_name == to_name``): a
message the annotator adds is one result item, a region of its own, stored as Label Studio
stores it::

    {"id": "k3J9x", "from_name": "chat", "to_name": "chat", "type": "chatmessage",
     "value": {"chatmessage": {"role": "user", "content": "Hello", "createdAt": 1755872989436}}}

The parser adds that control (tag ``ChatMessage``, named after the chat) for every ``<Chat>``,
as the SDK does; ``<ChatMessage>`` is not written in configs.

Controls with ``toName`` the chat answer for the whole conversation (one item per task), or
per message with ``perRegion="true"``: one item per message carrying the message's ``id``
(Label Studio's per-region results). Messages added in the annotation are named by their
item's ``id``; the messages of the task data by :func:`message_id` (their own ``"id"`` when
they have one, else ``"msg-<index>"``) — Label Studio Enterprise's editor, whose source is not
public, is not known to store answers to task-data messages otherwise. A ``<View
visibleWhen="region-selected" whenRole="assistant">`` around per-message controls limits them
to messages of those roles (``ControlSpec.when_roles``).

The chat's attributes (:class:`ChatOptions`): ``messageroles`` (the roles the annotator may
add messages as; Label Studio's default ``user,assistant``, or ``user`` with ``llm``),
``editable`` (``true``/``false`` or roles), ``minMessages`` and ``maxMessages`` (a number or
``$field``; checked on the data's and the annotation's messages together) and ``llm``, which
is kept but never called: labelfab sends no conversation to a model provider.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from labeling.schema.tags import ControlTag, ObjectTag, attr, is_int, is_number

if TYPE_CHECKING:
    from labeling.schema.model import ControlSpec, LabelSchema

__all__ = [
    "CHAT",
    "CHATMESSAGE",
    "CONTROL_TAGS",
    "OBJECT_TAGS",
    "ROLES",
    "ChatOptions",
    "chat_message_problems",
    "data_messages",
    "message_id",
]

#: The roles Label Studio's Chat knows.
ROLES = ("user", "assistant", "system", "tool", "developer")
#: Bounds on what a chat may hold (messages and characters per message).
MAX_MESSAGES = 10_000
MAX_CONTENT = 200_000


class ChatOptions(BaseModel):
    """A ``<Chat>``'s attributes as labelfab keeps them (:attr:`ObjectSpec.chat`).

    Attributes
    ----------
    message_roles : list of str
        Roles the annotator may add messages as (``messageroles``).
    editable : list of str
        Roles whose added messages the annotator may edit (``editable="true"``: every role, so
        also the assistant's replies where ``message_roles`` is the user alone; ``"false"`` or
        absent: none). It governs editing only: the composer stays, as in Label Studio.
    min_messages, max_messages : int or str or None
        ``minMessages`` / ``maxMessages``: a number, or the task data field (``"max"`` for
        ``"$max"``) holding it.
    llm : str or None
        ``llm="<provider>/<model>"``, kept as written; labelfab calls no model.
    """

    model_config = ConfigDict(frozen=True)

    message_roles: list[str] = ["user", "assistant"]
    editable: list[str] = []
    min_messages: int | str | None = None
    max_messages: int | str | None = None
    llm: str | None = None


def _roles(text: str | None) -> list[str]:
    return [r.strip() for r in (text or "").split(",") if r.strip()]


def _count(el: Any, name: str) -> tuple[int | str | None, str | None]:
    raw = attr(el, name)
    if raw is None:
        return None, None
    raw = raw.strip()
    if raw.startswith("$") and len(raw) > 1:
        return raw[1:], None
    if raw.isascii() and raw.isdigit() and int(raw) <= MAX_MESSAGES:
        return int(raw), None
    return None, f'has {name}="{raw}"; use a whole number up to {MAX_MESSAGES:,} or "$field"'


def _options(el: Any) -> tuple[ChatOptions, list[str]]:
    problems = []
    llm = attr(el, "llm")
    given = _roles(attr(el, "messageroles") or attr(el, "messageRoles"))
    roles = given or (["user"] if llm else ["user", "assistant"])
    unknown = [r for r in roles if r not in ROLES]
    if unknown:
        problems.append(f"has messageroles with unknown role(s) {unknown}; roles are {', '.join(ROLES)}")
    editable_raw = (attr(el, "editable") or "false").strip()
    if editable_raw.lower() == "true":  # Label Studio: every message, the LLM's replies too
        editable = list(ROLES)
    elif editable_raw.lower() == "false":
        editable = []
    else:
        editable = _roles(editable_raw)
        bad = [r for r in editable if r not in ROLES]
        if bad:
            problems.append(f'has editable="{editable_raw}"; use "true", "false" or roles among {", ".join(ROLES)}')
    low, problem_low = _count(el, "minMessages")
    high, problem_high = _count(el, "maxMessages")
    problems += [p for p in (problem_low, problem_high) if p]
    if is_int(low) and is_int(high) and low > high:
        problems.append(f"has minMessages={low} above maxMessages={high}")
    options = ChatOptions(message_roles=roles, editable=editable, min_messages=low, max_messages=high, llm=llm)
    return options, problems


def _chat_attrs(el: Any) -> list[str]:
    return _options(el)[1]


def _chat_fields(el: Any) -> dict[str, Any]:
    return {"chat": _options(el)[0]}


def _messages_problem(key: str, value: Any) -> str | None:
    if not isinstance(value, list):
        return (f'data field {key!r} must be a list of chat messages ({{"role": ..., "content": ...}}), '
                f"or an empty list; got {type(value).__name__}")
    if len(value) > MAX_MESSAGES:
        return f"data field {key!r} holds {len(value):,} messages; the limit is {MAX_MESSAGES:,}"
    for n, message in enumerate(value):
        if not isinstance(message, dict):
            return f"data field {key!r}[{n}] must be an object with role and content, got {type(message).__name__}"
        role, content = message.get("role"), message.get("content")
        if not isinstance(role, str) or not role:
            return f"data field {key!r}[{n}] needs its role as a string (like \"user\" or \"assistant\")"
        if not isinstance(content, str):
            return f"data field {key!r}[{n}] needs its content as a string"
        if len(content) > MAX_CONTENT:
            return f"data field {key!r}[{n}] content has {len(content):,} characters; the limit is {MAX_CONTENT:,}"
        if "id" in message and not (isinstance(message["id"], str) and message["id"]):
            return f"data field {key!r}[{n}] id must be a non-empty string when given"
    return None


def message_id(message: Any, index: int) -> str:
    """The id per-message answers name a task-data message by: its own ``"id"`` (a non-empty
    string), else ``"msg-<index>"`` (0-based)."""
    given = message.get("id") if isinstance(message, dict) else None
    return given if isinstance(given, str) and given else f"msg-{index}"


def data_messages(value: Any) -> list[tuple[str, str]]:
    """``(id, role)`` of every message of a chat's task data (nothing if it is not one)."""
    if not isinstance(value, list):
        return []
    return [(message_id(m, n), str(m.get("role"))) for n, m in enumerate(value) if isinstance(m, dict)]


def _check_message(control: ControlSpec, item: dict, value: dict, *, where: str, **_: Any) -> list[str]:
    message = value.get("chatmessage")
    if not isinstance(message, dict):
        return [f'{where}: value.chatmessage must be an object {{"role": ..., "content": ...}}']
    problems = []
    role, content = message.get("role"), message.get("content")
    if not isinstance(role, str) or role not in ROLES:
        problems.append(f"{where}: value.chatmessage.role must be one of {', '.join(ROLES)}, got {role!r}")
    if not isinstance(content, str):
        problems.append(f"{where}: value.chatmessage.content must be a string, got {type(content).__name__}")
    elif len(content) > MAX_CONTENT:
        problems.append(f"{where}: value.chatmessage.content has {len(content):,} characters; "
                        f"the limit is {MAX_CONTENT:,}")
    created = message.get("createdAt")
    if created is not None and not is_number(created):
        problems.append(f"{where}: value.chatmessage.createdAt must be a number (milliseconds), got {created!r}")
    if not isinstance(item.get("id"), str) or not item["id"]:
        problems.append(f"{where}: a chat message needs its id (per-message answers name it)")
    return problems


def _limit(bound: int | str | None, data: Any) -> int | None:
    if isinstance(bound, str):
        got = data.get(bound) if isinstance(data, dict) else None
        if isinstance(got, str) and got.isascii() and got.isdigit():
            got = int(got)
        return got if is_int(got) else None
    return bound


def chat_message_problems(schema: LabelSchema, result: list[Any], data: Any) -> list[str]:
    """``minMessages`` and ``maxMessages`` of every chat: the task data's messages and the
    result's ``chatmessage`` items together; and added messages only in roles the chat lets
    the annotator write (``messageroles``, and the assistant's replies when ``llm`` is set)."""
    problems = []
    for name, obj in schema.objects.items():
        if obj.tag != "Chat" or obj.chat is None:
            continue
        given = data.get(obj.value_key) if isinstance(data, dict) else None
        # with llm="...", Label Studio stores the model's replies as messages of the assistant
        allowed = [*obj.chat.message_roles, *(["assistant"] if obj.chat.llm else [])]
        added = [item for item in result if isinstance(item, dict) and item.get("type") == "chatmessage"
                 and item.get("to_name") == name]
        for item in added:
            message = (item.get("value") or {}).get("chatmessage") if isinstance(item.get("value"), dict) else None
            role = message.get("role") if isinstance(message, dict) else None
            if isinstance(role, str) and role in ROLES and role not in allowed:
                problems.append(f"chat {name!r}: a message added as {role!r}, but messageroles allows "
                                f"{', '.join(allowed)}")
        total = len(given if isinstance(given, list) else []) + len(added)
        low, high = _limit(obj.chat.min_messages, data), _limit(obj.chat.max_messages, data)
        if low is not None and total < low:
            problems.append(f"chat {name!r} needs at least {low} messages (minMessages), has {total}")
        if high is not None and total > high:
            problems.append(f"chat {name!r} allows at most {high} messages (maxMessages), has {total}")
    return problems


def _text(value: dict) -> str:
    message = value.get("chatmessage")
    if not isinstance(message, dict):
        return ""
    return f"{message.get('role')}: {message.get('content')}"


def _no_config_tag(el: Any) -> list[str]:
    return ["is not written in label configs; <Chat> makes its own messages (type chatmessage)"]


CHAT = ObjectTag(name="Chat", check_data=_messages_problem, check_attrs=_chat_attrs, spec_fields=_chat_fields)
CHATMESSAGE = ControlTag(name="ChatMessage", result_type="chatmessage", targets=("Chat",), region=True,
                         check_attrs=_no_config_tag, check_item=_check_message, text=_text, self_target=True)

OBJECT_TAGS = (CHAT,)
CONTROL_TAGS = (CHATMESSAGE,)
