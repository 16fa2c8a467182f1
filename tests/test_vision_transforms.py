"""dl.vision.transforms on PIL images, CHW tensors and CHW arrays: references computed by hand
in NumPy, PIL's own resize/rotate as the oracle for PIL images, torch's interpolate for float
tensors; the random transforms' parameters and reproducibility; argument errors."""
import colorsys

import numpy as np
import pytest

import dlcore as dl
from dlcore.vision import transforms as T
from dlcore.vision.transforms import functional as F

Image = pytest.importorskip("PIL.Image")


@pytest.fixture
def rgb():
    a = (np.random.default_rng(0).random((17, 23, 3)) * 255).astype(np.uint8)
    return a, Image.fromarray(a)


def test_to_tensor_and_pil_to_tensor(rgb):
    a, img = rgb
    x = T.ToTensor()(img)
    assert x.shape == (3, 17, 23) and x.dtype == np.float32
    np.testing.assert_allclose(x.numpy(), a.transpose(2, 0, 1) / 255.0, rtol=1e-6)
    np.testing.assert_allclose(T.ToTensor()(a).numpy(), x.numpy())  # ndarray HWC
    f = np.random.default_rng(1).random((4, 5, 2))
    np.testing.assert_array_equal(T.ToTensor()(f).numpy(), f.transpose(2, 0, 1))  # no scaling
    p = T.PILToTensor()(img)
    assert p.dtype == np.uint8 and (p.numpy() == a.transpose(2, 0, 1)).all()
    g = T.ToTensor()(img.convert("L"))
    assert g.shape == (1, 17, 23)
    back = T.ToPILImage()(x)
    assert np.abs(np.asarray(back).astype(int) - a).max() <= 1


def test_normalize():
    x = dl.tensor(np.random.default_rng(2).random((3, 4, 5)).astype(np.float32))
    mean, std = [0.1, 0.2, 0.3], [0.5, 0.25, 2.0]
    ref = (x.numpy() - np.array(mean)[:, None, None]) / np.array(std)[:, None, None]
    np.testing.assert_allclose(T.Normalize(mean, std)(x).numpy(), ref, rtol=1e-6, atol=1e-7)
    y = dl.tensor(x.numpy().copy())
    assert T.Normalize(mean, std, inplace=True)(y) is y
    np.testing.assert_allclose(y.numpy(), ref, rtol=1e-6, atol=1e-7)
    with pytest.raises(ValueError, match="division by zero"):
        T.Normalize([0.0] * 3, [1.0, 0.0, 1.0])(x)
    with pytest.raises(TypeError, match="float tensor"):
        T.Normalize([0.0], [1.0])(dl.tensor(np.zeros((1, 2, 2), dtype=np.uint8)))


@pytest.mark.parametrize("out", [(10, 15), (40, 33), (5, 40), 12])
def test_resize_pil_matches_pil(rgb, out):
    a, img = rgb
    ours = T.Resize(out)(img)
    if isinstance(out, int):  # smaller edge (height 17) -> 12, width int(12 * 23 / 17) = 16
        out = (12, 16)
    assert ours.size == (out[1], out[0])
    ref = np.asarray(img.resize((out[1], out[0]), Image.BILINEAR)).astype(int)
    assert np.abs(np.asarray(ours).astype(int) - ref).max() <= 1  # PIL rounds in fixed point


@pytest.mark.parametrize("out", [(40, 51), (6, 9), (17, 5)])
def test_resize_tensor_matches_torch_interpolate(out):
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(3).random((3, 17, 23))
    ours = F.resize(dl.tensor(x), out).numpy()
    ref = torch.nn.functional.interpolate(torch.tensor(x)[None], size=out, mode="bilinear",
                                          align_corners=False, antialias=True)[0].numpy()
    np.testing.assert_allclose(ours, ref, rtol=1e-6, atol=1e-9)
    # kinds agree: CHW ndarray in, ndarray out
    np.testing.assert_allclose(F.resize(x, out), ours)


