"""Chapter 10 — an encoder-decoder Transformer translates written-out dates and numbers.

Source sentences are English words ("the twenty-third of march, nineteen ninety-four",
"three hundred and forty-two thousand, six hundred and one"), targets are their ISO-date or
digit forms ("1994-03-23", "342601").  Pairs are generated, so the data are unlimited and the
held-out sentences were never seen in training.

The encoder reads the whole source with self-attention; the decoder writes the target one
character at a time, attending to its own prefix (causally) and to the encoder's output
(cross-attention).  Training uses teacher forcing: the decoder is fed the true prefix and
learns the next character at every position in one pass.  At test time it must feed back its
own outputs: greedy decoding takes the most likely character each step, beam search keeps the
few best partial outputs.

    python python/10_translation.py            # full run
    python python/10_translation.py --quick    # a smoke run (40 steps), about 1 s
Saves translation_attention.png (cross-attention of one example, in --out DIR) when matplotlib
is installed.

Measured (one thread on a shared, heavily loaded 2-core Zen 4): the full run (20,000 training
pairs, 1,000 steps of 64; nn.Transformer initialised as torch does, xavier-uniform) reaches
99.7% exact match on 1,000 held-out sentences with greedy and 99.8% with beam-4 decoding, in
31 s of CPU time for the whole script.  `--quick --steps 250` reaches 89.5% greedy, 96% beam-4.
"""
import math
import re
import time

import numpy as np

import dlcore as dl
import dlcore.nn.functional as F
from dlcore.examples.common import pyplot, run, save_figure, seed
from dlcore.models import Seq2SeqTransformer

# ------------------------------------------------------------------ the generated language

ONES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
        "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
        "eighteen", "nineteen"]
TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
ORD = {"one": "first", "two": "second", "three": "third", "five": "fifth", "eight": "eighth",
       "nine": "ninth", "twelve": "twelfth"}
MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august",
          "september", "october", "november", "december"]
DAYS_IN = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]


