"""Chat channels: Rasa's REST webhook, a WebSocket for the widget, history and deletion."""

from __future__ import annotations

import json
import time
from functools import partial
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import (
    APIRouter,
    Header,
    HTTPException,
    Request,
    Response,
    WebSocket,
    WebSocketDisconnect,
)
from pydantic import BaseModel, ConfigDict, Field, field_validator

from bot.agent import MAX_MESSAGE_CHARS
from bot.errors import ServerBusyError
from bot.server import conversation_token, metrics
from bot.server.deps import AgentDep
from bot.server.security import client_key, small_metadata, valid_unicode
from bot.store.privacy import erase

router = APIRouter(tags=["chat"])
TokenHeader = Annotated[str | None, Header(alias=conversation_token.TOKEN_HEADER)]
SENDER_PATTERN = r"^[A-Za-z0-9_.:-]{1,128}$"


class RestMessage(BaseModel):
    """Rasa's REST channel input."""

    model_config = ConfigDict(extra="ignore")

    sender: str = Field(pattern=SENDER_PATTERN, title="Conversation id chosen by the client")
    message: str = Field(max_length=MAX_MESSAGE_CHARS, title="The user's text or a payload")
    metadata: dict[str, Any] | None = Field(
        default=None, title="What the client adds (the widget: its language); at most 2 KB")

    _text = field_validator("message")(valid_unicode)
    _metadata = field_validator("metadata")(small_metadata)


class Button(BaseModel):
    """A quick reply."""

    title: str
    payload: str


class BotMessage(BaseModel):
    """Rasa's REST channel output item."""

    recipient_id: str
    text: str | None = None
    buttons: list[Button] | None = None


class HistoryItem(BaseModel):
    """One message of a conversation, for the widget after a reload."""

    sender: str = Field(title="'user' or 'bot'")
    text: str | None = None
    buttons: list[Button] | None = None


async def answer(agent: Any, sender: str, text: str, channel: str,
                 metadata: dict[str, Any] | None = None, client: str | None = None,
                 token: str | None = None) -> tuple[list[dict[str, Any]], str | None]:
    """Run one message of the conversation whose `token` is given, and record the metrics.

    Without a token the message starts a new conversation (see `conversation_token.admit`).
    Returns the replies, and the conversation's token when this message started it.

    Raises:
        HTTPException: 413 when the message is longer than the configured limit (refused
            before the NLU; the widget keeps the text so the customer can shorten it); 404
            for a conversation that is not the caller's.
    """
    limit = agent.settings.max_message_chars
    if len(text) > limit:
        raise HTTPException(413, {"message": f"The message is {len(text)} characters long; "
                                             f"at most {limit} are accepted. Please shorten "
                                             "it or send it in parts.",
                                  "max_chars": limit})
    issued = await conversation_token.admit(agent, sender, token)
    started = time.perf_counter()
    try:
        replies, tracker = await agent.handle(sender, text, metadata=metadata,
                                              input_channel=channel, client=client)
    except BaseException:
        if issued:  # the token never reached the client: free the id again
            await agent.in_db(agent.store.unclaim, sender)
        raise
    metrics.LATENCY.labels(channel).observe(time.perf_counter() - started)
    intent = tracker.latest_intent or "none"
    metrics.MESSAGES.labels(channel, tracker.get_slot("language") or "?").inc()
    metrics.INTENTS.labels(intent).inc()
    if intent == "nlu_fallback":
        metrics.FALLBACKS.inc()
    if any(e.get("event") == "action" and e.get("name") == "action_submit_enquiry"
           for e in tracker.events_after_latest_user()) and tracker.get_slot("reference"):
        metrics.ENQUIRIES.labels(str(_last_unit(tracker))).inc()
    return replies, issued


def _last_unit(tracker: Any) -> str:
    for event in reversed(tracker.events):
        if event.get("event") == "slot" and event.get("name") == "unit" and event.get("value"):
            return str(event["value"])
    return "unknown"


@router.post("/webhooks/rest/webhook", response_model=list[BotMessage],
             response_model_exclude_none=True)
async def rest_webhook(body: RestMessage, request: Request, response: Response,
                       agent: AgentDep, token: TokenHeader = None) -> list[dict[str, Any]]:
    """Rasa's REST channel: one message in, the bot's messages out.

    The first reply of a new conversation carries its token in the X-Conversation-Token
    header; every later message of the conversation sends it back in the same header (as
    do history and deletion). A taken id without its token gets 404.
    """
    client = client_key(request)
    await request.app.state.rate_limiter.check(agent, client, body.sender)
    replies, token = await answer(agent, body.sender, body.message, "rest", body.metadata,
                                  client, token)
    if token:
        response.headers[conversation_token.TOKEN_HEADER] = token
    return replies


