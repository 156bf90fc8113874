#!/usr/bin/env python3
"""Checks that `stance classify` gives the same probabilities as an independent implementation of
Hugging Face's BertForSequenceClassification for a model directory.

    python3 scripts/check-parity.py MODEL_DIR                 # numpy re-implementation (pip install numpy safetensors tokenizers)
    python3 scripts/check-parity.py MODEL_DIR --transformers  # transformers + torch, if installed

With --transformers the model is opened with AutoModelForSequenceClassification; that path matches only
models with "pooling": "cls" (transformers ignores stance's "pooling" field and always uses its pooler).
The numpy path honours "pooling" ("cls": tanh pooler over [CLS]; "mean": masked mean, no pooler).
Exits 1 when a probability differs by more than 1e-4. Needs target/release/stance (cargo build --release).
"""
import json, math, subprocess, sys
from pathlib import Path

SENTENCES = [
    "The vice-minister condemned the alliance in the strongest terms.",
    "Both governments denied any arms deals.",
    "The ambassador said the cooperation was not against the security interests of its neighbour.",
    "The president promised action if the cooperation became a threat.",
    "An intelligence agency claimed 1,500 troops were sent.",
    "Talks resume on Tuesday.",
]

def stance_probs(model, labels):
    exe = Path(__file__).resolve().parents[1] / "target/release/stance"
    out = subprocess.run([str(exe), "classify", "--model", str(model), "--format", "jsonl", *SENTENCES],
                         check=True, capture_output=True, text=True).stdout
    return [[json.loads(l)["scores"][lab] for lab in labels] for l in out.splitlines()]

def numpy_probs(model, cfg, labels):
    import numpy as np
    from tokenizers import Tokenizer
    from safetensors.numpy import load_file
    w = {k: v.astype(np.float64) for k, v in load_file(model / "model.safetensors").items()}
    h, heads, eps = cfg["hidden_size"], cfg["num_attention_heads"], cfg.get("layer_norm_eps", 1e-12)
    d = h // heads
    erf = np.vectorize(math.erf)
    act = cfg.get("hidden_act", "gelu")
    gelu = (lambda x: 0.5 * x * (1 + erf(x / math.sqrt(2)))) if act == "gelu" else \
        (lambda x: 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3))))
    ln = lambda x, p: (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + eps) * w[p + ".weight"] + w[p + ".bias"]
    lin = lambda x, p: x @ w[p + ".weight"].T + w[p + ".bias"]
    tok = Tokenizer.from_file(str(model / "tokenizer.json"))
    tok.no_padding()
    tok.enable_truncation(cfg["max_position_embeddings"])
    rows = []
    for s in SENTENCES:
        ids = tok.encode(s).ids
        e = "bert.embeddings."
        x = ln(w[e + "word_embeddings.weight"][ids] + w[e + "position_embeddings.weight"][:len(ids)]
               + w[e + "token_type_embeddings.weight"][0], e + "LayerNorm")
        for i in range(cfg["num_hidden_layers"]):
            p = f"bert.encoder.layer.{i}."
            q, k, v = (lin(x, p + "attention.self." + m).reshape(-1, heads, d).transpose(1, 0, 2) for m in ("query", "key", "value"))
            s_ = q @ k.transpose(0, 2, 1) / math.sqrt(d)
            s_ = np.exp(s_ - s_.max(-1, keepdims=True)); s_ /= s_.sum(-1, keepdims=True)
            x = ln(lin((s_ @ v).transpose(1, 0, 2).reshape(-1, h), p + "attention.output.dense") + x, p + "attention.output.LayerNorm")
            x = ln(lin(gelu(lin(x, p + "intermediate.dense")), p + "output.dense") + x, p + "output.LayerNorm")
        pooled = x.mean(0) if cfg.get("pooling", "cls") == "mean" else np.tanh(lin(x[0], "bert.pooler.dense"))
        z = lin(pooled, "classifier")
        z = np.exp(z - z.max())
        rows.append(list(z / z.sum()))
    return rows

def transformers_probs(model):
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    m = AutoModelForSequenceClassification.from_pretrained(str(model)).eval()
    t = AutoTokenizer.from_pretrained(str(model))
    with torch.no_grad():
        return [torch.softmax(m(**t(s, return_tensors="pt")).logits[0], -1).tolist() for s in SENTENCES]

def main():
    model = Path(sys.argv[1])
    cfg = json.loads((model / "config.json").read_text())
    labels = [cfg["id2label"][str(i)] for i in range(len(cfg["id2label"]))]
    ours = stance_probs(model, labels)
    ref = transformers_probs(model) if "--transformers" in sys.argv else numpy_probs(model, cfg, labels)
    worst = max(abs(a - b) for r1, r2 in zip(ours, ref) for a, b in zip(r1, r2))
    print(f"{model}: largest probability difference {worst:.2e} over {len(SENTENCES)} sentences")
    sys.exit(0 if worst <= 1e-4 else 1)

if __name__ == "__main__":
    main()
