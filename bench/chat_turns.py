"""Benchmark a long chat through the API: does a chat's tenth turn cost what its first did (prompt cache)?

On the real Gemma 3 270M (the registry's `gemma-3-270m`, llama.cpp engine), two `caretune serve` processes
run side by side: one with the prompt cache (the default), one with `--prompt-cache-mb 0`, the baseline.
Each conversation is a 10-turn chat of ~25-word customer messages, streamed through /v1/chat/completions
with the whole history each turn, as a chat app sends it. After each answer the history gets either the
shop's scripted ~30-word agent reply (`scripted`: the prompt cache never holds it, so each turn reads it
and the next message) or the answer the model just gave (`model`, as the web app does: only the new
message is read). Every turn goes to both servers, in alternating order, so the machine's drift hits both
alike, and both get the same history. Conversations differ (each starts at another message) but share the
system prompt, as a shop's chats do. Greedy, at most --max-tokens tokens per answer.

Printed, for each kind of history: per turn, the prompt's tokens and the median time to first token
(TTFT) over the conversations with and without the cache; the ratio TTFT(turns 9-10)/TTFT(turns 1-2) of
each server (target with the cache: <= 1.2x); how many answers are the same with and without it. Then, on
an engine in this process replaying the last chat: the memory a cached conversation takes (its KV state);
and a control for the answers: how many are the same without any cache when the prompt is read alone or
beside another chat (with this llama.cpp build a Q4 model's answer depends on where its cells lie in the
KV buffer, which a cache and a neighbour both change: docs/PERFORMANCE.md). Last, the floor no cache can
lower: the time to prefill the same new tokens (a turn's worth) after few and after many positions already in
the KV cache, on a llama.cpp context set up as the server's, rounds alternating.

    nice -n 10 python bench/chat_turns.py [--conversations 2] [--turns 10] [--replies scripted model]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

from serve import free_port, start_server  # bench/ is on sys.path when run

SYSTEM = (
    "You are the customer support agent of Cairnline Outfitters, an outdoor gear shop. Answer politely and "
    "briefly, and say what the customer should do next."
)
# (customer message, the agent's reply): one order's story, ~25 and ~30 words each.
TURNS = [
    ("Hi, I ordered a two-person tent and a sleeping bag last Tuesday and the tracking page still says label "
     "created. Has my parcel actually left your warehouse yet?",
     "Thanks for reaching out! Orders usually leave within 24 hours, so a label with no scan for a week is "
     "unusual. Could you send me your order number so I can check with the warehouse?"),
    ("Sure, the order number is 48213 and it was placed under my partner's email address. We are leaving "
     "for a camping trip on Saturday morning, so timing matters a lot.",
     "Thank you! I found order 48213: the tent shipped yesterday but the sleeping bag is still waiting for "
     "stock. I can split the order so the tent reaches you by Friday with express shipping."),
    ("Splitting sounds good, but will I be charged again for the express shipping? I already paid for "
     "standard delivery and the delay is really not my fault here.",
     "Not at all, the upgrade to express is on us because of the delay. You will get a new tracking email "
     "within 24 hours, and the standard shipping fee for the sleeping bag is refunded."),
    ("Great, thank you. If the sleeping bag arrives after our trip, can I still return it even though the "
     "box will have been opened to check the size and the colour?",
     "Yes, you can return it within 45 days of delivery as long as it is unused and the tags are still on. "
     "Opening the box to check size and colour is completely fine."),
    ("Good to know. Also, the tent listing said the poles are aluminium, but a review says they are "
     "fibreglass. Which one is correct, because weight matters for our hike?",
     "The current model has aluminium poles; the review is about last year's version. The packed weight is "
     "2.1 kg, and the poles alone are about 450 grams of that."),
    ("Perfect. My partner also wants the matching footprint for the tent. Can you add it to the tent "
     "shipment so it arrives together on Friday, or is that too late?",
     "I can add the footprint to the tent parcel if you confirm in the next hour. It costs $39, and I will "
     "charge it to the card used for order 48213 unless you prefer otherwise."),
    ("Yes please add it and use the same card. Could you also tell me whether you have a store in Denver "
     "where we could pick up gas canisters on the way out?",
     "Done, the footprint is added and the tent parcel is still due Friday. Our Denver store is at 1450 "
     "Larimer St, open 10am to 7pm daily, and it stocks gas canisters."),
    ("Thanks a lot. One last thing about the sleeping bag: if it is still out of stock next week, can I "
     "swap it for the warmer model instead of waiting even longer?",
     "Of course. Exchanges are free within 60 days; if it is still out of stock on Monday I will switch you "
     "to the warmer model and you only pay the $20 difference."),
    ("That works for me. Will I get an email when the swap happens, or should I check the order page "
     "myself from time to time to see whether it changed?",
     "You will get an email the moment the swap is made, with the new tracking number. The order page "
     "shows the same details, so there is no need to keep checking it."),
    ("Brilliant, you have been really helpful today. Is there anything else I need to do before Friday, "
     "or can I simply wait for the tent and the footprint to arrive?",
     "Nothing else to do: just watch for the tracking email. If the parcel has not arrived by Friday noon, "
     "reply here and we will sort it out. Enjoy your camping trip!"),
]


def chat_stream(client, model: str, messages: list[dict], max_tokens: int) -> tuple[float, str, int]:
    """(TTFT s, the answer, the prompt's tokens) of one streamed chat completion."""
    body = {
        "model": model, "messages": messages, "max_tokens": max_tokens, "temperature": 0, "stream": True,
        "stream_options": {"include_usage": True},
    }
    start = time.perf_counter()
    first, text, prompt_tokens = None, [], 0
    with client.stream("POST", "/v1/chat/completions", json=body) as response:
        response.raise_for_status()
        for line in response.iter_lines():
            if not line.startswith("data: {"):
                continue
            chunk = json.loads(line[6:])
            if chunk.get("usage"):
                prompt_tokens = chunk["usage"]["prompt_tokens"]
            for choice in chunk["choices"]:
                if choice["delta"].get("content"):
                    first = first if first is not None else time.perf_counter()
                    text.append(choice["delta"]["content"])
    assert first is not None, "nothing generated"
    return first - start, "".join(text), prompt_tokens


def conversation(start: int, turns: int) -> list[tuple[str, str]]:
    """The scripted turns from ``start`` on (wrapping), so each conversation differs from the others."""
    return [TURNS[(start + i) % len(TURNS)] for i in range(turns)]


def run_chats(clients: dict, model: str, replies: str, first: int, args) -> tuple[dict, list[list[dict]]]:
    """Every turn of every conversation (the ``first`` conversation's script and on) on both servers; per
    server and turn, the TTFTs, answers and prompt sizes; and each conversation's requests (its messages
    before each answer)."""
    results = {name: [{"ttft": [], "answer": [], "tokens": []} for _ in range(args.turns)] for name in clients}
    histories = []
    for c in range(first, first + args.conversations):
        messages, asked = [{"role": "system", "content": SYSTEM}], []
        for turn, (question, scripted) in enumerate(conversation(3 * c, args.turns)):
            messages.append({"role": "user", "content": question})
            asked.append([dict(m) for m in messages])
            order = list(clients) if (c + turn) % 2 == 0 else list(reversed(clients))
            for name in order:
                ttft, answer, tokens = chat_stream(clients[name], model, messages, args.max_tokens)
                for key, value in (("ttft", ttft), ("answer", answer), ("tokens", tokens)):
                    results[name][turn][key].append(value)
            own = results["cache"][turn]["answer"][-1]
            messages.append({"role": "assistant", "content": own if replies == "model" else scripted})
        histories.append(asked)
    return results, histories


def cached_conversation_memory(model: str, requests: list[list[dict]], max_tokens: int):
    """The prompt cache's figures after one conversation is replayed on an engine in this process (each turn
    continues the cached one before it, so one conversation stays cached)."""
    from caretune.answering import prepare_answer
    from caretune.engines import SamplingParams, load_engine

    engine = load_engine(model)
    params = SamplingParams(temperature=0, max_tokens=max_tokens, stop=engine.default_stop)
    try:
        for messages in requests:
            engine.complete(prepare_answer(engine, messages, None, max_tokens).prompt, params)
        return engine.prompt_cache_stats()
    finally:
        engine.close()


def placement_control(model: str, requests: list[list[dict]], max_tokens: int) -> list[tuple[str, str]]:
    """Each request's answer without a prompt cache, read alone and then while another chat decodes beside
    it (its cells lie elsewhere in the KV buffer, its decode steps are shared)."""
    from caretune.answering import prepare_answer
    from caretune.engines import SamplingParams, load_engine

    engine = load_engine(model, prompt_cache_mb=0)
    params = SamplingParams(temperature=0, max_tokens=max_tokens, stop=engine.default_stop)
    endless = SamplingParams(temperature=0, max_tokens=2000, logit_bias={t: -100 for t in _ends(engine)})
    answers = []
    try:
        for messages in requests:
            prompt = prepare_answer(engine, messages, None, max_tokens).prompt
            alone = engine.complete(prompt, params).choices[0].text
            neighbour = engine.stream(engine.render_chat([{"role": "user", "content": "Hello!"}]), endless)
            next(neighbour)  # prefilled, and decoding until closed
            answers.append((alone, engine.complete(prompt, params).choices[0].text))
            neighbour.close()
    finally:
        engine.close()
    return answers


FLOOR_NEW_TOKENS = 40  # a turn's worth: a ~25-word message and the chat template around it


def attention_floor(
    model: str, new: int = FLOOR_NEW_TOKENS, before: tuple[int, ...] = (40, 760), rounds: int = 7
) -> dict:
    """Median seconds to prefill ``new`` tokens after each count of ``before`` positions already cached: what a
    turn costs once the cache has done all it can (attention still reads every earlier position)."""
    from caretune.engines.llamacpp_runtime import BatchToken, LlamaRuntime, RuntimeConfig
    from caretune.models.registry import resolve

    runtime = LlamaRuntime(resolve(model).gguf_path, RuntimeConfig(n_cached=1))  # as served with a cache
    ids = runtime.tokenize(" ".join(q + " " + a for q, a in TURNS) * 2)
    step = runtime.config.n_batch
    times: dict[int, list[float]] = {n: [] for n in before}
    try:
        for r in range(rounds):
            for n in before if r % 2 else before[::-1]:
                runtime.forget(0)
                for start in range(0, n, step):
                    runtime.decode([BatchToken(ids[p], p, (0,), False) for p in range(start, min(n, start + step))])
                began = time.perf_counter()
                runtime.decode([BatchToken(ids[p], p, (0,), p == n + new - 1) for p in range(n, n + new)])
                times[n].append(time.perf_counter() - began)
    finally:
        runtime.close()
    return {n: statistics.median(t) for n, t in times.items()}


def _ends(engine) -> set[int]:
    tokenizer = engine.prompting.tokenizer
    return {tokenizer.eos_token_id, tokenizer.convert_tokens_to_ids("<end_of_turn>")}


def ratio(turns: list[dict]) -> float:
    """TTFT of the last two turns over the first two (medians over the conversations)."""
    median = [statistics.median(t["ttft"]) for t in turns]
    return (median[-2] + median[-1]) / (median[0] + median[1])


def report(results: dict, turns: int, conversations: int) -> None:
    print(f"{'turn':>4} {'prompt tokens':>13} {'TTFT cache':>11} {'TTFT none':>10} {'none/cache':>10} {'same':>5}")
    for turn in range(turns):
        cached, baseline = results["cache"][turn], results["none"][turn]
        same = sum(a == b for a, b in zip(cached["answer"], baseline["answer"]))
        ttft_c, ttft_n = statistics.median(cached["ttft"]), statistics.median(baseline["ttft"])
        print(f"{turn + 1:>4} {statistics.median(cached['tokens']):>13.0f} {ttft_c * 1000:>9.0f}ms "
              f"{ttft_n * 1000:>8.0f}ms {ttft_n / ttft_c:>9.2f}x {same:>2}/{conversations}")
    if turns >= 4:
        print(f"TTFT(turns {turns - 1}-{turns}) / TTFT(turns 1-2): with the cache {ratio(results['cache']):.2f}x "
              f"(target <= 1.2x), without {ratio(results['none']):.2f}x")
    answers = [pair for t in range(turns) for pair in zip(results["cache"][t]["answer"], results["none"][t]["answer"])]
    print(f"answers the same with and without the cache (greedy): {agreement(answers)}")


def agreement(answers: list[tuple[str, str]]) -> str:
    """How many pairs of answers are the same, and where the others part (a near-tie flipped by rounding
    parts them late; a wrong prefix would part them at once)."""
    same = sum(a == b for a, b in answers)
    parted = [os.path.commonprefix([a, b]) for a, b in answers if a != b]
    where = f"; the others part after {statistics.median(map(len, parted)):.0f} characters (median)" if parted else ""
    return f"{same}/{len(answers)}{where}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="gemma-3-270m")
    parser.add_argument("--conversations", type=int, default=2)
    parser.add_argument("--turns", type=int, default=10)
    parser.add_argument("--max-tokens", type=int, default=48)
    parser.add_argument("--replies", nargs="+", choices=["scripted", "model"], default=["scripted", "model"])
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import httpx

    servers, clients, runs = [], {}, {}
    with tempfile.TemporaryDirectory() as data_dir:
        try:
            for name, options in (("cache", []), ("none", ["--prompt-cache-mb", "0"])):
                port = free_port()
                servers.append(start_server(args.model, Path(data_dir) / name, port, options))
                clients[name] = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=600)
            for client in clients.values():  # loads the model; its cache then holds the system prompt
                chat_stream(client, args.model, [{"role": "system", "content": SYSTEM},
                                                 {"role": "user", "content": "Hello!"}], 8)
            for k, replies in enumerate(args.replies):
                runs[replies] = run_chats(clients, args.model, replies, k * args.conversations, args)
        finally:
            for server in servers:
                server.terminate()
                server.wait(timeout=60)
    for replies, (results, _) in runs.items():
        print(f"model {args.model}, {args.conversations} conversations of {args.turns} turns, {replies} replies, "
              f"greedy, at most {args.max_tokens} tokens an answer; medians over the conversations")
        report(results, args.turns, args.conversations)
    last_chat = runs[args.replies[-1]][1][-1]
    stats = cached_conversation_memory(args.model, last_chat, args.max_tokens)
    entries = stats.live_entries + stats.stored_entries
    per_token = stats.cached_bytes / max(stats.cached_tokens, 1) / 1024
    print(f"memory per cached conversation: {stats.bytes_per_entry / 2**20:.1f} MB for "
          f"{stats.cached_tokens / max(entries, 1):.0f} tokens ({per_token:.1f} KB a token; {entries} cached, "
          f"{stats.reused_tokens}/{stats.prompt_tokens} prompt tokens reused)")
    control = placement_control(args.model, last_chat, args.max_tokens)
    print(f"control, no cache: answers the same read alone and beside another chat: {agreement(control)}")
    floor = attention_floor(args.model)
    (few, short), (many, long) = sorted(floor.items())
    print(f"floor: prefilling the same {FLOOR_NEW_TOKENS} tokens after {many} cached positions takes "
          f"{long * 1000:.0f} ms, after {few} {short * 1000:.0f} ms ({long / short:.2f}x): attention reads every "
          "cached position")


if __name__ == "__main__":
    main()
