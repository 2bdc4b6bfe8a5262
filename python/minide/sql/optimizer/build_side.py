from typing import Any


def run(plan: Any, ctx: Any = None) -> Any:
    return plan