def below_100(n):
    if n < 20:
        return ONES[n]
    return TENS[n // 10] + ("-" + ONES[n % 10] if n % 10 else "")


def below_1000(n, rng):
    if n < 100:
        return below_100(n)
    words = ONES[n // 100] + " hundred"
    if n % 100:
        words += (" and " if rng.random() < 0.5 else " ") + below_100(n % 100)
    return words


def number_words(n, rng):
    """0 <= n < 1,000,000 in English words, with the usual freedom about 'and' and commas."""
    if n < 1000:
        return below_1000(n, rng)
    words = below_1000(n // 1000, rng) + " thousand"
    rest = n % 1000
    if rest:
        if rest < 100:
            words += (" and " if rng.random() < 0.5 else " ") + below_100(rest)
        else:
            words += (", " if rng.random() < 0.5 else " ") + below_1000(rest, rng)
    return words


def ordinal_words(d):
    """1..31 -> first, second, ..., thirty-first."""
    if d % 10 == 0 and d >= 20:
        return TENS[d // 10][:-1] + "ieth"
    if d < 20:
        w = ONES[d]
        return ORD.get(w, w + "th")
    head, last = below_100(d).rsplit("-", 1)
    return head + "-" + ORD.get(last, last + "th")


def year_words(y, rng):
    """1900..2099 as it is read aloud: nineteen ninety-four, nineteen oh five, two thousand
    and eight, twenty twelve."""
    hi, lo = divmod(y, 100)
    if hi == 19:
        if lo == 0:
            return "nineteen hundred"
        return "nineteen " + ("oh " + ONES[lo] if lo < 10 else below_100(lo))
    if lo == 0:
        return "two thousand"
    if lo < 10 or rng.random() < 0.5:
        return "two thousand " + ("and " if rng.random() < 0.5 else "") + below_100(lo)
    return "twenty " + below_100(lo)


def date_pair(rng):
    y = int(rng.integers(1900, 2100))
    m = int(rng.integers(1, 13))
    leap = y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)
    days = DAYS_IN[m - 1] - (1 if m == 2 and not leap else 0)
    d = int(rng.integers(1, days + 1))
    day, month, year = ordinal_words(d), MONTHS[m - 1], year_words(y, rng)
    form = int(rng.integers(4))
    src = ["the %s of %s, %s", "%s the %s, %s", "%s %s, %s", "%s of %s %s"][form]
    args = [(day, month, year), (month, day, year), (month, day, year), (day, month, year)][form]
    return src % args, "%04d-%02d-%02d" % (y, m, d)


def number_pair(rng):
    # log-uniform magnitudes so small numbers are not swamped by six-digit ones
    n = int(10 ** rng.uniform(0, 6)) - 1
    return number_words(n, rng), str(n)


def make_pairs(n, rng):
    """n pairs with distinct source sentences."""
    pairs, seen = [], set()
    while len(pairs) < n:
        p = date_pair(rng) if rng.random() < 0.5 else number_pair(rng)
        if p[0] not in seen:
            seen.add(p[0])
            pairs.append(p)
    return pairs


# ------------------------------------------------------------------ vocabularies

TOKEN = re.compile(r"[a-z]+|,")
PAD, BOS, EOS = 0, 1, 2
SRC_WORDS = sorted(set(ONES + TENS[2:] + MONTHS + ["hundred", "thousand", "and", "the", "of",
                                                   "oh", ","] +
                       [ordinal_words(d).split("-")[-1] for d in range(1, 32)]))
SRC_VOCAB = ["<pad>", "<unk>"] + SRC_WORDS
SRC_ID = {w: i for i, w in enumerate(SRC_VOCAB)}
TGT_VOCAB = ["<pad>", "<s>", "</s>"] + list("0123456789-")
TGT_ID = {c: i for i, c in enumerate(TGT_VOCAB)}


def encode_src(sentences):
    toks = [[SRC_ID.get(w, 1) for w in TOKEN.findall(s)] for s in sentences]
    out = np.full((len(toks), max(map(len, toks))), PAD, np.int64)
    for i, t in enumerate(toks):
        out[i, :len(t)] = t
    return out


def encode_tgt(targets):
    """(N, T+2) ids framed <s> ... </s>, padded."""
    rows = [[BOS] + [TGT_ID[c] for c in t] + [EOS] for t in targets]
    out = np.full((len(rows), max(map(len, rows))), PAD, np.int64)
    for i, r in enumerate(rows):
        out[i, :len(r)] = r
    return out


def decode_tgt(ids):
    out = []
    for row in ids:
        chars = []
        for i in row:
            if i == EOS or i == PAD:
                break
            chars.append(TGT_VOCAB[i] if i > EOS else "?")
        out.append("".join(chars))
    return out


# ------------------------------------------------------------------ training and decoding

class TeacherForcing(dl.train.Trainer):
    """One step of teacher forcing: the decoder reads <s> + the true target prefix and predicts
    every next character; padding positions carry no loss."""

    def training_step(self, batch):
        src, tgt = batch
        tgt_in, tgt_out = tgt[:, :-1], tgt[:, 1:]
        logits = self.model(src, tgt_in)
        keep = (tgt_out != PAD).reshape(-1)
        flat = logits.reshape(-1, logits.shape[-1])[np.nonzero(keep)[0]]
        return F.cross_entropy(flat, dl.tensor(tgt_out.reshape(-1)[keep]))


def random_batches(pairs, steps, batch, rng):
    """`steps` batches of (source ids, target ids) drawn at random, each cut to its longest
    sentence."""
    src_all, tgt_all = encode_src([p[0] for p in pairs]), encode_tgt([p[1] for p in pairs])
    for _ in range(steps):
        idx = rng.integers(0, len(pairs), batch)
        src, tgt = src_all[idx], tgt_all[idx]
        yield src[:, :int((src != PAD).sum(1).max())], tgt[:, :int((tgt != PAD).sum(1).max())]


def train(model, pairs, steps, batch, lr, rng, verbose=0):
    """AdamW with a linear warm-up and a cosine decay, gradients clipped to norm 1; returns
    the loss of every step."""
    opt = dl.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    warm = max(1, steps // 20)
    sched = dl.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warm, 0.5 * (1 + math.cos(math.pi * min(s, steps) / steps))))
    losses = []
    TeacherForcing(model, opt, clip_grad_norm=1.0, scheduler=sched, scheduler_step="batch",
                   verbose=verbose,
                   callbacks=[dl.train.LambdaCallback(
                       on_train_batch_end=lambda step, logs: losses.append(logs["loss"]))],
                   ).fit(random_batches(pairs, steps, batch, rng), epochs=1)
    return losses


def translate(model, sentences, beam=0, batch=256):
    out = []
    for i in range(0, len(sentences), batch):
        src = encode_src(sentences[i:i + batch])
        if beam:
            ids, _ = model.beam_search(src, BOS, EOS, max_len=12, beam_size=beam)
        else:
            ids = model.greedy_decode(src, BOS, EOS, max_len=12)
        out += decode_tgt(ids)
    return out


def save_heatmap(model, sentence, out_dir):
    plt = pyplot()
    if plt is None:
        return None
    target = translate(model, [sentence])[0]
    src = encode_src([sentence])
    tgt_in = encode_tgt([target])[:, :-1]
    w = model.cross_attention(src, tgt_in)[0]  # (T, S), last decoder layer
    fig, ax = plt.subplots(figsize=(0.45 * src.shape[1] + 2, 0.4 * w.shape[0] + 1.5))
    ax.imshow(w, cmap="viridis", aspect="auto")
    ax.set_xticks(range(src.shape[1]), TOKEN.findall(sentence), rotation=60, ha="right")
    ax.set_yticks(range(w.shape[0]), ["<s>"] + list(target))
    ax.set_xlabel("source word")
    ax.set_ylabel("decoder input (predicts the next character)")
    ax.set_title("cross-attention, last decoder layer")
    fig.tight_layout()
    return save_figure(fig, out_dir, "translation_attention.png", dpi=90)


def main(quick=False, out_dir=".", steps: int = None):
    """quick is the tour's smoke run (40 steps: the copy of the digits is not learnt yet); the
    tests ask for steps=250, where greedy decoding gets about 90% of the held-out pairs right."""
    rng = seed(0)
    n_train, n_test, default_steps = (3000, 200, 40) if quick else (20000, 1000, 1000)
    steps = default_steps if steps is None else steps
    # distinct sentences split at random: no held-out sentence is ever seen in training
    pairs = make_pairs(n_train + n_test, np.random.default_rng(12345))
    order = rng.permutation(len(pairs))
    test = [pairs[i] for i in order[:n_test]]
    train_pairs = [pairs[i] for i in order[n_test:]]
    print("examples:", *("%r -> %r" % p for p in train_pairs[:4]), sep="\n  ")
    model = Seq2SeqTransformer(len(SRC_VOCAB), len(TGT_VOCAB), d_model=64, nhead=4,
                               num_encoder_layers=2, num_decoder_layers=2, dim_feedforward=128,
                               dropout=0.0, max_len=32, pad_idx=PAD)
    t0 = time.perf_counter()
    losses = train(model, train_pairs, steps, batch=64, lr=3e-3 if quick else 2e-3, rng=rng,
                   verbose=0 if quick else "auto")
    train_s = time.perf_counter() - t0
    src = [p[0] for p in test]
    gold = [p[1] for p in test]
    t0 = time.perf_counter()
    greedy = translate(model, src)
    greedy_s = time.perf_counter() - t0
    acc_greedy = float(np.mean([a == b for a, b in zip(greedy, gold)]))
    n_beam = len(src) if not quick else (100 if steps > 100 else 20)
    t0 = time.perf_counter()
    beam = translate(model, src[:n_beam], beam=4)
    beam_s = time.perf_counter() - t0
    acc_beam = float(np.mean([a == b for a, b in zip(beam, gold[:n_beam])]))
    print("trained %d steps in %.1f s (final loss %.4f)" % (steps, train_s, np.mean(losses[-20:])))
    print("held-out exact match: greedy %.2f%% (%d pairs, %.1f s), beam-4 %.2f%% (%d pairs, "
          "%.1f s)" % (100 * acc_greedy, len(src), greedy_s, 100 * acc_beam, n_beam, beam_s))
    for s, g, p in list(zip(src, gold, greedy))[:5]:
        print("  %-60s -> %-10s %s" % (s, p, "ok" if p == g else "(want %s)" % g))
    wrong = [(s, g, p) for s, g, p in zip(src, gold, greedy) if p != g][:5]
    for s, g, p in wrong:
        print("  miss: %-54s -> %-10s (want %s)" % (s, p, g))
    plot = None if quick else save_heatmap(model, "the twenty-third of march, nineteen ninety-four",
                                           out_dir)
    return {"chapter": "10 Transformer", "model": "encoder-decoder Transformer (2+2 layers, d=64)",
            "data": "generated dates/numbers in words -> ISO/digits",
            "metric": "held-out exact match (greedy)", "value": round(acc_greedy, 4),
            "beam_exact_match": round(acc_beam, 4), "train_seconds": round(train_s, 1),
            "steps": steps, "final_loss": float(np.mean(losses[-20:])), "heatmap": plot}


if __name__ == "__main__":
    run(main)
