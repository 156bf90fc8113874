#!/usr/bin/env python3
"""Independent reference for tests/minilm_reference.rs: all-MiniLM-L6-v2 sentence embeddings (mean pooling
over the attention mask, then L2 normalisation) computed with numpy straight from model.safetensors, and
token ids from tokenizer.json through Hugging Face's Python `tokenizers`.

Run by hand after scripts/fetch-base-model.sh:
    pip install numpy safetensors tokenizers
    python3 tests/reference/minilm_embeddings.py > tests/reference/minilm_embeddings.json
"""
import json, math, sys
from pathlib import Path
import numpy as np
from safetensors.numpy import load_file
from tokenizers import Tokenizer

BASE = Path(__file__).resolve().parents[2] / "models/base/all-MiniLM-L6-v2"
SENTENCES = [
    "The ministry condemned the strike on the port in the strongest terms.",
    "Both governments denied any arms deals.",
    "The ambassador said the cooperation was not against the security interests of its neighbour.",
    "The president promised action if the drills became a threat.",
    "An intelligence agency claimed 1,500 troops were sent.",
]

def layer_norm(x, w, b, eps):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b

def gelu(x):
    erf = np.vectorize(math.erf)
    return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))

def embed(w, cfg, ids):
    h, heads = cfg["hidden_size"], cfg["num_attention_heads"]
    d = h // heads
    eps = cfg["layer_norm_eps"]
    x = (w["embeddings.word_embeddings.weight"][ids]
         + w["embeddings.position_embeddings.weight"][: len(ids)]
         + w["embeddings.token_type_embeddings.weight"][0]).astype(np.float64)
    x = layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], eps)
    lin = lambda x, p: x @ w[p + ".weight"].T.astype(np.float64) + w[p + ".bias"]
    for i in range(cfg["num_hidden_layers"]):
        p = f"encoder.layer.{i}."
        q, k, v = (lin(x, p + "attention.self." + n).reshape(-1, heads, d).transpose(1, 0, 2)
                   for n in ("query", "key", "value"))
        s = q @ k.transpose(0, 2, 1) / math.sqrt(d)
        s = np.exp(s - s.max(-1, keepdims=True))
        s /= s.sum(-1, keepdims=True)
        ctx = (s @ v).transpose(1, 0, 2).reshape(-1, h)
        x = layer_norm(lin(ctx, p + "attention.output.dense") + x,
                       w[p + "attention.output.LayerNorm.weight"], w[p + "attention.output.LayerNorm.bias"], eps)
        inner = gelu(lin(x, p + "intermediate.dense"))
        x = layer_norm(lin(inner, p + "output.dense") + x,
                       w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"], eps)
    m = x.mean(0)
    return m / np.linalg.norm(m)

def main():
    cfg = json.loads((BASE / "config.json").read_text())
    w = load_file(BASE / "model.safetensors")
    tok = Tokenizer.from_file(str(BASE / "tokenizer.json"))
    tok.no_padding()
    rows = []
    for s in SENTENCES:
        ids = tok.encode(s).ids
        rows.append({"text": s, "ids": ids, "embedding": [round(float(v), 7) for v in embed(w, cfg, ids)]})
    json.dump({"model": "all-MiniLM-L6-v2", "pooling": "mean, L2-normalised", "sentences": rows}, sys.stdout)
    sys.stdout.write("\n")

if __name__ == "__main__":
    main()
