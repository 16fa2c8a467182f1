"""Small models of families the other ONNX tests do not cover, written once against a
torch-like namespace so that the same definition builds a torch model (to export with
torch.onnx.export) and a dlcore model (to export with dl.onnx.export), with one state_dict.

    make(torch, "squeezenet") / make(dlcore, "squeezenet") -> (model, example input arrays)

VGG-style (conv stacks, max pooling, dropout classifier), DenseNet-style (concat-heavy dense
blocks, average-pool transitions), SqueezeNet (fire modules, ceil-mode pooling), ShuffleNet
(channel shuffle by reshape/transpose, chunk, depthwise convs), ViT (conv patch embedding,
class token, multi-head attention encoder), U-Net (ConvTranspose upsampling, skip concats),
a seq2seq GRU (embedding, encoder state into a decoder), a conv1d audio net, and a model
whose reshapes follow its dynamic batch and sequence sizes."""
import numpy as np


def _zoo(T):
    nn = T.nn
    F = nn.functional

    class VGGish(nn.Module):
        def __init__(self, cfg=(16, "M", 32, 32, "M", 48, "M"), classes=10):
            super().__init__()
            layers, c = [], 3
            for v in cfg:
                if v == "M":
                    layers.append(nn.MaxPool2d(2, 2))
                else:
                    layers += [nn.Conv2d(c, v, 3, padding=1), nn.BatchNorm2d(v), nn.ReLU()]
                    c = v
            self.features = nn.Sequential(*layers)
            self.pool = nn.AdaptiveAvgPool2d(2)
            self.classifier = nn.Sequential(nn.Linear(c * 4, 64), nn.ReLU(), nn.Dropout(0.5),
                                            nn.Linear(64, classes))

        def forward(self, x):
            return self.classifier(T.flatten(self.pool(self.features(x)), 1))

    class DenseLayer(nn.Module):
        def __init__(self, c, growth):
            super().__init__()
            self.n1, self.c1 = nn.BatchNorm2d(c), nn.Conv2d(c, 2 * growth, 1, bias=False)
            self.n2 = nn.BatchNorm2d(2 * growth)
            self.c2 = nn.Conv2d(2 * growth, growth, 3, padding=1, bias=False)

        def forward(self, feats):
            x = T.cat(feats, 1)
            return self.c2(F.relu(self.n2(self.c1(F.relu(self.n1(x))))))

    class DenseNetish(nn.Module):
        def __init__(self, growth=8, blocks=(3, 3), classes=10):
            super().__init__()
            self.stem = nn.Conv2d(3, 16, 3, padding=1, bias=False)
            c, mods = 16, []
            for i, n in enumerate(blocks):
                block = nn.ModuleList()
                for j in range(n):
                    block.append(DenseLayer(c + j * growth, growth))
                mods.append(block)
                c += n * growth
                if i < len(blocks) - 1:
                    mods.append(nn.Sequential(nn.BatchNorm2d(c), nn.ReLU(),
                                              nn.Conv2d(c, c // 2, 1, bias=False),
                                              nn.AvgPool2d(2, 2)))
                    c //= 2
            self.body = nn.ModuleList(mods)
            self.norm = nn.BatchNorm2d(c)
            self.fc = nn.Linear(c, classes)

        def forward(self, x):
            x = self.stem(x)
            for m in self.body:
                if isinstance(m, nn.ModuleList):
                    feats = [x]
                    for layer in m:
                        feats.append(layer(feats))
                    x = T.cat(feats, 1)
                else:
                    x = m(x)
            x = F.adaptive_avg_pool2d(F.relu(self.norm(x)), 1)
            return self.fc(T.flatten(x, 1))

    class Fire(nn.Module):
        def __init__(self, c, s, e):
            super().__init__()
            self.squeeze = nn.Conv2d(c, s, 1)
            self.e1, self.e3 = nn.Conv2d(s, e, 1), nn.Conv2d(s, e, 3, padding=1)

        def forward(self, x):
            x = F.relu(self.squeeze(x))
            return T.cat([F.relu(self.e1(x)), F.relu(self.e3(x))], 1)

    class SqueezeNet(nn.Module):
        def __init__(self, classes=10):
            super().__init__()
            self.features = nn.Sequential(
                nn.Conv2d(3, 32, 3, stride=2), nn.ReLU(), nn.MaxPool2d(3, 2, ceil_mode=True),
                Fire(32, 8, 16), Fire(32, 8, 16), nn.MaxPool2d(3, 2, ceil_mode=True),
                Fire(32, 12, 24), Fire(48, 12, 24))
            self.classifier = nn.Sequential(nn.Dropout(0.5), nn.Conv2d(48, classes, 1),
                                            nn.ReLU(), nn.AdaptiveAvgPool2d(1))

        def forward(self, x):
            return T.flatten(self.classifier(self.features(x)), 1)

    def shuffle(x, groups):
        b, c, h, w = x.shape
        x = x.view(b, groups, c // groups, h, w).transpose(1, 2).contiguous()
        return x.view(b, c, h, w)

    class ShuffleUnit(nn.Module):
        def __init__(self, c, stride):
            super().__init__()
            self.stride = stride
            half = c // 2
            cin = c if stride == 2 else half
            self.branch = nn.Sequential(
                nn.Conv2d(cin, half, 1, bias=False), nn.BatchNorm2d(half), nn.ReLU(),
                nn.Conv2d(half, half, 3, stride, 1, groups=half, bias=False),
                nn.BatchNorm2d(half), nn.Conv2d(half, half, 1, bias=False), nn.BatchNorm2d(half),
                nn.ReLU())
            if stride == 2:
                self.short = nn.Sequential(
                    nn.Conv2d(c, c, 3, 2, 1, groups=c, bias=False), nn.BatchNorm2d(c),
                    nn.Conv2d(c, half, 1, bias=False), nn.BatchNorm2d(half), nn.ReLU())

        def forward(self, x):
            if self.stride == 1:
                a, b = x.chunk(2, dim=1)
                out = T.cat([a, self.branch(b)], 1)
            else:
                out = T.cat([self.short(x), self.branch(x)], 1)
            return shuffle(out, 2)

    class ShuffleNet(nn.Module):
        def __init__(self, classes=10):
            super().__init__()
            self.stem = nn.Sequential(nn.Conv2d(3, 24, 3, 2, 1, bias=False), nn.BatchNorm2d(24),
                                      nn.ReLU(), nn.MaxPool2d(3, 2, 1))
            self.stages = nn.Sequential(ShuffleUnit(24, 2), ShuffleUnit(24, 1),
                                        ShuffleUnit(24, 1))
            self.fc = nn.Linear(24, classes)

        def forward(self, x):
            x = self.stages(self.stem(x))
            return self.fc(x.mean([2, 3]))

    class ViT(nn.Module):
        def __init__(self, img=32, patch=8, dim=48, heads=4, depth=2, classes=10):
            super().__init__()
            n = (img // patch) ** 2
            self.embed = nn.Conv2d(3, dim, patch, patch)
            self.cls = nn.Parameter(T.zeros(1, 1, dim))
            self.pos = nn.Parameter(T.zeros(1, n + 1, dim))
            self.blocks = nn.ModuleList([nn.TransformerEncoderLayer(
                dim, heads, 2 * dim, dropout=0.0, activation="gelu", batch_first=True,
                norm_first=True) for _ in range(depth)])
            self.norm = nn.LayerNorm(dim)
            self.head = nn.Linear(dim, classes)

        def forward(self, x):
            x = self.embed(x).flatten(2).transpose(1, 2)
            x = T.cat([self.cls.expand(x.shape[0], -1, -1), x], 1) + self.pos
            for blk in self.blocks:
                x = blk(x)
            return self.head(self.norm(x)[:, 0])

    def conv_block(cin, cout):
        return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(),
                             nn.Conv2d(cout, cout, 3, padding=1), nn.ReLU())

    class UNet(nn.Module):
        def __init__(self, c=8, classes=2):
            super().__init__()
            self.d1, self.d2, self.mid = conv_block(3, c), conv_block(c, 2 * c), \
                conv_block(2 * c, 4 * c)
            self.pool = nn.MaxPool2d(2)
            self.u2 = nn.ConvTranspose2d(4 * c, 2 * c, 2, stride=2)
            self.c2 = conv_block(4 * c, 2 * c)
            self.u1 = nn.ConvTranspose2d(2 * c, c, 2, stride=2)
            self.c1 = conv_block(2 * c, c)
            self.out = nn.Conv2d(c, classes, 1)

        def forward(self, x):
            a = self.d1(x)
            b = self.d2(self.pool(a))
            m = self.mid(self.pool(b))
            y = self.c2(T.cat([self.u2(m), b], 1))
            y = self.c1(T.cat([self.u1(y), a], 1))
            return self.out(y)

    class Seq2SeqGRU(nn.Module):
        def __init__(self, vocab=40, emb=16, hidden=24):
            super().__init__()
            self.src_emb, self.tgt_emb = nn.Embedding(vocab, emb), nn.Embedding(vocab, emb)
            self.enc = nn.GRU(emb, hidden, batch_first=True, bidirectional=True)
            self.bridge = nn.Linear(2 * hidden, hidden)
            self.dec = nn.GRU(emb, hidden, num_layers=2, batch_first=True)
            self.out = nn.Linear(hidden, vocab)

        def forward(self, src, tgt):
            _, h = self.enc(self.src_emb(src))
            h0 = T.tanh(self.bridge(T.cat([h[0], h[1]], 1)))
            y, _ = self.dec(self.tgt_emb(tgt), T.stack([h0, h0], 0))
            return self.out(y)

    class AudioNet(nn.Module):
        def __init__(self, classes=6):
            super().__init__()
            self.net = nn.Sequential(
                nn.Conv1d(1, 16, 9, stride=4, padding=4), nn.BatchNorm1d(16), nn.ReLU(),
                nn.MaxPool1d(4), nn.Conv1d(16, 32, 5, padding=2, dilation=1), nn.BatchNorm1d(32),
                nn.ReLU(), nn.MaxPool1d(2), nn.Conv1d(32, 32, 3, padding=2, dilation=2), nn.ReLU())
            self.fc = nn.Linear(32, classes)

        def forward(self, x):
            return self.fc(self.net(x).mean(-1))

    class DynamicShapes(nn.Module):
        """Multi-head self-attention written with views that follow x's batch and sequence
        sizes (Shape -> Gather -> Concat -> Reshape chains in the exported graph)."""

        def __init__(self, dim=32, heads=4):
            super().__init__()
            self.heads = heads
            self.qkv = nn.Linear(dim, 3 * dim)
            self.proj = nn.Linear(dim, dim)

        def forward(self, x):
            b, s, d = x.shape
            qkv = self.qkv(x).view(b, s, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
            q, k, v = qkv[0], qkv[1], qkv[2]
            att = (q @ k.transpose(-2, -1)) * (1.0 / float(np.sqrt(d // self.heads)))
            y = att.softmax(-1) @ v
            y = y.transpose(1, 2).reshape(b, s, d)
            return self.proj(y) + x.flatten(1).reshape(b, s, d)

    return {"vgg": VGGish, "densenet": DenseNetish, "squeezenet": SqueezeNet,
            "shufflenet": ShuffleNet, "vit": ViT, "unet": UNet, "seq2seq_gru": Seq2SeqGRU,
            "audio_conv1d": AudioNet, "dynamic_shapes": DynamicShapes}


def example_inputs(name, rng, batch=2):
    if name == "seq2seq_gru":
        return [rng.integers(0, 40, (batch, 7)).astype(np.int64),
                rng.integers(0, 40, (batch, 5)).astype(np.int64)]
    if name == "audio_conv1d":
        return [rng.standard_normal((batch, 1, 800)).astype(np.float32)]
    if name == "dynamic_shapes":
        return [rng.standard_normal((batch, 6, 32)).astype(np.float32)]
    size = 32 if name != "unet" else 24
    return [rng.standard_normal((batch, 3, size, size)).astype(np.float32)]


# the dims of each input that vary at run time (the dynamic-shape tests change them)
DYNAMIC = {"seq2seq_gru": [{0: "batch", 1: "src_len"}, {0: "batch", 1: "tgt_len"}],
           "audio_conv1d": [{0: "batch", 2: "samples"}],
           "dynamic_shapes": [{0: "batch", 1: "seq"}]}

NAMES = ("vgg", "densenet", "squeezenet", "shufflenet", "vit", "unet", "seq2seq_gru",
         "audio_conv1d", "dynamic_shapes")


def make(T, name):
    return _zoo(T)[name]()


def _zoo_norm_weight(key, a):
    return a.ndim == 1 and ("norm" in key or ".n1." in key or ".n2." in key) and \
        key.endswith("weight")


def randomized_state(model, rng, unit_weight=_zoo_norm_weight):
    """A state_dict (NumPy arrays) with non-trivial batch-norm statistics and affines; the
    float parameters `unit_weight(key, array)` picks are drawn around 1 instead of 0."""
    sd = {}
    for k, v in model.state_dict().items():
        a = v.detach().cpu().numpy() if hasattr(v, "detach") else np.asarray(v.numpy())
        if a.dtype.kind != "f":
            sd[k] = a
        elif k.endswith("running_var"):
            sd[k] = rng.uniform(0.5, 1.5, a.shape).astype(a.dtype)
        elif k.endswith("running_mean"):
            sd[k] = (rng.standard_normal(a.shape) * 0.1).astype(a.dtype)
        else:
            fan = int(np.prod(a.shape[1:])) if a.ndim > 1 else 0
            scale = 1.0 / np.sqrt(fan) if fan else 0.1
            base = 1.0 if unit_weight(k, a) else 0.0
            sd[k] = (base + rng.standard_normal(a.shape) * scale).astype(a.dtype)
    return sd