@router.get("/conversations/{sender}/history", response_model=list[HistoryItem],
            response_model_exclude_none=True)
async def history(sender: str, agent: AgentDep, token: TokenHeader = None
                  ) -> list[dict[str, Any]]:
    """The conversation's messages, so the widget can show them again after a reload."""
    if not _valid_sender(sender):
        raise HTTPException(422, "The conversation id has unexpected characters.")
    await conversation_token.check(agent, sender, token)
    items: list[dict[str, Any]] = []
    for event in (await agent.in_db(agent.tracker, sender)).applied_events():
        if event.get("event") == "user" and event.get("text"):
            text = str(event["text"])
            if not text.startswith("/"):
                items.append({"sender": "user", "text": text})
        elif event.get("event") == "bot" and event.get("text"):
            data = event.get("data") or {}
            items.append({"sender": "bot", "text": event["text"],
                          "buttons": data.get("buttons") or None})
    return items


@router.delete("/conversations/{sender}", status_code=204)
async def delete_conversation(sender: str, agent: AgentDep, token: TokenHeader = None
                              ) -> None:
    """Delete the conversation and any enquiry it made ("delete my conversation")."""
    if not _valid_sender(sender):
        raise HTTPException(422, "The conversation id has unexpected characters.")
    await conversation_token.check(agent, sender, token)
    await agent.in_db(partial(erase, agent.store.db, sender_id=sender))


def _valid_sender(sender: str) -> bool:
    import re

    return bool(re.match(SENDER_PATTERN, sender))


@router.websocket("/webhooks/websocket")
async def websocket_channel(socket: WebSocket) -> None:
    """A chat channel: {"sender", "message", "token"} in; {"typing"} then {"messages"} out.

    A frame without a token starts a new conversation (the answer carries its "token");
    later frames send it back, or leave it out on the same socket, which remembers the
    conversations it started or was shown the token of.
    """
    app = socket.app
    origin = socket.headers.get("origin")
    # Same site: the origin names the host the socket was opened on (behind a TLS proxy the
    # scheme differs: https in the browser, http here).
    same_site = origin is not None and urlsplit(origin).netloc == socket.headers.get("host")
    if origin and origin not in app.state.settings.allowed_origins and not same_site:
        await socket.close(code=1008)
        return
    await socket.accept()
    client = client_key(socket)
    limit = app.state.settings.max_request_bytes
    tokens: dict[str, str] = {}  # the conversations this socket may post to
    try:
        while True:
            frame = await socket.receive()
            if frame["type"] == "websocket.disconnect":
                return
            raw = frame.get("text") or frame.get("bytes") or ""
            if len(raw) > limit:
                await socket.close(code=1009, reason=f"Frame too large: at most {limit} "
                                                     "bytes.")
                return
            try:
                data = json.loads(raw)
            except (ValueError, UnicodeDecodeError):
                await socket.close(code=1007, reason='Expected JSON: {"sender": id, '
                                                     '"message": text}.')
                return
            try:
                body = RestMessage.model_validate(data)
                given = data.get("token") if isinstance(data, dict) else None
                if given is not None and not isinstance(given, str):
                    raise ValueError("token")
                await app.state.rate_limiter.check(app.state.agent, client, body.sender)
            except HTTPException as exc:
                await socket.send_json({"error": exc.detail})
                continue
            except ValueError:
                await socket.send_json({"error": "Expected {\"sender\": id, \"message\": "
                                                 "text, \"token\": the conversation's token "
                                                 "(left out to start one)} with valid Unicode "
                                                 "text and metadata of at most 2 KB."})
                continue
            await socket.send_json({"typing": True})
            try:
                replies, token = await answer(app.state.agent, body.sender, body.message,
                                              "websocket", body.metadata, client,
                                              given or tokens.get(body.sender))
            except ServerBusyError as exc:
                await socket.send_json({"error": exc.message, "retry_after": exc.retry_after_s})
                continue
            except HTTPException as exc:  # over the length limit, or not the caller's
                await socket.send_json({"error": exc.detail, "status": exc.status_code})
                continue
            if token or given:
                tokens[body.sender] = token or str(given)
            await socket.send_json({"messages": replies, **({"token": token} if token else {})})
    except WebSocketDisconnect:
        return
