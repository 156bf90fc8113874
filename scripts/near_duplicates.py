"""Near-duplicate lookups shared by the data build scripts: word-trigram sets, compared by Jaccard
similarity at the threshold of `stance data check` (0.6), through an inverted index so that a lookup
does not compare all pairs."""
import re
from collections import defaultdict

THRESHOLD = 0.6


def trigrams(text):
    words = re.findall(r"\w+", text.lower())
    if len(words) < 3:
        return {tuple(words)}
    return {tuple(words[i:i + 3]) for i in range(len(words) - 2)}


class Index:
    """Trigram sets with an inverted index, for near-duplicate lookups without comparing all pairs."""

    def __init__(self):
        self.sets = []
        self.names = []
        self.postings = defaultdict(list)

    def add(self, grams, name):
        i = len(self.sets)
        self.sets.append(grams)
        self.names.append(name)
        for g in grams:
            self.postings[g].append(i)

    def near(self, grams):
        shared = defaultdict(int)
        for g in grams:
            for i in self.postings.get(g, ()):
                shared[i] += 1
        for i, n in shared.items():
            if n / (len(grams) + len(self.sets[i]) - n) >= THRESHOLD:
                return self.names[i]
        return None
