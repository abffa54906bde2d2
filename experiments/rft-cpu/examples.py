"""What the 30 example traces of ``searchr3.eval.traces`` JSON files say, counted:
python experiments/rft-cpu/examples.py FILE.json ...

Per file: greedy traces that are empty, that open with "Looking for", that mention "embed" (a
word of the reasoning prompt, not of the questions), and forced-opening continuations that do.
"""

import json
import sys


def main(paths: list[str]) -> None:
    print("| file | examples | greedy empty | greedy 'Looking for' | greedy 'embed' | forced opening 'embed' |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for path in paths:
        with open(path, encoding="utf-8") as f:
            ex = json.load(f)["examples"]
        counts = (
            sum(not e["greedy"].strip() for e in ex),
            sum(e["greedy"].startswith("Looking for") for e in ex),
            sum("embed" in e["greedy"].lower() for e in ex),
            sum("embed" in e["forced_opening"].lower() for e in ex),
        )
        print(f"| {path.rsplit('/', 1)[-1]} | {len(ex)} | " + " | ".join(map(str, counts)) + " |")


if __name__ == "__main__":
    main(sys.argv[1:])
