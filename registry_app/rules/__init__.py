"""The flag rules of shared/domain/rules.md, evaluated set-based in SQL. No Qt, no services."""

from .catalogue import ALERT_CODES, COMPLIANCE_CODES, RULES, Flag, Rule
from .evaluate import evaluate_alerts, evaluate_flags

__all__ = ["ALERT_CODES", "COMPLIANCE_CODES", "RULES", "Flag", "Rule", "evaluate_alerts", "evaluate_flags"]
