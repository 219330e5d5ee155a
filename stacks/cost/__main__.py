"""``python -m stacks.cost [cdk.out]``: print the monthly estimate for the synthesized app (``make cost``)."""

from __future__ import annotations

import sys
from pathlib import Path

from stacks.cost.estimate import Deployment, report


def main(argv: list[str]) -> None:
    assembly = Path(argv[0] if argv else "cdk.out")
    if not any(assembly.glob("*.template.json")):
        raise SystemExit(f"no templates in {assembly}: run `make synth` first")
    print(report(Deployment.from_assembly(assembly)))


if __name__ == "__main__":
    main(sys.argv[1:])
