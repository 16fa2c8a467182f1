"""Independent torch re-implementations (functional, straight from a state_dict of arrays) of
EfficientNet-Lite0, torchvision's ResNet and MobileNetV2: the oracle for the parity tests, the
stored EfficientNet reference outputs and the latency benchmark.  torch is imported lazily;
dlcore itself never needs it."""
import numpy as np

# efficientnet_lite_builder's block strings for lite0: r(repeats) k(kernel) s(stride) e(expand)
# i(in) o(out)
LITE0_BLOCKS = ("r1_k3_s11_e1_i32_o16", "r2_k3_s22_e6_i16_o24", "r2_k5_s22_e6_i24_o40",
                "r3_k3_s22_e6_i40_o80", "r3_k5_s11_e6_i80_o112", "r4_k5_s22_e6_i112_o192",
                "r1_k3_s11_e6_i192_o320")


def _decode(s):
    f = {p[0]: p[1:] for p in s.split("_")}
    return int(f["r"]), int(f["k"]), int(f["s"][0]), int(f["e"]), int(f["i"]), int(f["o"])


def lite0_blocks():
    """(state_dict key prefix, expand ratio, stride) of each MBConv block of EfficientNet-Lite0,
    in order: the walk both the torch oracle and the NumPy reference take."""
    idx = 0
    for s in LITE0_BLOCKS:
        r, k, stride, e, cin, cout = _decode(s)
        for j in range(r):
            yield "_blocks.%d." % idx, e, stride if j == 0 else 1
            idx += 1


def _tensors(sd):
    import torch
    return {k: torch.from_numpy(np.ascontiguousarray(getattr(v, "_data", v))) for k, v in sd.items()}


