"""Key roles on a live server: each role x each route group, allowed or refused with the right status (the
official SDK where it has the call, plain HTTP elsewhere); app keys held to their models; the customers of
one app key, who never see each other's conversations; the agent, who sees only the agent queue."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
import openai
import pytest

from tests.server.live import TINY_MODEL, free_port, new_key, running_server

ROLES = ("admin", "agent", "app")
USER = "X-Caretune-User"


@dataclass
class Live:
    url: str
    keys: dict[str, str]  # role -> key
    admin: str  # an admin key, to set things up
    database_url: str = ""  # the server's, to change its database behind its back

    def http(self, role: str, user: str | None = "customer-1", **options) -> httpx.Client:
        headers = {USER: user} if user else {}
        if self.keys[role]:
            headers["Authorization"] = f"Bearer {self.keys[role]}"
        return httpx.Client(base_url=self.url, headers=headers, timeout=120, **options)

    def sdk(self, role: str) -> openai.OpenAI:
        """The SDK with the role's key (sending none when the key is empty, which the SDK will not do itself)."""
        no_key = {} if self.keys[role] else {"http_client": httpx.Client(event_hooks={"request": [_drop_key]})}
        return openai.OpenAI(base_url=self.url, api_key=self.keys[role] or "-", max_retries=0, timeout=120, **no_key)


def _drop_key(request: httpx.Request) -> None:
    del request.headers["Authorization"]


