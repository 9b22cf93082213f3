"""The flag rules as the views show them: each code's severity and title, and the Flag record itself.

The desktop and the CLI list, filter and describe flags with these; evaluating them is services/flags.py.
"""

from __future__ import annotations

from registry_app.rules import ALERT_CODES, COMPLIANCE_CODES, RULES, Flag, Rule

__all__ = ["ALERT_CODES", "COMPLIANCE_CODES", "RULES", "Flag", "Rule"]
