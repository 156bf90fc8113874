#!/usr/bin/env bash
# Throughput and peak memory of `stance score` on a large JSONL stream.
#
# Generates SIZE_MB megabytes of JSONL articles (the texts of data/articles/*.txt, repeated with
# distinct ids and a "source" field) in bench/out/ (git-ignored), runs the release binary over it under
# /usr/bin/time -v, and prints articles/s, statements/s and the peak resident memory.
#
# Usage: bench/score.sh [SIZE_MB [MODEL_DIR]]
#   SIZE_MB    size of the generated input in MiB (default 1024)
#   MODEL_DIR  model directory (default: $STANCE_MODEL, else the model embedded in the binary)
# Environment: STANCE_WORKERS / RAYON_NUM_THREADS as for any inference command; KEEP=1 keeps the input.
set -euo pipefail
cd "$(dirname "$0")/.."

size_mb=${1:-1024}
model=${2:-${STANCE_MODEL:-}}
out=bench/out
mkdir -p "$out"
input="$out/score-${size_mb}MiB.jsonl"
bin=target/release/stance

command -v python3 >/dev/null || { echo "bench/score.sh: needs python3 to generate the input" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "bench/score.sh: needs /usr/bin/time (GNU time)" >&2; exit 1; }

cargo build --release --quiet

if [ ! -s "$input" ]; then
  echo "generating $input ..." >&2
  python3 - "$input" "$size_mb" <<'EOF'
import glob, json, sys
path, size = sys.argv[1], int(sys.argv[2]) << 20
texts = [open(p, encoding="utf-8").read() for p in sorted(glob.glob("data/articles/*.txt"))]
n = written = 0
with open(path, "w", encoding="utf-8") as f:
    while written < size:
        line = json.dumps({"id": f"bench-{n:08d}", "text": texts[n % len(texts)],
                           "source": "data/articles"}, ensure_ascii=False) + "\n"
        f.write(line)
        written += len(line.encode("utf-8"))
        n += 1
EOF
fi

articles=$(wc -l <"$input")
bytes=$(stat -c %s "$input")
args=(score --format jsonl --quiet "$input")
[ -n "$model" ] && args=(score --model "$model" --format jsonl --quiet "$input")
timing="$out/score-time.txt"
echo "running: /usr/bin/time -v $bin ${args[*]} | wc -l" >&2
start=$(date +%s.%N)
rows=$(/usr/bin/time -v -o "$timing" "$bin" "${args[@]}" | wc -l)
end=$(date +%s.%N)

rss_kb=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$timing")
status=$(awk -F': ' '/Exit status/ {print $2}' "$timing")
user=$(awk -F': ' '/User time/ {print $2}' "$timing")
sys=$(awk -F': ' '/System time/ {print $2}' "$timing")
python3 - "$articles" "$rows" "$bytes" "$start" "$end" "$rss_kb" "$status" "$(nproc)" "$user" "$sys" <<'EOF'
import sys
articles, rows, size = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
secs = float(sys.argv[5]) - float(sys.argv[4])
rss, status, cores = int(sys.argv[6]), sys.argv[7], int(sys.argv[8])
cpu = float(sys.argv[9]) + float(sys.argv[10])
print(f"input          {size / 2**20:.0f} MiB, {articles} articles, {rows / max(articles, 1):.1f} statements/article")
print(f"wall time      {secs:.1f} s (exit status {status}), CPU time {cpu:.1f} s on {cores} cores ({100 * cpu / secs:.0f}% CPU)")
print(f"articles/s     {articles / secs:.1f}")
print(f"statements/s   {rows / secs:.0f}  (= {rows / secs / 30:.1f} articles/s of 30 statements)")
print(f"per CPU second {articles / cpu:.1f} articles, {rows / cpu:.0f} statements"
      f"  (all {cores} cores busy: ~{rows / cpu * cores / 30:.0f} articles/s of 30 statements)")
print(f"max RSS        {rss / 1024:.0f} MiB")
EOF
[ "${KEEP:-0}" = 1 ] || rm -f "$input"
