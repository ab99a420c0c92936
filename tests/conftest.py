"""Shared fixtures: tiny random models built from a config, a tokenizer trained in the test, small data.

Nothing here downloads anything: the tokenizer is a byte-level BPE trained on a synthetic support corpus in
about a second, and the models are random-initialised from a config, so every stage can be tested for real
(training, export, llama.cpp, the server) in seconds.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

SPECIAL_TOKENS = ["<pad>", "<bos>", "<eos>", "<unk>"]
LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]

_CUSTOMER_LINES = [
    "my order has not arrived yet",
    "how do I reset my password",
    "can I get a refund for my jacket",
    "what are your opening hours on sunday",
    "the app keeps crashing when I log in",
    "where is my parcel it was due yesterday",
]
_AGENT_LINES = [
    "Sorry to hear that! Please DM us your order number and we will check.",
    "You can reset it from Settings > Account > Reset password.",
    "Refunds are possible within 30 days of delivery.",
    "We are open 9am to 6pm Monday to Saturday, closed on Sunday.",
    "Please update the app to the latest version and try again.",
    "Standard shipping takes 3 to 5 working days.",
]


def synthetic_conversations(n: int, seed: int = 0) -> list[dict]:
    """Chat-format examples whose agent reply is a deterministic function of the customer's question.

    A model that learns them shows a falling loss quickly, which is what the training tests check.
    """
    rng = random.Random(seed)
    examples = []
    for _ in range(n):
        turns = rng.randint(1, 2)
        messages = [{"role": "system", "content": "You are a customer support agent for Acme."}]
        for _ in range(turns):
            i = rng.randrange(len(_CUSTOMER_LINES))
            messages.append({"role": "user", "content": _CUSTOMER_LINES[i]})
            messages.append({"role": "assistant", "content": _AGENT_LINES[i]})
        examples.append({"messages": messages})
    return examples


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    """Write rows as JSON Lines (UTF-8, one object per line)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def tiny_tokenizer_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A byte-level BPE tokenizer (vocab 512) trained on the synthetic support corpus, saved as an HF dir."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=512,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    corpus = _CUSTOMER_LINES + _AGENT_LINES + ["Customer: hello\nAgent: Hi! How can I help?"] * 5
    tok.train_from_iterator(corpus, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<bos>",
        eos_token="<eos>",
        pad_token="<pad>",
        unk_token="<unk>",
    )
    out = tmp_path_factory.mktemp("tiny_tokenizer")
    fast.save_pretrained(out)
    return out


def _save_tiny_model(model, tokenizer_dir: Path, out: Path) -> Path:
    from transformers import AutoTokenizer

    model.save_pretrained(out)
    AutoTokenizer.from_pretrained(tokenizer_dir).save_pretrained(out)
    return out


@pytest.fixture(scope="session")
def tiny_gemma_dir(tiny_tokenizer_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random Gemma 3 (text) causal LM, 2 layers, hidden 64: the default base model's architecture, tiny."""
    model = _tiny_gemma(tiny_tokenizer_dir)
    return _save_tiny_model(model, tiny_tokenizer_dir, tmp_path_factory.mktemp("tiny_gemma"))


def _tiny_gemma(tokenizer_dir: Path, **overrides: object):
    """A seeded random Gemma 3 (text) causal LM, 2 layers, hidden 64, sized to the tiny tokenizer."""
    import torch
    from transformers import AutoTokenizer, Gemma3ForCausalLM, Gemma3TextConfig

    tok = AutoTokenizer.from_pretrained(tokenizer_dir)
    torch.manual_seed(0)
    config = Gemma3TextConfig(
        vocab_size=len(tok),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=32,
        max_position_embeddings=512,
        sliding_window=128,
        pad_token_id=tok.pad_token_id,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        **overrides,
    )
    return Gemma3ForCausalLM(config)


@pytest.fixture(scope="session")
def tiny_llama_dir(tiny_tokenizer_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random Llama causal LM, 2 layers, hidden 64: a second architecture, and one llama.cpp knows well."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tok = AutoTokenizer.from_pretrained(tiny_tokenizer_dir)
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        pad_token_id=tok.pad_token_id,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
    )
    model = LlamaForCausalLM(config)
    return _save_tiny_model(model, tiny_tokenizer_dir, tmp_path_factory.mktemp("tiny_llama"))


@pytest.fixture()
def chat_data_dir(tmp_path: Path) -> Path:
    """A prepared-data directory (train/valid/test.jsonl) of synthetic chat-format conversations."""
    out = tmp_path / "prepared"
    write_jsonl(out / "train.jsonl", synthetic_conversations(48, seed=1))
    write_jsonl(out / "valid.jsonl", synthetic_conversations(8, seed=2))
    write_jsonl(out / "test.jsonl", synthetic_conversations(8, seed=3))
    return out


# --- inference and export (issue 4): LoRA run directories on the tiny models -------------------------------


def sharpened_copy(base_dir: Path, out: Path, factor: float = 20.0) -> Path:
    """A copy of a tiny model whose final norm scales the logits by `factor`.

    A random model's next-token distribution is almost flat, so the last-bit differences between two correct
    implementations flip its argmax; trained models are peaked. Sharpening makes greedy parity meaningful.
    """
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32)
    norm = model.model.norm.weight
    with torch.no_grad():
        if model.config.model_type.startswith("gemma"):
            norm.copy_((1.0 + norm) * factor - 1.0)  # Gemma's RMSNorm multiplies by (1 + w)
        else:
            norm.mul_(factor)
    return _save_tiny_model(model, base_dir, out)


