"""Generate dlcore/data/files/spoken_digits.npz: the words "zero" to "nine" spoken by espeak-ng.

Run once by a maintainer (needs the `espeak-ng` program, Debian: `apt-get install espeak-ng`,
and SciPy for resampling); the example and the tests read the shipped file (one test runs
--recompress, which needs neither).

Each clip is one digit spoken by one "speaker": an English accent of espeak-ng (7 of them)
combined with one of its voice variants (male/female timbres, ~100), at a random pitch
(20-80) and speed (120-190 words per minute).  Speakers are drawn without replacement, so a
speaker id names one accent+variant+pitch+speed; the example keeps whole speakers out of
training to test on voices it has not heard.  Audio is resampled to 8 kHz, leading and trailing
silence trimmed, and stored as 8-bit mu-law (the telephone encoding) to keep the file small;
the concatenated codes are xz-compressed inside the npz (`audio_xz`, `audio_length`): a
byte-delta filter before LZMA2 at preset 9e takes 1.45 MB to 1.05 MB where the npz's deflate
takes it to 1.31 MB.  `--recompress FILE` rewrites an existing file in this form without espeak.

    python tools/make_spoken_digits.py [--speakers 48] [--out dlcore/data/files/spoken_digits.npz]
    python tools/make_spoken_digits.py --recompress OLD.npz [--out ...]
"""
import argparse
import io
import json
import lzma
import os
import subprocess
import wave

import numpy as np

WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
ACCENTS = ["en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-029", "en-gb-x-gbclan",
           "en-gb-x-gbcwmd"]
RATE = 8000
MU = 255.0


def variants():
    out = subprocess.run(["espeak-ng", "--voices=variant"], capture_output=True, text=True,
                         check=True).stdout.splitlines()[1:]
    return sorted(line.split()[4].split("/", 1)[1] for line in out if line.strip())


def speak(word, voice, pitch, speed):
    wav = subprocess.run(["espeak-ng", "-v", voice, "-p", str(pitch), "-s", str(speed),
                          "--stdout", word], capture_output=True, check=True).stdout
    with wave.open(io.BytesIO(wav)) as w:
        rate = w.getframerate()
        x = np.frombuffer(w.readframes(w.getnframes()), np.int16).astype(np.float64) / 32768
    from scipy.signal import resample_poly  # only generating needs SciPy, not --recompress
    return resample_poly(x, RATE, rate)


def trim(x, threshold=0.02, pad=0.02):
    loud = np.nonzero(np.abs(x) > threshold * np.abs(x).max())[0]
    p = int(pad * RATE)
    return x[max(0, loud[0] - p):loud[-1] + p + 1]


def mulaw_encode(x):
    x = np.clip(x, -1, 1)
    y = np.sign(x) * np.log1p(MU * np.abs(x)) / np.log1p(MU)
    return np.round((y + 1) / 2 * MU).astype(np.uint8)


# mu-law codes of neighbouring samples are close: coding their differences (delta) with a
# literal context of 4 bits and no position bits is 3% smaller than xz's default settings; the
# window is the data's size, so decoding needs no more memory than that
def audio_filters(n):
    return [{"id": lzma.FILTER_DELTA, "dist": 1},
            {"id": lzma.FILTER_LZMA2, "preset": 9 | lzma.PRESET_EXTREME, "lc": 4, "lp": 0,
             "pb": 0, "dict_size": max(1 << 12, n)}]


def save(path, codes, offsets, labels, speakers, rate, words, speaker_info):
    """Write the npz that dlcore.data.load_spoken_digits reads."""
    codes = np.ascontiguousarray(codes, np.uint8)
    stream = lzma.compress(codes.tobytes(), format=lzma.FORMAT_XZ,
                           filters=audio_filters(len(codes)))
    np.savez_compressed(path, audio_xz=np.frombuffer(stream, np.uint8),
                        audio_length=np.array(len(codes), np.int64),
                        offsets=np.asarray(offsets, np.int64),
                        labels=np.asarray(labels, np.int64),
                        speakers=np.asarray(speakers, np.int64), sample_rate=np.array(rate),
                        words=np.array(words), speaker_info=np.array(speaker_info))


def recompress(src, out):
    """Rewrite a file of either form (plain `audio` or `audio_xz`) in today's form."""
    with np.load(src, allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files}
    if "audio" in arrays:
        codes = arrays["audio"]
    else:
        codes = np.frombuffer(lzma.decompress(arrays["audio_xz"].tobytes()), np.uint8)
        assert len(codes) == int(arrays["audio_length"]), "damaged audio_xz"
    save(out, codes, arrays["offsets"], arrays["labels"], arrays["speakers"],
         int(arrays["sample_rate"]), [str(w) for w in arrays["words"]],
         str(arrays["speaker_info"]))
    return len(codes)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--speakers", type=int, default=48)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "dlcore",
                                                  "data", "files", "spoken_digits.npz"))
    ap.add_argument("--recompress", metavar="FILE",
                    help="rewrite this existing npz in the current form (no espeak-ng needed)")
    args = ap.parse_args()
    if args.recompress:
        n = recompress(args.recompress, args.out)
        print("%d audio bytes, %d bytes -> %s" % (n, os.path.getsize(args.out),
                                                   os.path.abspath(args.out)))
        return
    rng = np.random.default_rng(2026)
    pool = [(a, v) for a in ACCENTS for v in variants()]
    picks = rng.choice(len(pool), args.speakers, replace=False)
    clips, labels, speakers, meta = [], [], [], []
    for s, i in enumerate(picks):
        accent, variant = pool[i]
        pitch, speed = int(rng.integers(20, 81)), int(rng.integers(120, 191))
        voice = "%s+%s" % (accent, variant)
        meta.append({"voice": voice, "pitch": pitch, "speed": speed})
        for d, word in enumerate(WORDS):
            x = trim(speak(word, voice, pitch, speed))
            x = 0.9 * x / np.abs(x).max()
            clips.append(mulaw_encode(x))
            labels.append(d)
            speakers.append(s)
    lengths = np.array([len(c) for c in clips], np.int64)
    save(args.out, np.concatenate(clips), np.concatenate([[0], np.cumsum(lengths)]), labels,
         speakers, RATE, WORDS, json.dumps(meta))
    print("%d clips, %d speakers, %.2f s of audio, %d bytes -> %s"
          % (len(clips), args.speakers, lengths.sum() / RATE, os.path.getsize(args.out),
             os.path.abspath(args.out)))


if __name__ == "__main__":
    main()
