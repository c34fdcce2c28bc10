"""Cross-checks tests/it/corpus_expected.tsv against Python's feedparser, an independent
lenient reader. Prints every document where the two disagree on whether it is a feed, on the
item count, or on the first title (compared as plain text with whitespace folded).

    pip install feedparser
    python3 tests/it/corpus_crosscheck.py [../shared/corpus] [tests/it/corpus_expected.tsv]

A disagreement is not a failure by itself: each one was looked at, and the TSV's header says
who is right and why. The Rust test (tests/it/corpus.rs) is what guards the expectations.
"""

import html
import os
import re
import sys

import feedparser

here = os.path.dirname(os.path.abspath(__file__))
corpus = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "..", "..", "shared", "corpus")
expected_path = sys.argv[2] if len(sys.argv) > 2 else os.path.join(here, "corpus_expected.tsv")


def plain(text):
    text = re.sub(r"<[^>]*>", " ", text or "")
    return " ".join(html.unescape(text).split())


def content_type(notes):
    match = re.match(r"header=Content-type:\s*(.*?); description=", notes, re.I)
    return match.group(1).replace('\\"', '"') if match else None


expected = {}
with open(expected_path, encoding="utf-8") as lines:
    for line in lines:
        if line.startswith("#") or not line.strip():
            continue
        file, outcome, count, detail = line.rstrip("\n").split("\t", 3)
        expected[file] = (outcome, count, detail)

disagreements = 0
with open(os.path.join(corpus, "MANIFEST.tsv"), encoding="utf-8") as manifest:
    next(manifest)
    for row in manifest:
        columns = row.rstrip("\n").split("\t")
        file, notes = columns[0], columns[8]
        with open(os.path.join(corpus, file), "rb") as document:
            body = document.read()
        headers = {}
        if content_type(notes):
            headers["content-type"] = content_type(notes)
        result = feedparser.parse(body, response_headers=headers)
        is_feed = bool(result.get("version")) or bool(result.entries)
        count = len(result.entries)
        title = plain(result.entries[0].get("title", "")) if result.entries else ""
        ours = expected.get(file)
        if ours is None:
            print(f"{file}: not in the TSV (feedparser: {count} items, {title!r})")
            disagreements += 1
            continue
        outcome, our_count, detail = ours
        problems = []
        if (outcome == "parsed") != is_feed:
            problems.append(f"we say {outcome}, feedparser version={result.get('version')!r}")
        if outcome == "parsed" and int(our_count) != count:
            problems.append(f"items: ours {our_count}, feedparser {count}")
        if outcome == "parsed" and count and title and plain(detail) != title:
            problems.append(f"title: ours {detail!r}, feedparser {title!r}")
        feed_title = plain(result.feed.get("title", ""))
        if outcome == "parsed" and not count and detail.startswith("feed: ") and plain(detail[6:]) != feed_title:
            problems.append(f"feed title: ours {detail[6:]!r}, feedparser {feed_title!r}")
        if problems:
            disagreements += 1
            print(f"{file}: " + "; ".join(problems))
print(f"{disagreements} disagreements", file=sys.stderr)
