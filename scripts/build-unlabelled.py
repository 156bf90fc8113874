#!/usr/bin/env python3
"""Builds data/unlabelled.jsonl (raw batches a-j), data/unlabelled-2.jsonl (batches k-n) and
data/unlabelled-3.jsonl (batches o and later) from the raw batches data/raw/unlabelled_*.jsonl
(git-ignored). The first file is the set the shipped model was distilled from and stays as it was; the
second holds the boundary cases, headlines and captions written after it; the third more statements in
the style of batches h-j (half direct quotations, acts carried by meaning rather than cue words).

Keeps the batches' rows in file order, and drops a row when its text is an exact or near duplicate
(word-trigram Jaccard >= 0.6, the threshold of `stance data check`) of any labelled statement in
data/train.jsonl, data/dev.jsonl or data/test.jsonl, or of an unlabelled row kept before it, so that
no held-out statement leaks into distillation. Prints what it kept and dropped.

Usage: python3 scripts/build-unlabelled.py
"""
import glob
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from near_duplicates import Index, trigrams  # noqa: E402

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
os.chdir(root)


index = Index()
exact = {}
for split in ("train", "dev", "test"):
    with open(f"data/{split}.jsonl", encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            text = json.loads(line)["text"]
            exact[text.strip().lower()] = f"data/{split}.jsonl:{n}"
            index.add(trigrams(text), f"data/{split}.jsonl:{n}")


def output(path):
    """data/unlabelled.jsonl for batches a-j, data/unlabelled-2.jsonl for k-n, -3 for the later ones."""
    letter = os.path.basename(path)[len("unlabelled_"):][:1]
    if letter <= "j":
        return "data/unlabelled.jsonl"
    return "data/unlabelled-2.jsonl" if letter <= "n" else "data/unlabelled-3.jsonl"


kept = {"data/unlabelled.jsonl": [], "data/unlabelled-2.jsonl": [], "data/unlabelled-3.jsonl": []}
sources = {out: set() for out in kept}
dropped = 0
batches = sorted(glob.glob("data/raw/unlabelled_*.jsonl"))
if not batches:
    sys.exit("build-unlabelled: no data/raw/unlabelled_*.jsonl batches")
for path in batches:
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            try:
                row = json.loads(line)
                text = row["text"].strip()
            except (ValueError, KeyError, AttributeError) as e:
                sys.exit(f"{path}:{n}: not a JSON object with a \"text\" string ({e})")
            grams = trigrams(text)
            clash = exact.get(text.lower()) or index.near(grams)
            if not text or clash:
                dropped += 1
                continue
            exact[text.lower()] = f"{path}:{n}"
            index.add(grams, f"{path}:{n}")
            out = output(path)
            kept[out].append({"id": row.get("id", f"{os.path.basename(path)}-{n}"), "text": text,
                              "domain": row.get("domain", "")})
            sources[out].add(path)

for out, rows in kept.items():
    tmp = out + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    os.replace(tmp, out)
    print(f"{out}: {len(rows)} statements from {len(sources[out])} batches")
print(f"{dropped} exact or near duplicates dropped")