def test_resize_nearest_and_max_size():
    x = np.arange(20.0).reshape(1, 4, 5)
    out = F.resize(x, (8, 10), "nearest")
    src_r = np.floor((np.arange(8) + 0.5) * 4 / 8).astype(int)
    src_c = np.floor((np.arange(10) + 0.5) * 5 / 10).astype(int)
    np.testing.assert_array_equal(out[0], x[0][src_r][:, src_c])
    assert F.resize(np.zeros((1, 10, 40)), 8, max_size=20).shape == (1, 5, 20)
    with pytest.raises(ValueError, match="max_size"):
        F.resize(np.zeros((1, 10, 40)), 8, max_size=8)
    with pytest.raises(ValueError, match="interpolation"):
        T.Resize(4, interpolation="bicubic")


def test_crops_and_pad(rgb):
    a, img = rgb
    chw = a.transpose(2, 0, 1)
    c = T.CenterCrop(9)(img)
    top, left = int(round((17 - 9) / 2)), int(round((23 - 9) / 2))
    np.testing.assert_array_equal(np.asarray(c), a[top:top + 9, left:left + 9])
    big = F.center_crop(dl.tensor(chw), (21, 23)).numpy()  # larger than the image: zeros
    assert big.shape == (3, 21, 23) and (big[:, :2] == 0).all() and (big[:, 2:19] == chw).all()
    p = F.pad(chw, (1, 2, 3, 4), fill=7)
    assert p.shape == (3, 17 + 6, 23 + 4) and (p[:, :2] == 7).all() and (p[:, :, -3:] == 7).all()
    np.testing.assert_array_equal(F.pad(chw, 2, padding_mode="reflect"),
                                  np.pad(chw, ((0, 0), (2, 2), (2, 2)), mode="reflect"))
    dl.manual_seed(0)
    rc = T.RandomCrop(17, padding=4)
    for _ in range(5):
        out = rc(dl.tensor(chw)).numpy()
        padded = np.pad(chw, ((0, 0), (4, 4), (4, 4)))
        hits = [(i, j) for i in range(9) for j in range(15)
                if np.array_equal(padded[:, i:i + 17, j:j + 17], out)]
        assert hits, "RandomCrop's output is not a window of the padded image"
    with pytest.raises(ValueError, match="larger than the input"):
        T.RandomCrop(30)(img)
    assert T.RandomCrop(30, pad_if_needed=True)(img).size == (30, 30)


def test_flips(rgb):
    a, img = rgb
    np.testing.assert_array_equal(np.asarray(T.RandomHorizontalFlip(1.0)(img)), a[:, ::-1])
    np.testing.assert_array_equal(np.asarray(T.RandomVerticalFlip(1.0)(img)), a[::-1])
    assert T.RandomHorizontalFlip(0.0)(img) is img
    x = dl.tensor(a.transpose(2, 0, 1))
    np.testing.assert_array_equal(T.RandomHorizontalFlip(1.0)(x).numpy(), x.numpy()[..., ::-1])
    dl.manual_seed(1)
    flips = sum(np.array_equal(T.RandomHorizontalFlip()(x).numpy(), x.numpy()[..., ::-1])
                for _ in range(400))
    assert 150 < flips < 250


def test_random_resized_crop(rgb):
    a, img = rgb
    dl.manual_seed(0)
    t = T.RandomResizedCrop((8, 6))
    for _ in range(10):
        assert t(img).size == (6, 8)
        i, j, h, w = t.get_params(img, t.scale, t.ratio)
        assert 0 <= i and i + h <= 17 and 0 <= j and j + w <= 23
    whole = T.RandomResizedCrop((17, 23), scale=(1.0, 1.0), ratio=(23 / 17, 23 / 17))
    np.testing.assert_array_equal(np.asarray(whole(img)), a)
    with pytest.raises(ValueError, match="scale and ratio"):
        T.RandomResizedCrop(4, scale=(1.0, 0.5))