def make_lora_run(base_dir: Path, out: Path, targets: list[str] = LORA_TARGETS, seed: int = 1) -> Path:
    """A run directory as `caretune train` writes it, with a random non-zero LoRA adapter (so it matters);
    another ``seed``, another adapter."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32)
    config = LoraConfig(r=4, lora_alpha=8, target_modules=targets, init_lora_weights=False, task_type="CAUSAL_LM")
    peft_model = get_peft_model(model, config)
    with torch.no_grad():
        for name, param in peft_model.named_parameters():
            if "lora_" in name:
                param.mul_(4.0)  # big enough that the adapter changes greedy output
    peft_model.save_pretrained(out / "adapter")
    AutoTokenizer.from_pretrained(base_dir).save_pretrained(out / "tokenizer")
    from caretune.runs import RunInfo
    from caretune.runs.hyperparameters import Hyperparameters
    from caretune.runs.prompt_format import PromptFormat

    hyperparameters = Hyperparameters(
        n_epochs=1, batch_size=1, learning_rate_multiplier=1.0, learning_rate=4e-3, lora_r=4, lora_alpha=8,
        max_seq_len=512, seed=1, max_steps=None,
    )
    RunInfo(
        name=out.name, base_model=str(base_dir), method="lora", prompt_format=PromptFormat(), stop=["\nCustomer:"],
        system_prompt="You are a customer support agent for Acme.", hyperparameters=hyperparameters, data={},
        status="succeeded",
    ).save(out)
    return out


@pytest.fixture(scope="session")
def tiny_llama_run(tiny_llama_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A LoRA run on (a sharpened copy of) the tiny Llama, every linear layer adapted."""
    base = sharpened_copy(tiny_llama_dir, tmp_path_factory.mktemp("sharp_llama"))
    return make_lora_run(base, tmp_path_factory.mktemp("runs") / "llama-demo")


@pytest.fixture(scope="session")
def tiny_gemma_llamacpp_dir(tiny_tokenizer_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny Gemma 3 that llama.cpp can run: query_pre_attn_scalar = head_dim (as in every real Gemma 3 but
    27B; llama.cpp assumes it), and random norm weights so that Gemma's (1 + w) norm convention is exercised.
    """
    import torch

    model = _tiny_gemma(tiny_tokenizer_dir, query_pre_attn_scalar=32)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "norm" in name:
                param.normal_(0.0, 0.3)
    return _save_tiny_model(model, tiny_tokenizer_dir, tmp_path_factory.mktemp("tiny_gemma_llamacpp"))


@pytest.fixture(scope="session")
def tiny_gemma_run(tiny_gemma_llamacpp_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A LoRA run on the llama.cpp-compatible tiny Gemma 3."""
    base = sharpened_copy(tiny_gemma_llamacpp_dir, tmp_path_factory.mktemp("sharp_gemma"))
    return make_lora_run(base, tmp_path_factory.mktemp("runs") / "gemma-demo")


@pytest.fixture(scope="session")
def hf_llama_run_engine(tiny_llama_run: Path):
    """The transformers engine on the tiny Llama run."""
    from caretune.engines import load_engine

    return load_engine(tiny_llama_run, engine="transformers")


@pytest.fixture(scope="session")
def llamacpp_llama_run_engine(tiny_llama_run: Path):
    """The llama.cpp engine on the same run: f32 base GGUF + the exported LoRA adapter GGUF."""
    from caretune.engines import load_engine

    engine = load_engine(tiny_llama_run, engine="llamacpp", base_dtype="f32")
    yield engine
    engine.close()
