"""Page weight of the console: for each page, the HTML plus every script and stylesheet it loads, raw and gzipped
(what a phone on a slow network downloads the first time; the static files are cached for a year after that).

Usage, against a running `make run` (demo data; the demo team's password is printed by `leadflow seed-demo`):

    uv run python bench/page_weight.py --url http://127.0.0.1:8000 --password demo-Leadflow-2026

Traffic goes only to the given URL (use a loopback address).
"""

from __future__ import annotations

import argparse
import gzip
import re
from html.parser import HTMLParser

import httpx

PAGES = (  # (login, path)
    ("operator.1", "/intake"),
    ("director.msk", "/board"),
    ("director.msk", "/requests"),
    ("master.ivanov", "/my"),
    (None, "/login"),
)


class Assets(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "script" and found.get("src"):
            self.urls.append(str(found["src"]))
        if tag == "link" and found.get("rel") == "stylesheet" and found.get("href"):
            self.urls.append(str(found["href"]))


def weigh(client: httpx.Client, path: str) -> tuple[int, int, list[str]]:
    page = client.get(path)
    page.raise_for_status()
    parser = Assets()
    parser.feed(page.text)
    bodies = [page.content] + [client.get(url).content for url in parser.urls]
    # Modules a module imports are loaded too.
    for url in list(parser.urls):
        if url.endswith(".js"):
            source = client.get(url).text
            for imported in re.findall(r"""from\s+["'](/static/[^"']+)["']""", source):
                bodies.append(client.get(imported).content)
    raw = sum(len(b) for b in bodies)
    packed = sum(len(gzip.compress(b, 6)) for b in bodies)
    return raw, packed, parser.urls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--password", default="demo-Leadflow-2026")
    args = parser.parse_args()
    print(f"{'page':<12} {'login':<15} {'raw KiB':>9} {'gzip KiB':>9}  files")
    for login, path in PAGES:
        with httpx.Client(base_url=args.url, follow_redirects=True, timeout=30) as client:
            if login is not None:
                signed = client.post("/login", data={"login": login, "password": args.password, "next": path})
                signed.raise_for_status()
            raw, packed, urls = weigh(client, path)
            print(f"{path:<12} {login or '-':<15} {raw / 1024:>9.1f} {packed / 1024:>9.1f}  {len(urls) + 1}")


if __name__ == "__main__":
    main()