def torch_efficientnet_lite0(sd):
    """f(x: (N, 3, H, W) float32 ndarray) -> logits ndarray, eval mode."""
    import torch
    import torch.nn.functional as F
    T = _tensors(sd)

    def conv_same(x, w, stride=1, groups=1):
        ih, iw = x.shape[-2:]
        kh, kw = w.shape[-2:]
        ph = max((-(-ih // stride) - 1) * stride + kh - ih, 0)
        pw = max((-(-iw // stride) - 1) * stride + kw - iw, 0)
        x = F.pad(x, [pw // 2, pw - pw // 2, ph // 2, ph - ph // 2])
        return F.conv2d(x, w, None, stride, 0, 1, groups)

    def bn(x, p):
        return F.batch_norm(x, T[p + ".running_mean"], T[p + ".running_var"], T[p + ".weight"],
                            T[p + ".bias"], False, 0.0, 1e-3)

    def run(x):
        with torch.no_grad():
            x = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
            x = F.relu6(bn(conv_same(x, T["_conv_stem.weight"], 2), "_bn0"))
            for p, e, st in lite0_blocks():
                inp = x
                if e != 1:
                    x = F.relu6(bn(conv_same(x, T[p + "_expand_conv.weight"]), p + "_bn0"))
                x = F.relu6(bn(conv_same(x, T[p + "_depthwise_conv.weight"], st, x.shape[1]),
                               p + "_bn1"))
                x = bn(conv_same(x, T[p + "_project_conv.weight"]), p + "_bn2")
                if st == 1 and inp.shape[1] == x.shape[1]:
                    x = x + inp
            x = F.relu6(bn(conv_same(x, T["_conv_head.weight"]), "_bn1"))
            x = x.mean((2, 3))
            return F.linear(x, T["_fc.weight"], T["_fc.bias"]).numpy()
    return run


def _bn_tv(T, p, x):
    import torch.nn.functional as F
    return F.batch_norm(x, T[p + ".running_mean"], T[p + ".running_var"], T[p + ".weight"],
                        T[p + ".bias"], False, 0.0, 1e-5)


def torch_resnet(sd, dilate=(False, False, False)):
    """torchvision-layout ResNet (BasicBlock or Bottleneck read from the keys, the 3x3's groups
    from its weight's shape), eval mode; dilate: torchvision's replace_stride_with_dilation."""
    import torch
    import torch.nn.functional as F
    T = _tensors(sd)
    bottleneck = any(k.endswith("conv3.weight") for k in T)

    def run(x):
        with torch.no_grad():
            x = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
            x = F.relu(_bn_tv(T, "bn1", F.conv2d(x, T["conv1.weight"], None, 2, 3)))
            x = F.max_pool2d(x, 3, 2, 1)
            dil = 1
            for li in range(1, 5):
                b = 0
                prev = dil
                stage_stride = 1 if li == 1 else 2
                if li > 1 and dilate[li - 2]:
                    dil *= stage_stride
                    stage_stride = 1
                while "layer%d.%d.conv1.weight" % (li, b) in T:
                    p = "layer%d.%d." % (li, b)
                    s = stage_stride if b == 0 else 1
                    d = prev if b == 0 else dil
                    idn = x
                    if p + "downsample.0.weight" in T:
                        idn = _bn_tv(T, p + "downsample.1",
                                     F.conv2d(x, T[p + "downsample.0.weight"], None, s))
                    if bottleneck:
                        w2 = T[p + "conv2.weight"]
                        g = T[p + "conv1.weight"].shape[0] // w2.shape[1]
                        y = F.relu(_bn_tv(T, p + "bn1", F.conv2d(x, T[p + "conv1.weight"])))
                        y = F.relu(_bn_tv(T, p + "bn2", F.conv2d(y, w2, None, s, d, d, g)))
                        y = _bn_tv(T, p + "bn3", F.conv2d(y, T[p + "conv3.weight"]))
                    else:
                        y = F.relu(_bn_tv(T, p + "bn1", F.conv2d(x, T[p + "conv1.weight"], None,
                                                                 s, 1)))
                        y = _bn_tv(T, p + "bn2", F.conv2d(y, T[p + "conv2.weight"], None, 1, 1))
                    x = F.relu(y + idn)
                    b += 1
            x = F.adaptive_avg_pool2d(x, 1).flatten(1)
            return F.linear(x, T["fc.weight"], T["fc.bias"]).numpy()
    return run


def torch_mobilenet_v2(sd):
    """torchvision-layout MobileNetV2, eval mode."""
    import torch
    import torch.nn.functional as F
    T = _tensors(sd)
    settings = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
                (6, 160, 3, 2), (6, 320, 1, 1))

    def cbr(x, p, stride=1, groups=1):
        w = T[p + ".0.weight"]
        x = F.conv2d(x, w, None, stride, (w.shape[-1] - 1) // 2, 1, groups)
        return F.relu6(_bn_tv(T, p + ".1", x))

    def run(x):
        with torch.no_grad():
            x = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
            x = cbr(x, "features.0", 2)
            i = 1
            for t, c, n, s in settings:
                for j in range(n):
                    p = "features.%d.conv." % i
                    st = s if j == 0 else 1
                    inp, y, q = x, x, 0
                    if t != 1:
                        y = cbr(y, p + "0")
                        q = 1
                    y = cbr(y, p + str(q), st, y.shape[1])
                    y = F.conv2d(y, T[p + "%d.weight" % (q + 1)])
                    y = _bn_tv(T, p + str(q + 2), y)
                    x = inp + y if (st == 1 and inp.shape[1] == y.shape[1]) else y
                    i += 1
            x = cbr(x, "features.%d" % i)
            x = F.adaptive_avg_pool2d(x, 1).flatten(1)
            return F.linear(x, T["classifier.1.weight"], T["classifier.1.bias"]).numpy()
    return run


def torch_vgg(sd, cfg):
    """torchvision-layout VGG for a configuration tuple (ints and "M"), eval mode."""
    import torch
    import torch.nn.functional as F
    T = _tensors(sd)
    bn = any(k.endswith("running_mean") for k in T)

    def run(x):
        with torch.no_grad():
            x = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
            i = 0
            for v in cfg:
                if v == "M":
                    x = F.max_pool2d(x, 2, 2)
                    i += 1
                    continue
                x = F.conv2d(x, T["features.%d.weight" % i], T["features.%d.bias" % i], 1, 1)
                i += 1
                if bn:
                    x = _bn_tv(T, "features.%d" % i, x)
                    i += 1
                x = F.relu(x)
                i += 1
            x = F.adaptive_avg_pool2d(x, (7, 7)).flatten(1)
            x = F.relu(F.linear(x, T["classifier.0.weight"], T["classifier.0.bias"]))
            x = F.relu(F.linear(x, T["classifier.3.weight"], T["classifier.3.bias"]))
            return F.linear(x, T["classifier.6.weight"], T["classifier.6.bias"]).numpy()
    return run
