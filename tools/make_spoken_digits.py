"""Generate dlcore/data/files/spoken_digits.npz: the words "zero" to "nine" spoken by espeak-ng.

Run once by a maintainer (needs the `espeak-ng` program, Debian: `apt-get install espeak-ng`,
and SciPy for resampling); the example and the tests read the shipped file, not this script.

Each clip is one digit spoken by one "speaker": an English accent of espeak-ng (7 of them)
combined with one of its voice variants (male/female timbres, ~100), at a random pitch
(20-80) and speed (120-190 words per minute).  Speakers are drawn without replacement, so a
speaker id names one accent+variant+pitch+speed; the example keeps whole speakers out of
training to test on voices it has not heard.  Audio is resampled to 8 kHz, leading and trailing
silence trimmed, and stored as 8-bit mu-law (the telephone encoding) to keep the file small.

    python tools/make_spoken_digits.py [--speakers 48] [--out dlcore/data/files/spoken_digits.npz]
"""
import argparse
import io
import json
import os
import subprocess
import wave

import numpy as np
from scipy.signal import resample_poly

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
    return resample_poly(x, RATE, rate)


def trim(x, threshold=0.02, pad=0.02):
    loud = np.nonzero(np.abs(x) > threshold * np.abs(x).max())[0]
    p = int(pad * RATE)
    return x[max(0, loud[0] - p):loud[-1] + p + 1]


def mulaw_encode(x):
    x = np.clip(x, -1, 1)
    y = np.sign(x) * np.log1p(MU * np.abs(x)) / np.log1p(MU)
    return np.round((y + 1) / 2 * MU).astype(np.uint8)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--speakers", type=int, default=48)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "dlcore",
                                                  "data", "files", "spoken_digits.npz"))
    args = ap.parse_args()
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
    np.savez_compressed(args.out, audio=np.concatenate(clips),
                        offsets=np.concatenate([[0], np.cumsum(lengths)]),
                        labels=np.array(labels, np.int64), speakers=np.array(speakers, np.int64),
                        sample_rate=np.array(RATE), words=np.array(WORDS),
                        speaker_info=np.array(json.dumps(meta)))
    print("%d clips, %d speakers, %.2f s of audio, %d bytes -> %s"
          % (len(clips), args.speakers, lengths.sum() / RATE, os.path.getsize(args.out),
             os.path.abspath(args.out)))


if __name__ == "__main__":
    main()
