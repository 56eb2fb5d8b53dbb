"""Point the notebooks' Colab set-up cell at your copy of the repository and print
"Open in Colab" links for it.

The committed notebooks carry a placeholder address (``YOUR-ACCOUNT``), because the
project publishes none of its own. After you push the repository to GitHub:

    make colab REPO=<account>/<repo>          # or: python -m tools.colab <account>/<repo>

rewrites ``REPO_URL`` in the first code cell of every notebook (sources only; the
stored outputs stay) and prints one Markdown badge per notebook to paste where you
want them (your README, a course page). Commit and push the notebooks afterwards: the
Colab links open the notebooks as they are on GitHub.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from helpers.files import atomic_write_text

REPO_ROOT = Path(__file__).resolve().parent.parent
REPO_URL_LINE = re.compile(r'^REPO_URL = "[^"]*"', re.M)
NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$")
BADGE = "https://colab.research.google.com/assets/colab-badge.svg"


def set_repo_url(notebook: Path, url: str) -> bool:
    """Rewrite the ``REPO_URL = "..."`` line of ``notebook``'s first code cell; True if it changed."""
    nb = json.loads(notebook.read_text())
    cell = next((c for c in nb["cells"] if c["cell_type"] == "code"), None)
    source = "".join(cell["source"]) if cell else ""
    if not REPO_URL_LINE.search(source):
        raise ValueError(f"{notebook}: its first code cell has no REPO_URL line to set")
    new = REPO_URL_LINE.sub(f'REPO_URL = "{url}"', source, count=1)
    if new == source:
        return False
    cell["source"] = new.splitlines(keepends=True)
    atomic_write_text(notebook, json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
    return True


def colab_link(repo: str, notebook: Path, branch: str = "main") -> str:
    return f"https://colab.research.google.com/github/{repo}/blob/{branch}/notebooks/{notebook.name}"


def main(argv=None) -> list[str]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("repo", help="your repository on GitHub, as <account>/<repo>")
    parser.add_argument("--branch", default="main")
    parser.add_argument("--notebooks", nargs="*", default=None, help="default: notebooks/*.ipynb")
    args = parser.parse_args(argv)
    if not NAME.match(args.repo):
        parser.error(f"REPO={args.repo!r} is not a GitHub <account>/<repo> name (e.g. REPO=ada/dlcv-notebooks)")
    notebooks = [Path(n) for n in args.notebooks] if args.notebooks else sorted(
        (REPO_ROOT / "notebooks").glob("*.ipynb"))
    badges = []
    for nb in notebooks:
        changed = set_repo_url(nb, f"https://github.com/{args.repo}")
        title = nb.stem.split("_", 1)[-1].replace("_", " ")
        badges.append(f"[![Open {title} in Colab]({BADGE})]({colab_link(args.repo, nb, args.branch)})")
        print(f"{nb.name}: REPO_URL {'set' if changed else 'already set'}", file=sys.stderr)
    print("\n".join(badges))
    return badges


if __name__ == "__main__":
    main()