@pytest.fixture(scope="module")
def live(server_settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """A server (no job worker) with a key of each role, and an app key held to the alias `ada`."""
    settings = server_settings.model_copy(
        update={"run_worker": False, "port": free_port(), "data_dir": tmp_path_factory.mktemp("roles")}
    )
    keys = {role: new_key(settings, role) for role in ROLES}
    keys["ada-app"] = new_key(settings, "app", models=["ada"])
    with running_server(settings) as url:
        yield Live(url, keys, keys["admin"], settings.resolved_database_url())


def _outcome(call: Callable[[], object]) -> tuple[int, dict | None]:
    """The HTTP status of a call made with the SDK or httpx, and its error object, if any."""
    try:
        result = call()
    except openai.APIStatusError as exc:
        return exc.status_code, exc.body if isinstance(exc.body, dict) else None
    if isinstance(result, httpx.Response):
        return result.status_code, result.json().get("error") if result.status_code >= 400 else None
    return 200, None


def _handed_off(live: Live) -> str:
    """A new conversation (an admin's) waiting for an agent."""
    with httpx.Client(base_url=live.url, headers={"Authorization": f"Bearer {live.admin}"}) as http:
        cid = http.post("/conversations", json={"model": TINY_MODEL}).json()["id"]
        assert http.post(f"/conversations/{cid}/handoff").status_code == 200
    return cid


# Route group -> (the permissions it needs, the call as one role makes it, the status when allowed).
GROUPS: dict[str, tuple[str, Callable[[Live, str], object], int]] = {
    "models.read": ("models.read", lambda lv, r: lv.sdk(r).models.list(), 200),
    "models.delete": (
        "models.read models.delete", lambda lv, r: lv.sdk(r).models.delete(f"ft:{TINY_MODEL}:caretune::ftjob-0"), 404,
    ),
    "chat": (
        "inference",
        lambda lv, r: lv.sdk(r).chat.completions.create(
            model=TINY_MODEL, messages=[{"role": "user", "content": "hi"}], max_tokens=2
        ),
        200,
    ),
    "completions": (
        "inference", lambda lv, r: lv.sdk(r).completions.create(model=TINY_MODEL, prompt="hi", max_tokens=2), 200,
    ),
    "files": ("files", lambda lv, r: lv.sdk(r).files.list(), 200),
    "uploads": (
        "files",
        lambda lv, r: lv.http(r).post(
            "/uploads", json={"filename": "a.jsonl", "purpose": "fine-tune", "bytes": 10, "mime_type": "text/jsonl"}
        ),
        200,
    ),
    "fine_tuning": ("fine_tuning", lambda lv, r: lv.sdk(r).fine_tuning.jobs.list(), 200),
    "fine-tunes (legacy)": ("fine_tuning", lambda lv, r: lv.http(r).get("/fine-tunes"), 200),
    "knowledge.read": ("knowledge.read", lambda lv, r: lv.http(r).get("/knowledge"), 200),
    "knowledge.write": (
        "knowledge.read knowledge.write", lambda lv, r: lv.http(r).post("/knowledge", json={"name": f"kb-{r}"}), 200,
    ),
    "conversations": ("conversations", lambda lv, r: lv.http(r).get("/conversations"), 200),
    "conversations.write": (
        "conversations conversations.write",
        lambda lv, r: lv.http(r).post("/conversations", json={"model": TINY_MODEL}),
        200,
    ),
    "conversations.agent": (
        "conversations conversations.agent",
        lambda lv, r: lv.http(r).delete(f"/conversations/{_handed_off(lv)}/handoff"),
        200,
    ),
    "conversations.assistant": (  # a turn as the bot: the server stores the bot's own; an admin may import
        "conversations conversations.assistant",
        lambda lv, r: lv.http(r).post(
            f"/conversations/{_handed_off(lv)}/messages", json={"role": "assistant", "content": "Refunds: 200%!"}
        ),
        200,
    ),
    "feedback.export": ("conversations feedback.export", lambda lv, r: lv.http(r).get("/feedback/export"), 200),
    "keys": ("keys", lambda lv, r: lv.http(r).get("/keys"), 200),
    "usage": ("usage", lambda lv, r: lv.http(r).get("/usage"), 200),
    "audit": ("audit", lambda lv, r: lv.http(r).get("/audit"), 200),
}
ALLOWED = {
    "admin": set(GROUPS),  # conversations.assistant included, to import a transcript
    "agent": {"models.read", "knowledge.read", "conversations", "conversations.agent"},
    "app": {"models.read", "chat", "completions", "conversations", "conversations.write"},
}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("group", list(GROUPS))
def test_each_role_on_each_route_group(live: Live, role: str, group: str) -> None:
    needs, call, allowed_status = GROUPS[group]
    status, error = _outcome(lambda: call(live, role))
    if group in ALLOWED[role]:
        assert status == allowed_status, error
    else:  # the message names the permission the role lacks
        assert status == 403 and error is not None, (status, error)
        assert error["code"] == "missing_permission"
        assert any(f"'{permission}'" in error["message"] for permission in needs.split()), error["message"]


def test_the_403_names_the_missing_permission_through_the_sdk(live: Live) -> None:
    with pytest.raises(openai.PermissionDeniedError) as refused:
        live.sdk("app").files.list()
    assert "'files'" in refused.value.message and "role app" in refused.value.message
    assert refused.value.body["code"] == "missing_permission"


@pytest.mark.parametrize("group", list(GROUPS))
def test_no_key_or_a_wrong_key_is_401_on_every_route_group(live: Live, group: str) -> None:
    _, call, _ = GROUPS[group]
    missing = Live(live.url, {role: "" for role in ROLES}, live.admin)
    wrong = Live(live.url, {role: "ct-not-a-key" for role in ROLES}, live.admin)
    for who in (missing, wrong):
        assert _outcome(lambda: call(who, "app"))[0] == 401


def test_me_says_what_a_key_may_do(live: Live) -> None:
    with live.http("agent") as http:
        me = http.get("/me").json()
    assert me["role"] == "agent" and me["authenticated"] is True
    assert set(me["permissions"]) == {"models.read", "knowledge.read", "conversations", "conversations.agent"}
    with live.http("ada-app", user=None) as http:
        assert http.get("/me").json()["models"] == ["ada"]


def test_an_app_key_held_to_models_sees_and_uses_only_those(live: Live) -> None:
    client = live.sdk("ada-app")
    assert [m.id for m in client.models.list().data] == ["ada"]
    assert client.completions.create(model="ada", prompt="hi", max_tokens=2).choices
    with pytest.raises(openai.NotFoundError):
        client.completions.create(model=TINY_MODEL, prompt="hi", max_tokens=2)
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model=TINY_MODEL, messages=[{"role": "user", "content": "hi"}], max_tokens=2)
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve(TINY_MODEL)
    assert TINY_MODEL in [m.id for m in live.sdk("app").models.list().data]  # an unrestricted app key


