"""Model aliases: the GPT-3 names on by default, ``--alias NAME=MODEL``, and the 0.x SDK's engine route."""

from __future__ import annotations

import httpx
import openai
import pytest
from pydantic import ValidationError

from caretune.errors import CaretuneError
from tests.server.live import TINY_MODEL, free_port, new_key, running_server


def test_the_gpt3_names_point_to_the_default_base(client) -> None:
    cards = {m.id: m for m in client.models.list().data}
    for name in ("ada", "babbage", "curie", "davinci"):
        assert cards[name].root == TINY_MODEL
    assert cards[TINY_MODEL].root == TINY_MODEL
    assert client.models.retrieve("davinci").root == TINY_MODEL
    answer = client.completions.create(model="curie", prompt="Customer: hi\nAgent:", max_tokens=3)
    assert answer.model == TINY_MODEL  # the model that answered
    with pytest.raises(openai.PermissionDeniedError, match="alias"):
        client.models.delete("ada")


def test_the_engines_route_and_the_engine_field(base_url: str, api_key: str) -> None:
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {api_key}"}, timeout=60) as http:
        by_path = http.post("/engines/davinci/completions", json={"prompt": "Customer: hi\nAgent:", "max_tokens": 2})
        assert by_path.status_code == 200 and by_path.json()["model"] == TINY_MODEL
        by_field = http.post("/completions", json={"engine": "ada", "prompt": "hi", "max_tokens": 2})
        assert by_field.status_code == 200 and by_field.json()["model"] == TINY_MODEL
        unknown = http.post("/engines/nope/completions", json={"prompt": "hi"})
        assert unknown.status_code == 404 and unknown.json()["error"]["param"] == "model"
        neither = http.post("/completions", json={"prompt": "hi"})
        assert neither.status_code == 400 and neither.json()["error"]["param"] == "model"
        bad = http.post("/engines/davinci/completions", json={"prompt": "hi", "temperature": 9})
        assert bad.status_code == 400 and bad.json()["error"]["param"] == "temperature"


def test_aliases_of_the_operator(server_settings) -> None:
    settings = server_settings.model_copy(update={
        "port": free_port(), "run_worker": False, "aliases": ["support-bot=tiny-gemma"], "gpt3_aliases": False,
        "data_dir": server_settings.data_dir / "aliases",
    })
    key = new_key(settings)
    with running_server(settings) as url:
        client = openai.OpenAI(base_url=url, api_key=key, max_retries=0)
        assert {m.id: m.root for m in client.models.list().data} == {TINY_MODEL: TINY_MODEL, "support-bot": TINY_MODEL}
        assert client.completions.create(model="support-bot", prompt="hi", max_tokens=2).model == TINY_MODEL
        with pytest.raises(openai.NotFoundError):
            client.completions.create(model="ada", prompt="hi", max_tokens=2)


def test_an_alias_must_name_a_served_model(server_settings) -> None:
    from caretune.server.catalog import Catalog
    from caretune.server.settings import ServerSettings

    with pytest.raises(ValidationError, match="NAME=MODEL"):
        ServerSettings(aliases=["x"])
    for option, reason in (("bot=nope", "no served model 'nope'"), (f"{TINY_MODEL}=ada", "already a served")):
        with pytest.raises(CaretuneError, match=reason):
            Catalog([f"{TINY_MODEL}=/x"], None, "caretune", [option])  # type: ignore[arg-type]