def test_rotation(rgb):
    sq = (np.random.default_rng(4).random((9, 9, 3)) * 255).astype(np.uint8)
    img = Image.fromarray(sq)
    np.testing.assert_array_equal(np.asarray(T.RandomRotation((90, 90))(img)), np.rot90(sq))
    r = F.rotate(dl.tensor(sq.transpose(2, 0, 1)), -90).numpy()
    np.testing.assert_array_equal(r, np.rot90(sq, -1).transpose(2, 0, 1))
    a, pimg = rgb
    # PIL as the oracle, on the interior (PIL samples pixels at the edge differently)
    ours = np.asarray(F.rotate(pimg, 30, "bilinear")).astype(int)[4:-4, 4:-4]
    ref = np.asarray(pimg.rotate(30, resample=Image.BILINEAR)).astype(int)[4:-4, 4:-4]
    assert np.abs(ours - ref).max() <= 2
    ours = np.asarray(F.rotate(pimg, 30, "nearest")).astype(int)[4:-4, 4:-4]
    ref = np.asarray(pimg.rotate(30, resample=Image.NEAREST)).astype(int)[4:-4, 4:-4]
    # nearest differs only where a source coordinate lands within rounding of a pixel edge
    assert (np.abs(ours - ref).max(-1) > 0).mean() < 0.05
    assert F.rotate(pimg, 45, expand=True).size[0] > 23
    with pytest.raises(ValueError, match="non-negative"):
        T.RandomRotation(-5)


def test_color_functions_match_formulas():
    x = np.random.default_rng(5).random((3, 6, 7))
    gray = 0.2989 * x[0] + 0.587 * x[1] + 0.114 * x[2]
    np.testing.assert_allclose(F.adjust_brightness(x, 1.7), np.clip(x * 1.7, 0, 1))
    np.testing.assert_allclose(F.adjust_contrast(x, 0.3),
                               np.clip(0.3 * x + 0.7 * gray.mean(), 0, 1))
    np.testing.assert_allclose(F.adjust_saturation(x, 1.4),
                               np.clip(1.4 * x + (1 - 1.4) * gray, 0, 1))
    np.testing.assert_allclose(F.rgb_to_grayscale(x)[0], gray)
    h = F.adjust_hue(x, 0.2)
    for r, c in ((0, 0), (3, 4), (5, 6)):
        hh, ll, ss = colorsys.rgb_to_hsv(*x[:, r, c])
        ref = colorsys.hsv_to_rgb((hh + 0.2) % 1.0, ll, ss)
        np.testing.assert_allclose(h[:, r, c], ref, atol=1e-12)
    np.testing.assert_allclose(F.adjust_hue(x, 0.0), x, atol=1e-12)
    u8 = (x * 255).astype(np.uint8)
    np.testing.assert_array_equal(F.adjust_brightness(u8, 2.0),
                                  np.clip(u8.astype(float) * 2, 0, 255).round().astype(np.uint8))


def test_color_jitter_and_grayscale(rgb):
    a, img = rgb
    x = a.transpose(2, 0, 1).astype(np.float64) / 255
    out = T.ColorJitter(brightness=(1.5, 1.5))(x)
    np.testing.assert_allclose(out, np.clip(x * 1.5, 0, 1))
    dl.manual_seed(0)
    j = T.ColorJitter(0.4, 0.4, 0.4, 0.1)
    o1 = j(img)
    dl.manual_seed(0)
    o2 = j(img)
    assert o1.size == img.size and np.array_equal(np.asarray(o1), np.asarray(o2))
    g = T.Grayscale()(img)
    assert g.mode == "L"
    g3 = T.Grayscale(3)(dl.tensor(x))
    assert g3.shape == (3, 17, 23) and np.allclose(g3.numpy()[0], g3.numpy()[2])
    with pytest.raises(ValueError, match="hue"):
        T.ColorJitter(hue=0.7)
    with pytest.raises(ValueError, match="non-negative"):
        T.ColorJitter(brightness=-1)


def test_compose_lambda_and_a_training_pipeline(rgb):
    a, img = rgb
    pipe = T.Compose([T.RandomResizedCrop(16), T.RandomHorizontalFlip(),
                      T.ColorJitter(0.2, 0.2, 0.2), T.ToTensor(),
                      T.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
                      T.Lambda(lambda t: t * 2)])
    x = pipe(img)
    assert x.shape == (3, 16, 16) and x.dtype == np.float32
    with pytest.raises(TypeError, match="callable"):
        T.Lambda(3)
    with pytest.raises(TypeError, match="PIL image, a Tensor or an ndarray"):
        F.hflip([1, 2, 3])
