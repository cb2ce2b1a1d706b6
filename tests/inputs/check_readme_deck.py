#!/usr/bin/env python3
"""The deck shown in README.md must be one tessera accepts: extract it and run `tessera check` on it."""
import re
import subprocess
import sys
import tempfile

tessera, readme = sys.argv[1], sys.argv[2]
text = open(readme, encoding="utf-8").read()
match = re.search(r"## A deck\n\n```yaml\n(.*?)```", text, re.S)
if not match:
    sys.exit("check_readme_deck: no '## A deck' YAML block in " + readme)
with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as deck:
    deck.write(match.group(1))
result = subprocess.run([tessera, "check", deck.name], capture_output=True, text=True)
sys.stdout.write(result.stdout[-400:])
sys.stderr.write(result.stderr)
sys.exit(result.returncode)
