"""The transformers engine honours every OpenAI sampling parameter (tiny random Llama + a LoRA run)."""

from __future__ import annotations

import threading

import pytest

from caretune.engines import EngineError, SamplingParams

PROMPT = "Customer: my order has not arrived yet\nAgent:"


def greedy(engine, **kw):
    return engine.complete(PROMPT, SamplingParams(temperature=0, **kw))


def test_greedy_matches_transformers_generate_with_the_adapter_merged(
    hf_llama_run_engine, tiny_llama_run, tiny_llama_dir
) -> None:
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_llama_run / "tokenizer")
    base = AutoModelForCausalLM.from_pretrained(tiny_llama_dir)
    model = PeftModel.from_pretrained(base, tiny_llama_run / "adapter").eval()
    ids = tok(PROMPT, return_tensors="pt").input_ids
    with torch.no_grad():
        out = model.generate(ids, max_new_tokens=12, do_sample=False, eos_token_id=None, pad_token_id=0)
    expected = tok.decode(out[0, ids.shape[1] :], skip_special_tokens=True)
    result = greedy(hf_llama_run_engine, max_tokens=12)
    assert result.choices[0].text == expected
    assert result.choices[0].finish_reason == "length"
    assert result.completion_tokens == 12
    assert result.prompt_tokens == hf_llama_run_engine.count_tokens(PROMPT) == ids.shape[1]


def test_adapter_changes_output(hf_llama_run_engine, tiny_llama_dir) -> None:
    from caretune.engines import load_engine

    base = load_engine(tiny_llama_dir, engine="transformers")
    assert greedy(base, max_tokens=12).choices[0].text != greedy(hf_llama_run_engine, max_tokens=12).choices[0].text


def test_stream_adds_up_to_complete_and_ends_with_usage(hf_llama_run_engine) -> None:
    params = SamplingParams(temperature=0, max_tokens=10, logprobs=2)
    events = list(hf_llama_run_engine.stream(PROMPT, params))
    result = hf_llama_run_engine.complete(PROMPT, params)
    assert "".join(e.text for e in events) == result.choices[0].text
    assert events[-1].usage is not None and events[-1].usage.completion_tokens == 10
    assert [e.finish_reason for e in events if e.finish_reason] == ["length"]
    streamed = [t for e in events if e.logprobs for t in e.logprobs.tokens]
    assert streamed == result.choices[0].logprobs.tokens


def test_stop_split_across_tokens_is_cut_and_never_streamed(hf_llama_run_engine) -> None:
    text = greedy(hf_llama_run_engine, max_tokens=16).choices[0].text
    stop = text[5:9]  # 4 characters: with a 512-token vocabulary this spans token boundaries
    params = SamplingParams(temperature=0, max_tokens=16, stop=["never-there", stop])
    result = hf_llama_run_engine.complete(PROMPT, params)
    assert result.choices[0].text == text[: text.index(stop)]
    assert result.choices[0].finish_reason == "stop"
    chunks = [e.text for e in hf_llama_run_engine.stream(PROMPT, params)]
    assert "".join(chunks) == text[: text.index(stop)]


def test_seed_reproduces_sampling_and_n_gives_distinct_choices(hf_llama_run_engine) -> None:
    params = SamplingParams(temperature=1.0, top_p=0.9, max_tokens=12, n=3, seed=7)
    first = hf_llama_run_engine.complete(PROMPT, params)
    again = hf_llama_run_engine.complete(PROMPT, params)
    assert [c.text for c in first.choices] == [c.text for c in again.choices]
    assert [c.index for c in first.choices] == [0, 1, 2]
    assert len({c.text for c in first.choices}) > 1
    other = hf_llama_run_engine.complete(PROMPT, params.model_copy(update={"seed": 8}))
    assert [c.text for c in other.choices] != [c.text for c in first.choices]


def test_any_integer_seed_samples_reproducibly(hf_llama_run_engine) -> None:
    """OpenAI's seed is signed 64-bit; a negative one folds into the generator's range, deterministically."""
    params = SamplingParams(temperature=1.0, max_tokens=12, n=2, seed=-5)
    negative = hf_llama_run_engine.complete(PROMPT, params)
    assert negative == hf_llama_run_engine.complete(PROMPT, params)
    folded = hf_llama_run_engine.complete(PROMPT, params.model_copy(update={"seed": 2**63 - 5}))
    assert [c.text for c in folded.choices] == [c.text for c in negative.choices]
    huge = params.model_copy(update={"seed": 2**100})
    assert hf_llama_run_engine.complete(PROMPT, huge) == hf_llama_run_engine.complete(PROMPT, huge)


@pytest.mark.parametrize("max_tokens", [0, 4])
def test_empty_prompt_is_an_engine_error(hf_llama_run_engine, max_tokens: int) -> None:
    """The tiny tokenizer adds no BOS, so "" is 0 tokens: nothing to condition on, a clear error."""
    assert hf_llama_run_engine.count_tokens("") == 0
    params = SamplingParams(temperature=0, max_tokens=max_tokens)
    with pytest.raises(EngineError, match="empty"):
        hf_llama_run_engine.complete("", params)
    with pytest.raises(EngineError, match="empty"):
        list(hf_llama_run_engine.stream("", params))


