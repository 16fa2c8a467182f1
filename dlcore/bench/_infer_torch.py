"""torch twins of the models `dlcore bench infer` times: nn.Modules with the same state_dict
keys as the dlcore models, so one set of weights feeds dlcore, torch eager and (through
torch.onnx.export) ONNX Runtime.  Written from the architectures' definitions; torch is an
oracle here only and is imported lazily by the caller."""
import numpy as np

from .train_steps import basic_block

__all__ = ["twin", "load_weights"]


def load_weights(tmodel, dl_model):
    """Copies dl_model's state_dict into tmodel (strict: every key and shape must match)."""
    import torch
    sd = {k: torch.from_numpy(np.ascontiguousarray(v.numpy())) for k, v in
          dl_model.state_dict().items()}
    want = tmodel.state_dict()
    sd = {k: v for k, v in sd.items() if k in want}
    tmodel.load_state_dict(sd, strict=True)
    return tmodel.eval()


def _modules(torch):
    nn, F = torch.nn, torch.nn.functional

    class LeNet5(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(),
                                          nn.MaxPool2d(2), nn.Conv2d(6, 16, 5), nn.ReLU(),
                                          nn.MaxPool2d(2))
            self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(400, 120), nn.ReLU(),
                                            nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))

        def forward(self, x):
            return self.classifier(self.features(x))

    Block = basic_block(nn)

    class ResNet18(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
            self.bn1 = nn.BatchNorm2d(64)
            cin = 64
            for i, c in enumerate((64, 128, 256, 512)):
                s = 1 if i == 0 else 2
                setattr(self, "layer%d" % (i + 1), nn.Sequential(Block(cin, c, s),
                                                                 Block(c, c, 1)))
                cin = c
            self.fc = nn.Linear(512, 1000)

        def forward(self, x):
            x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 3, 2, 1)
            for i in range(4):
                x = getattr(self, "layer%d" % (i + 1))(x)
            return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))

    def cbr(cin, cout, k=3, s=1, g=1):
        return nn.Sequential(nn.Conv2d(cin, cout, k, s, (k - 1) // 2, groups=g, bias=False),
                             nn.BatchNorm2d(cout), nn.ReLU6())

    class InvRes(nn.Module):
        def __init__(self, cin, cout, s, t):
            super().__init__()
            hid = int(round(cin * t))
            self.res = s == 1 and cin == cout
            layers = [cbr(cin, hid, 1)] if t != 1 else []
            layers += [cbr(hid, hid, 3, s, hid), nn.Conv2d(hid, cout, 1, 1, 0, bias=False),
                       nn.BatchNorm2d(cout)]
            self.conv = nn.Sequential(*layers)

        def forward(self, x):
            y = self.conv(x)
            return x + y if self.res else y

    class MobileNetV2(nn.Module):
        def __init__(self):
            super().__init__()
            feats, cin = [cbr(3, 32, 3, 2)], 32
            for t, c, n, s in ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
                               (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)):
                for i in range(n):
                    feats.append(InvRes(cin, c, s if i == 0 else 1, t))
                    cin = c
            feats.append(cbr(cin, 1280, 1))
            self.features = nn.Sequential(*feats)
            self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(1280, 1000))

        def forward(self, x):
            return self.classifier(torch.flatten(F.adaptive_avg_pool2d(self.features(x), 1), 1))

    def same(x, conv):
        ih, iw = x.shape[-2:]
        (kh, kw), (s, _) = conv.kernel_size, conv.stride
        ph = max((-(-ih // s) - 1) * s + kh - ih, 0)
        pw = max((-(-iw // s) - 1) * s + kw - iw, 0)
        return conv(F.pad(x, [pw // 2, pw - pw // 2, ph // 2, ph - ph // 2]))

    class MBConv(nn.Module):
        def __init__(self, cin, cout, e, k, s):
            super().__init__()
            mid = cin * e
            self.e = e
            if e != 1:
                self._expand_conv = nn.Conv2d(cin, mid, 1, bias=False)
                self._bn0 = nn.BatchNorm2d(mid, eps=1e-3)
            self._depthwise_conv = nn.Conv2d(mid, mid, k, s, groups=mid, bias=False)
            self._bn1 = nn.BatchNorm2d(mid, eps=1e-3)
            self._project_conv = nn.Conv2d(mid, cout, 1, bias=False)
            self._bn2 = nn.BatchNorm2d(cout, eps=1e-3)
            self.skip = s == 1 and cin == cout

        def forward(self, inp):
            x = inp
            if self.e != 1:
                x = F.relu6(self._bn0(same(x, self._expand_conv)))
            x = F.relu6(self._bn1(same(x, self._depthwise_conv)))
            x = self._bn2(same(x, self._project_conv))
            return x + inp if self.skip else x

    class EfficientNetLite0(nn.Module):
        STAGES = ((1, 3, 1, 1, 32, 16), (2, 3, 2, 6, 16, 24), (2, 5, 2, 6, 24, 40),
                  (3, 3, 2, 6, 40, 80), (3, 5, 1, 6, 80, 112), (4, 5, 2, 6, 112, 192),
                  (1, 3, 1, 6, 192, 320))

        def __init__(self):
            super().__init__()
            self._conv_stem = nn.Conv2d(3, 32, 3, 2, bias=False)
            self._bn0 = nn.BatchNorm2d(32, eps=1e-3)
            blocks = []
            for r, k, s, e, cin, cout in self.STAGES:
                for j in range(r):
                    blocks.append(MBConv(cin if j == 0 else cout, cout, e, k, s if j == 0 else 1))
            self._blocks = nn.ModuleList(blocks)
            self._conv_head = nn.Conv2d(320, 1280, 1, bias=False)
            self._bn1 = nn.BatchNorm2d(1280, eps=1e-3)
            self._fc = nn.Linear(1280, 1000)

        def forward(self, x):
            x = F.relu6(self._bn0(same(x, self._conv_stem)))
            for b in self._blocks:
                x = b(x)
            x = F.relu6(self._bn1(self._conv_head(x)))
            return self._fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))

    class GPTBlock(nn.Module):
        def __init__(self, E, H):
            super().__init__()
            self.H = H
            self.ln_1 = nn.LayerNorm(E)
            self.attn = nn.Module()
            self.attn.c_attn = nn.Linear(E, 3 * E)
            self.attn.c_proj = nn.Linear(E, E)
            self.ln_2 = nn.LayerNorm(E)
            self.mlp = nn.Module()
            self.mlp.c_fc = nn.Linear(E, 4 * E)
            self.mlp.c_proj = nn.Linear(4 * E, E)

        def forward(self, x):
            N, T, E = x.shape
            q, k, v = self.attn.c_attn(self.ln_1(x)).reshape(N, T, 3, self.H, E // self.H) \
                .permute(2, 0, 3, 1, 4)
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            x = x + self.attn.c_proj(y.transpose(1, 2).reshape(N, T, E))
            h = self.mlp.c_proj(F.gelu(self.mlp.c_fc(self.ln_2(x)), approximate="tanh"))
            return x + h

    class GPT(nn.Module):
        def __init__(self, V, T, E, L, H):
            super().__init__()
            self.wte = nn.Embedding(V, E)
            self.wpe = nn.Module()
            self.wpe.weight = nn.Parameter(torch.zeros(T, E))
            self.h = nn.ModuleList([GPTBlock(E, H) for _ in range(L)])
            self.ln_f = nn.LayerNorm(E)

        def forward(self, idx):
            T = idx.shape[1]
            x = self.wte(idx) + self.wpe.weight[:T]
            for b in self.h:
                x = b(x)
            return F.linear(self.ln_f(x), self.wte.weight)

    class Dense(nn.Module):
        def __init__(self, cin, cout, eps=None):
            super().__init__()
            self.dense = nn.Linear(cin, cout)
            if eps is not None:
                self.LayerNorm = nn.LayerNorm(cout, eps=eps)

    class BertLayer(nn.Module):
        def __init__(self, C, H, I, eps):
            super().__init__()
            self.H = H
            self.attention = nn.Module()
            self.attention.self = nn.Module()
            for n in ("query", "key", "value"):
                setattr(self.attention.self, n, nn.Linear(C, C))
            self.attention.output = Dense(C, C, eps)
            self.intermediate = Dense(C, I)
            self.output = Dense(I, C, eps)

        def forward(self, x):
            B, T, C = x.shape
            a = self.attention.self

            def heads(t):
                return t.reshape(B, T, self.H, C // self.H).permute(0, 2, 1, 3)
            ctx = F.scaled_dot_product_attention(heads(a.query(x)), heads(a.key(x)),
                                                 heads(a.value(x)))
            o = self.attention.output
            x = o.LayerNorm(o.dense(ctx.permute(0, 2, 1, 3).reshape(B, T, C)) + x)
            h = F.gelu(self.intermediate.dense(x))
            return self.output.LayerNorm(self.output.dense(h) + x)

    class BertEncoder(nn.Module):
        """The dlcore bench's wrapper (attribute `m`) around a BertModel without pooler."""

        def __init__(self, V, P, Tv, C, H, I, L, eps):
            super().__init__()
            self.m = nn.Module()
            e = self.m.embeddings = nn.Module()
            e.word_embeddings = nn.Embedding(V, C)
            e.position_embeddings = nn.Embedding(P, C)
            e.token_type_embeddings = nn.Embedding(Tv, C)
            e.LayerNorm = nn.LayerNorm(C, eps=eps)
            self.m.encoder = nn.Module()
            self.m.encoder.layer = nn.ModuleList([BertLayer(C, H, I, eps) for _ in range(L)])

        def forward(self, ids, types):
            e = self.m.embeddings
            pos = torch.arange(ids.shape[1]).unsqueeze(0)
            x = e.LayerNorm(e.word_embeddings(ids) + e.position_embeddings(pos) +
                            e.token_type_embeddings(types))
            for layer in self.m.encoder.layer:
                x = layer(x)
            return x

    return dict(lenet=LeNet5, resnet18=ResNet18, mobilenet_v2=MobileNetV2,
                efficientnet_lite0=EfficientNetLite0, gpt=GPT, minilm=BertEncoder)


def twin(torch, name, dl_model, **kw):
    """The torch twin of dl_model (weights copied)."""
    nn = torch.nn
    if name == "mlp":
        m = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(),
                          nn.Linear(128, 10))
    elif name == "transformer":
        m = nn.TransformerEncoder(nn.TransformerEncoderLayer(
            kw["d"], kw["heads"], kw["ff"], dropout=0.0, batch_first=True), kw["layers"],
            enable_nested_tensor=False)
    elif name == "lstm":
        m = nn.LSTM(kw["input"], kw["hidden"], kw["layers"])
    else:
        m = _modules(torch)[name](**kw)
    return load_weights(m, dl_model)
