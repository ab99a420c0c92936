"""Evaluation: does the fine-tune answer like the company's best agent, and better than cheap alternatives?

``runner.evaluate(EvalConfig)`` runs every model and the two baselines (few-shot base model, retrieval) on
held-out agent turns or on bare customer questions; ``report.write_report`` renders ``metrics.json``,
``report.md`` and a self-contained ``report.html``; ``compare.compare_reports`` diffs two reports. Modules are
imported directly (nothing heavy is loaded by importing this package).
"""
