"""The flag rules of shared/domain/rules.md, evaluated set-based in SQL. No Qt, no services."""

# Imported for its session listeners: the persisted flags are kept by every transaction once rules are loaded.
from . import table
from .catalogue import ALERT_CODES, COMPLIANCE_CODES, RULES, Flag, Rule
from .evaluate import evaluate_alerts, evaluate_flags

__all__ = ["ALERT_CODES", "COMPLIANCE_CODES", "RULES", "Flag", "Rule", "evaluate_alerts", "evaluate_flags", "table"]