def test_best_of_returns_the_candidate_with_highest_mean_logprob(hf_llama_run_engine) -> None:
    all_three = hf_llama_run_engine.complete(
        PROMPT, SamplingParams(temperature=1.0, max_tokens=8, n=3, seed=3, logprobs=0)
    )
    best = hf_llama_run_engine.complete(PROMPT, SamplingParams(temperature=1.0, max_tokens=8, n=1, best_of=3, seed=3))
    means = [sum(c.logprobs.token_logprobs) / len(c.logprobs.token_logprobs) for c in all_three.choices]
    assert best.choices[0].text == all_three.choices[means.index(max(means))].text
    assert len(best.choices) == 1
    assert best.completion_tokens == all_three.completion_tokens == 24
    with pytest.raises(EngineError):
        list(hf_llama_run_engine.stream(PROMPT, SamplingParams(n=1, best_of=2)))


def test_logprobs_top_k_and_greedy_token_is_the_top_one(hf_llama_run_engine) -> None:
    choice = greedy(hf_llama_run_engine, max_tokens=6, logprobs=3).choices[0]
    lp = choice.logprobs
    assert len(lp.tokens) == len(lp.token_logprobs) == len(lp.top_logprobs) == 6
    for logprob, top in zip(lp.token_logprobs, lp.top_logprobs):
        assert 1 <= len(top) <= 3
        assert max(top.values()) == pytest.approx(logprob)
        assert logprob <= 0
    assert "".join(lp.tokens) == choice.text
    assert lp.text_offset == sorted(lp.text_offset)


def test_echo_prepends_the_prompt_and_scores_its_tokens(hf_llama_run_engine) -> None:
    result = greedy(hf_llama_run_engine, max_tokens=3, echo=True, logprobs=1)
    choice = result.choices[0]
    assert choice.text.startswith(PROMPT)
    n_prompt = result.prompt_tokens
    assert choice.logprobs.token_logprobs[0] is None
    assert all(lp is not None for lp in choice.logprobs.token_logprobs[1:])
    assert len(choice.logprobs.tokens) == n_prompt + 3
    scored = greedy(hf_llama_run_engine, max_tokens=0, echo=True)
    assert scored.choices[0].text == PROMPT and scored.completion_tokens == 0


def test_logit_bias_bans_and_forces_tokens(hf_llama_run_engine) -> None:
    import torch

    tok = hf_llama_run_engine._tokenizer
    with torch.no_grad():
        logits = hf_llama_run_engine._model(tok(PROMPT, return_tensors="pt").input_ids).logits[0, -1]
    first_id, second_id = torch.topk(logits, 2).indices.tolist()
    banned = greedy(hf_llama_run_engine, max_tokens=1, logprobs=0, logit_bias={first_id: -100}).choices[0]
    biased = logits.clone()
    biased[first_id] -= 100
    assert banned.text == tok.decode([second_id])
    assert banned.logprobs.token_logprobs[0] == pytest.approx(torch.log_softmax(biased, -1)[second_id].item(), abs=1e-4)
    forced_id = tok(" refund", add_special_tokens=False).input_ids[0]
    forced = greedy(hf_llama_run_engine, max_tokens=3, logit_bias={str(forced_id): 100})
    assert forced.choices[0].text == tok.decode([forced_id] * 3)


def test_penalties_follow_openais_formula(hf_llama_run_engine) -> None:
    """logit[j] -= count[j] * frequency_penalty + (count[j] > 0) * presence_penalty, over the completion."""
    import torch

    tok = hf_llama_run_engine._tokenizer
    ids = tok(PROMPT, return_tensors="pt").input_ids
    counts: dict[int, int] = {}
    with torch.no_grad():
        for _ in range(16):
            logits = hf_llama_run_engine._model(ids).logits[0, -1].clone()
            for token, count in counts.items():
                logits[token] -= count * 0.5 + 1.5
            token = int(torch.argmax(logits))
            counts[token] = counts.get(token, 0) + 1
            ids = torch.cat([ids, torch.tensor([[token]])], dim=1)
    expected = tok.decode(ids[0, -16:], skip_special_tokens=True)
    result = greedy(hf_llama_run_engine, max_tokens=16, presence_penalty=1.5, frequency_penalty=0.5)
    assert result.choices[0].text == expected
    assert expected != greedy(hf_llama_run_engine, max_tokens=16).choices[0].text


def test_concurrent_callers_get_the_same_answers_as_sequential(hf_llama_run_engine) -> None:
    prompts = [PROMPT, "Customer: how do I reset my password\nAgent:", "Customer: hi\nAgent:"]
    expected = [
        hf_llama_run_engine.complete(p, SamplingParams(temperature=0, max_tokens=10)).choices[0].text for p in prompts
    ]
    results: dict[int, str] = {}

    def work(i: int) -> None:
        p = prompts[i % 3]
        results[i] = hf_llama_run_engine.complete(p, SamplingParams(temperature=0, max_tokens=10)).choices[0].text

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [results[i] for i in range(6)] == [expected[i % 3] for i in range(6)]


def test_run_metadata_and_chat_rendering(hf_llama_run_engine) -> None:
    assert hf_llama_run_engine.model_id == "llama-demo"
    assert hf_llama_run_engine.default_stop == ["\nCustomer:"]
    assert hf_llama_run_engine.prompt_format.kind == "plain"
    prompt = hf_llama_run_engine.render_chat([{"role": "user", "content": "hello"}])
    assert prompt == "Customer: hello\nAgent:"
    assert hf_llama_run_engine.context_length == 512


def test_n_threads_sets_torchs_threads_and_keeps_greedy_output(hf_llama_run_engine, tiny_llama_run) -> None:
    import torch

    from caretune.engines import load_engine

    before = torch.get_num_threads()
    try:
        single = load_engine(tiny_llama_run, engine="transformers", n_threads=1)
        assert torch.get_num_threads() == 1
        assert greedy(single, max_tokens=12, logprobs=1) == greedy(hf_llama_run_engine, max_tokens=12, logprobs=1)
    finally:
        torch.set_num_threads(before)