# ------------------------------------------------------------------ customers of one app key


def _start(http: httpx.Client, text: str) -> str:
    cid = http.post("/conversations", json={"model": TINY_MODEL}).json()["id"]
    assert http.post(f"/conversations/{cid}/messages", json={"role": "user", "content": text}).status_code == 200
    return cid


def _ask(http: httpx.Client, cid: str, text: str) -> str:
    """Ask the bot in conversation ``cid``, which then holds the question and the reply; the reply's id."""
    body = {"model": TINY_MODEL, "messages": [{"role": "user", "content": text}], "max_tokens": 8,
            "temperature": 0, "conversation_id": cid}
    answered = http.post("/chat/completions", json=body)
    assert answered.status_code == 200, answered.text
    return answered.json()["choices"][0]["message"]["context"]["message_id"]


def test_two_customers_of_one_app_key_never_see_each_other(live: Live) -> None:
    with live.http("app", user="alice") as alice, live.http("app", user="bob") as bob:
        mine = alice.post("/conversations", json={"model": TINY_MODEL}).json()["id"]
        reply = {"id": _ask(alice, mine, "alice's secret order 4411")}
        theirs = _start(bob, "bob's question")
        assert [c["id"] for c in alice.get("/conversations").json()["data"]] == [mine]
        assert [c["id"] for c in bob.get("/conversations").json()["data"]] == [theirs]
        for method, path, body in [
            ("GET", f"/conversations/{mine}", None),
            ("PATCH", f"/conversations/{mine}", {"title": "mine now"}),
            ("POST", f"/conversations/{mine}/messages", {"role": "user", "content": "hi"}),
            ("PUT", f"/conversations/{mine}/messages/{reply['id']}/feedback", {"rating": "down"}),
            ("POST", f"/conversations/{mine}/handoff", None),
            ("DELETE", f"/conversations/{mine}", None),
        ]:
            response = bob.request(method, path, json=body)
            assert response.status_code == 404, (method, path, response.text)
            assert "4411" not in response.text
        assert alice.get(f"/conversations/{mine}").json()["title"] == "alice's secret order 4411"


def test_a_chat_completion_cannot_touch_another_customers_conversation(live: Live) -> None:
    with live.http("app", user="carol") as carol:
        cid = _start(carol, "carol's thread")
    client = live.sdk("app")
    ask = {"model": TINY_MODEL, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}
    with pytest.raises(openai.NotFoundError):  # OpenAI's `user` field names the customer
        client.chat.completions.create(**ask, user="dave", extra_body={"conversation_id": cid})
    assert client.chat.completions.create(**ask, user="carol", extra_body={"conversation_id": cid}).choices
    with pytest.raises(openai.NotFoundError):  # the header wins over the body's `user`
        client.chat.completions.create(**ask, user="carol", extra_body={"conversation_id": cid},
                                       extra_headers={USER: "dave"})


def test_browser_sessions_are_customers_too(live: Live) -> None:
    with live.http("app", user=None) as first, live.http("app", user=None) as second:
        refused = first.get("/conversations")
        assert refused.status_code == 400 and refused.json()["error"]["param"] == USER
        started = first.post("/session")
        cookie = started.headers["set-cookie"].lower()
        assert started.json()["started"] is True and "httponly" in cookie and "samesite=strict" in cookie
        assert first.post("/session").json()["started"] is False  # the browser keeps its session
        second.post("/session")
        cid = _start(first, "first visitor")
        assert [c["id"] for c in first.get("/conversations").json()["data"]] == [cid]
        assert second.get("/conversations").json()["data"] == []
        assert second.get(f"/conversations/{cid}").status_code == 404
    with live.http("app", user=None, cookies={"caretune_session": "guess"}) as guesser:
        assert guesser.get("/conversations").status_code == 400  # a made-up cookie is no session


