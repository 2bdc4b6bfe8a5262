"""Plain benchmark runner: ``python benches/run.py [NAME ...] [--size small]``.

Same as ``minide bench``; kept as a script so benches run without the console entry point.
"""

import sys

from minide.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", *sys.argv[1:]]))
