"""Validating a training file before fine-tuning: ``validate_file(path) -> ValidationReport``.

A library call that returns findings instead of printing them, because two doors use it: ``caretune
validate`` prints them, the API server's ``POST /v1/files`` returns them. Each check lives in a module of
its own (``read``, ``examples``, ``duplicates``, ``legacy``, ``tokens``); ``report`` runs them in order and
assembles the report; ``fix`` writes a repaired copy.
"""

from caretune.data.validate.findings import Finding
from caretune.data.validate.report import Analysis, ValidationReport, analyse, validate_file

__all__ = ["Analysis", "Finding", "ValidationReport", "analyse", "validate_file"]
