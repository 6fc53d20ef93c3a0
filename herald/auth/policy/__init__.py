"""AWS policy language: parse documents once, evaluate requests fast, explain decisions.

A pure package (no I/O, no clock of its own): ``document`` parses and validates,
``matching`` holds the wildcard and variable rules, ``conditions`` the condition operators,
``evaluation`` AWS's decision logic.
"""

from herald.auth.policy.document import Effect, Policy, Statement, parse_policy
from herald.auth.policy.evaluation import (
    Decision,
    Outcome,
    PolicySet,
    PrincipalInfo,
    Request,
    evaluate,
)

__all__ = [
    "Decision",
    "Effect",
    "Outcome",
    "Policy",
    "PolicySet",
    "PrincipalInfo",
    "Request",
    "Statement",
    "evaluate",
    "parse_policy",
]