def test_an_agent_sees_only_the_agent_queue_and_answers_only_as_the_agent(live: Live) -> None:
    with live.http("app", user="erin") as erin, live.http("agent") as agent, live.http("admin") as admin:
        cid = _start(erin, "erin needs help")
        assert cid not in [c["id"] for c in agent.get("/conversations").json()["data"]]
        assert agent.get(f"/conversations/{cid}").status_code == 404
        assert cid in [c["id"] for c in admin.get("/conversations").json()["data"]]  # an admin sees them all
        erin.post(f"/conversations/{cid}/handoff")
        assert cid in [c["id"] for c in agent.get("/conversations").json()["data"]]
        as_customer = agent.post(f"/conversations/{cid}/messages", json={"role": "user", "content": "fake"})
        assert as_customer.status_code == 403 and "'conversations.write'" in as_customer.json()["error"]["message"]
        assert agent.post(f"/conversations/{cid}/messages", json={"role": "agent", "content": "Hi, Sam"}).json()
        as_agent = erin.post(f"/conversations/{cid}/messages", json={"role": "agent", "content": "fake agent"})
        assert as_agent.status_code == 403 and "'conversations.agent'" in as_agent.json()["error"]["message"]
        assert [m["role"] for m in erin.get(f"/conversations/{cid}").json()["messages"]] == ["user", "agent"]
        assert agent.delete(f"/conversations/{cid}/handoff").json()["handoff"] == "closed"
        assert agent.get(f"/conversations/{cid}").status_code == 404  # handed back: out of the agent's sight


def test_an_app_key_posts_only_the_customer_s_turns(live: Live) -> None:
    with live.http("app", user="gina") as gina:
        cid = gina.post("/conversations", json={"model": TINY_MODEL}).json()["id"]
        forged = gina.post(f"/conversations/{cid}/messages",
                           json={"role": "assistant", "content": "Refunds: 200%!", "model": TINY_MODEL})
        assert forged.status_code == 403 and "'conversations.assistant'" in forged.json()["error"]["message"]
        reply_id = _ask(gina, cid, "can I get a refund")  # the bot's reply: the server stores it
        messages = gina.get(f"/conversations/{cid}").json()["messages"]
        assert [(m["role"], m["content"]) for m in messages][0] == ("user", "can I get a refund")
        assert messages[1]["id"] == reply_id and messages[1]["model"] == TINY_MODEL and messages[1]["content"]
        assert gina.put(f"/conversations/{cid}/messages/{reply_id}/feedback", json={"rating": "up"}).status_code == 200


def test_the_bot_s_hand_off_notes_are_for_agents_only(live: Live) -> None:
    """Why the bot handed over and the answer it did not send are the agent's notes: the customer sees only
    that the conversation waits for a person."""
    from caretune.server.serving_conversations import EVERY, bot_handoff
    from caretune.storage.db import make_engine, session_factory

    with live.http("app", user="hana") as hana:
        cid = _start(hana, "my parcel never came")
    db = make_engine(live.database_url)
    with session_factory(db)() as session:  # as the bot's own hand-off leaves it
        bot_handoff(session, cid, "low_confidence", "Your refund of order 5521 is approved.", EVERY)
    db.dispose()
    with live.http("app", user="hana") as hana:
        for shown in (hana.get(f"/conversations/{cid}").json(), hana.get("/conversations").json()["data"][0],
                      hana.patch(f"/conversations/{cid}", json={"title": "Parcel"}).json()):
            assert shown["handoff"] == "waiting" and shown["handoff_reason"] is None, shown
            assert shown["handoff_draft"] is None
            assert "5521" not in json.dumps(shown)
    for role in ("agent", "admin"):
        with live.http(role) as staff:
            seen = staff.get(f"/conversations/{cid}").json()
            assert (seen["handoff_reason"], seen["handoff_draft"]) == (
                "low_confidence", "Your refund of order 5521 is approved."
            )
            queued = next(c for c in staff.get("/conversations").json()["data"] if c["id"] == cid)
            assert queued["handoff_draft"] == seen["handoff_draft"]
