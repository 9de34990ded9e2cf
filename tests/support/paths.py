"""Where the tests find the repository and their data, wherever the checkout is."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TESTS = REPO / "tests"
DATA = TESTS / "data"
GOTEMPLATE_DATA = DATA / "gotemplate"
GOJUDGE = TESTS / "support" / "gojudge"
