"""``caretune train --knowledge``: each agent turn trained with its passages, as serving will lay them out."""

from __future__ import annotations

from pathlib import Path

from caretune.data.read_jsonl import numbered_examples
from caretune.knowledge import KnowledgeBase
from caretune.runs.info import KnowledgeSettings
from caretune.training import RunInfo, TrainConfig, train
from caretune.training.grounding import grounded_examples, trained_turns
from tests.knowledge.helpers import POLICIES


def _kb(tmp_path: Path, train_file: Path) -> Path:
    (tmp_path / "policies.md").write_text(POLICIES, encoding="utf-8")
    KnowledgeBase(tmp_path / "kb", create=True).add([tmp_path / "policies.md", train_file])
    return tmp_path / "kb"


def test_each_trained_turn_gets_its_passages(chat_data_dir: Path, tmp_path: Path) -> None:
    train_file = chat_data_dir / "train.jsonl"
    kb = _kb(tmp_path, train_file)
    numbered = numbered_examples(train_file)
    grounded = grounded_examples(trained_turns(numbered), train_file, KnowledgeSettings(path=str(kb), passages=3))
    assert len(grounded) == sum(m.role == "assistant" for _, e in numbered for m in e.messages)
    for example in grounded:
        weights = [m.weight for m in example.messages if m.role == "assistant"]
        assert weights[-1] == 1 and all(w == 0 for w in weights[:-1])  # one trained turn, earlier ones context
        assert example.messages[0].content.startswith("You are a customer support agent for Acme.\n\n")
        # Up to 3: the synthetic conversations repeat their answers, and search keeps one of near-duplicates.
        assert 2 <= example.messages[0].content.count("\n- ") <= 3


_PAIRS = [("my tent pole snapped", "Poles have a 2-year warranty."), ("my stove leaks gas", "Stop using it now."),
          ("my boots squeak", "Try the care kit.")]


def _past(path: Path) -> Path:
    from tests.conftest import write_jsonl

    rows = [{"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]} for q, a in _PAIRS]
    return write_jsonl(path, rows)


def _answers_shown(train_file: Path, kb: Path) -> list[str]:
    """Each conversation's own answer when the passages it is trained with hold it, else ''."""
    grounded = grounded_examples(trained_turns(numbered_examples(train_file)), train_file,
                                 KnowledgeSettings(path=str(kb), passages=3))
    return [answer if answer in example.messages[0].content else "" for (_, answer), example in zip(_PAIRS, grounded)]


def test_a_conversation_is_never_shown_its_own_answer(tmp_path: Path) -> None:
    train_file = _past(tmp_path / "train.jsonl")
    KnowledgeBase(tmp_path / "kb", create=True).add([train_file])
    grounded = grounded_examples(trained_turns(numbered_examples(train_file)), train_file,
                                 KnowledgeSettings(path=str(tmp_path / "kb")))
    for (question, answer), example in zip(_PAIRS, grounded):
        system = example.messages[0].content
        assert answer not in system and system.count("\n- ") == 2  # the two other conversations only


def test_nor_from_a_copy_uploaded_to_the_server(tmp_path: Path) -> None:
    """The server indexes an upload from a temporary file and trains on its own stored copy: the conversations
    are named by the file's content, so each is still left out of its own passages."""
    from caretune.server.serving_knowledge import add_upload

    stored = _past(tmp_path / "files" / "file-abc123")
    kb = KnowledgeBase(tmp_path / "kb", create=True)
    with stored.open("rb") as upload:
        add_upload(kb, upload, "past-conversations.jsonl")
    assert _answers_shown(stored, tmp_path / "kb") == ["", "", ""]
    # the same passages from an edited file (other content, another name) do hold each answer
    edited = _past(tmp_path / "edited.jsonl")
    edited.write_text(edited.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    assert _answers_shown(edited, tmp_path / "kb") == [a for _, a in _PAIRS]


def test_nor_from_a_base_indexed_before_files_were_named_by_content(tmp_path: Path) -> None:
    """A base whose origins still name the file's path is renamed once when opened, so training keeps leaving
    each conversation out of its own passages."""
    import sqlite3

    train_file = _past(tmp_path / "train.jsonl")
    KnowledgeBase(tmp_path / "kb", create=True).add([train_file])
    with sqlite3.connect(tmp_path / "kb" / "knowledge.sqlite") as db:  # as an older caretune wrote it
        db.execute("UPDATE chunks SET origin = ? || ':' || (id)", (str(train_file.resolve()),))
        db.execute("DELETE FROM meta WHERE key = 'origins'")
    assert _answers_shown(train_file, tmp_path / "kb") == ["", "", ""]


def test_a_run_trained_with_knowledge_answers_from_it(chat_data_dir: Path, tiny_llama_dir: Path, tmp_path: Path) -> None:
    from caretune.answering import prepare_answer
    from caretune.engines import load_engine

    kb = _kb(tmp_path, chat_data_dir / "train.jsonl")
    run = train(TrainConfig(data=chat_data_dir, out=tmp_path / "run", base=str(tiny_llama_dir), knowledge=kb,
                            passages=2, max_steps=2, batch_size=2, max_seq_len=512))
    info = RunInfo.load(run)
    assert info.knowledge == KnowledgeSettings(path=str(kb.resolve()), passages=2)
    assert info.system_prompt == "You are a customer support agent for Acme."  # the instructions, no passages
    engine = load_engine(run, engine="transformers")
    answer = prepare_answer(engine, [{"role": "user", "content": "do gift cards expire?"}], engine.prompting.knowledge)
    assert len(answer.passages) == 2 and "Gift cards never expire" in answer.prompt


def test_a_short_run_reads_passages_only_for_the_turns_it_reaches(
    chat_data_dir: Path, tiny_llama_dir: Path, tmp_path: Path
) -> None:
    """Two steps of two examples take four turns: only a seeded sample of four is read for passages, while
    the ``auto`` hyperparameters still follow the whole file."""
    from caretune.training.hyperparameters import _auto_epochs
    from caretune.training.session import Session

    kb = _kb(tmp_path, chat_data_dir / "train.jsonl")
    turns = trained_turns(numbered_examples(chat_data_dir / "train.jsonl"))
    config = TrainConfig(data=chat_data_dir, out=tmp_path / "run", base=str(tiny_llama_dir), knowledge=kb,
                         max_steps=2, batch_size=2, max_seq_len=512)
    first = Session.prepare(config, None)
    again = Session.prepare(config.model_copy(update={"out": tmp_path / "again"}), None)
    assert len(turns) > 4 and len(first.trainer.train_dataset) == 4
    assert first.trainer.train_dataset["input_ids"] == again.trainer.train_dataset["input_ids"]  # the seed's sample
    assert first.info.hyperparameters.n_epochs == _auto_epochs(len(turns)) != _auto_epochs(4)
