"""The bundled spoken digits (espeak-ng speech, 8 kHz) and the log-mel spectrogram that turns a
clip into the frames a recurrent network reads."""
import json
import lzma

import numpy as np

from .datasets import Bunch, data_file

__all__ = ["load_spoken_digits", "mulaw_decode", "mel_filterbank", "log_mel_spectrogram"]

_MU = 255.0


def mulaw_decode(codes):
    """8-bit mu-law codes (0..255) to float samples in [-1, 1]."""
    y = np.asarray(codes, np.float64) / _MU * 2 - 1
    return (np.sign(y) * np.expm1(np.abs(y) * np.log1p(_MU)) / _MU).astype(np.float32)


def _unxz(stream, length, path):
    """The `length` bytes of the xz stream held in a uint8 array; never decodes more than
    one byte past `length`, whatever the stream holds."""
    dec = lzma.LZMADecompressor(lzma.FORMAT_XZ, memlimit=64 << 20)
    try:
        data = dec.decompress(np.ascontiguousarray(stream, np.uint8).tobytes(), length + 1)
    except lzma.LZMAError as e:
        raise ValueError("%s: the audio's xz stream is corrupt (%s)" % (path, e)) from None
    problem = ("decodes to more than the %d bytes the file declares" % length
               if len(data) > length else
               "is cut short" if not dec.eof else
               "has data after its end" if dec.unused_data else
               "decodes to %d bytes, not the %d the file declares" % (len(data), length)
               if len(data) != length else None)
    if problem:
        raise ValueError("%s: the audio's xz stream %s (a damaged file?)" % (path, problem))
    return np.frombuffer(data, np.uint8)


def load_spoken_digits():
    """The words "zero" to "nine" spoken by 40 synthetic speakers (espeak-ng accents and voice
    variants at random pitch and speed): 400 clips at 8 kHz.

    Returns a Bunch with audio (a list of float32 arrays in [-1, 1], 0.19 to 1.05 s long),
    target (int64 digit), speaker (int64, 0..39: hold whole speakers out to test on unheard
    voices), sample_rate (8000), words and speaker_info (voice, pitch, speed of each speaker).
    See dlcore/data/LICENSES.md; tools/make_spoken_digits.py regenerates the file."""
    path = data_file("spoken_digits.npz")
    with np.load(path, allow_pickle=False) as f:
        audio_xz, audio_length = f["audio_xz"], int(f["audio_length"])
        offsets, labels, speakers = f["offsets"], f["labels"], f["speakers"]
        rate, info = int(f["sample_rate"]), str(f["speaker_info"])
        words = [str(w) for w in f["words"]]
    n = len(labels)
    if (offsets.shape != (n + 1,) or offsets[0] != 0 or offsets[-1] != audio_length
            or np.any(np.diff(offsets) <= 0) or speakers.shape != (n,)):
        raise ValueError("%s: offsets, labels and speakers do not describe the audio "
                         "(a damaged file?)" % path)
    audio = _unxz(audio_xz, audio_length, path)
    clips = [mulaw_decode(audio[offsets[i]:offsets[i + 1]]) for i in range(n)]
    return Bunch(audio=clips, target=labels.astype(np.int64), speaker=speakers.astype(np.int64),
                 sample_rate=rate, words=words, speaker_info=json.loads(info), filename=path)


def mel_filterbank(n_mels, n_fft, sample_rate, fmin=0.0, fmax=None):
    """(n_mels, n_fft // 2 + 1) triangular filters evenly spaced on the mel scale."""
    fmax = sample_rate / 2 if fmax is None else fmax
    mel = lambda f: 2595.0 * np.log10(1.0 + np.asarray(f) / 700.0)
    hz = lambda m: 700.0 * (10.0 ** (np.asarray(m) / 2595.0) - 1.0)
    edges = hz(np.linspace(mel(fmin), mel(fmax), n_mels + 2))
    freqs = np.linspace(0, sample_rate / 2, n_fft // 2 + 1)
    lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    up = (freqs - lo) / np.maximum(mid - lo, 1e-9)
    down = (hi - freqs) / np.maximum(hi - mid, 1e-9)
    return np.clip(np.minimum(up, down), 0, None).astype(np.float32)


def log_mel_spectrogram(x, sample_rate, n_fft=256, hop=80, n_mels=32, eps=1e-6):
    """(frames, n_mels) log mel energies of a mono clip: Hann-windowed frames of n_fft samples
    every `hop` samples (at 8 kHz: 32 ms windows every 10 ms)."""
    x = np.asarray(x, np.float32)
    if x.ndim != 1:
        raise ValueError("log_mel_spectrogram: x must be a 1-D clip, got shape %s" % (x.shape,))
    if len(x) < n_fft:
        x = np.pad(x, (0, n_fft - len(x)))
    n_frames = 1 + (len(x) - n_fft) // hop
    idx = np.arange(n_fft)[None, :] + hop * np.arange(n_frames)[:, None]
    frames = x[idx] * np.hanning(n_fft).astype(np.float32)
    power = np.abs(np.fft.rfft(frames, axis=1)) ** 2
    return np.log(power @ mel_filterbank(n_mels, n_fft, sample_rate).T + eps).astype(np.float32)
