"""The tour's index.html: a page that needs nothing but its folder, showing every figure with a
caption; headless Chromium (Debian's `chromium`, skipped where absent) checks that each image
loads."""
import io
import os
import re
import shutil
import subprocess
import textwrap

import pytest

from dlcore import cli

PNG_1x1 = bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
                        "0000000d4944415478da63f8cfc0f01f0005000201a1bb9fd10000000049454e44"
                        "ae426082")

# after the page's load event, the body records per image whether it decoded (1) or not (0)
PROBE = """<script>window.addEventListener("load", function () {
  var ok = [];
  for (var i = 0; i < document.images.length; i++) {
    var im = document.images[i];
    ok.push(im.complete && im.naturalWidth > 0 ? 1 : 0);
  }
  document.body.setAttribute("data-images", ok.join(","));
});</script>"""


def _chromium():
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


def _images_loaded(page):
    """[1 or 0 per <img>] as Chromium sees the page (a copy with PROBE added beside it)."""
    with open(page, encoding="utf-8") as f:
        text = f.read()
    probe = os.path.join(os.path.dirname(page), "_probe_" + os.path.basename(page))
    with open(probe, "w", encoding="utf-8") as f:
        f.write(text.replace("</body>", PROBE + "</body>"))
    proc = subprocess.run([_chromium(), "--headless", "--no-sandbox", "--disable-gpu",
                           "--allow-file-access-from-files", "--virtual-time-budget=5000",
                           "--dump-dom", "file://" + os.path.abspath(probe)],
                          capture_output=True, text=True, timeout=120)
    m = re.search(r'data-images="([01,]*)"', proc.stdout)
    assert m, "no probe result in Chromium's DOM dump:\n%s\n%s" % (proc.stdout[-2000:],
                                                                   proc.stderr[-2000:])
    return [int(x) for x in m.group(1).split(",") if x]


@pytest.fixture(scope="module")
def tour_page(tmp_path_factory):
    """A tour over three small examples (a figure in --out, one in a subfolder, one saved
    elsewhere and reported by path) plus the real chapter-3 example when matplotlib draws."""
    base = tmp_path_factory.mktemp("tour")
    ex = base / "ex"
    ex.mkdir()
    (ex / "01_fig.py").write_text(textwrap.dedent('''
        def main(quick=False):
            open("one.png", "wb").write(bytes.fromhex(%r))
            return {"model": "M <b>", "metric": "acc", "value": 0.5,
                    "figures": {"one.png": "a one-pixel picture & its caption"}}
    ''' % PNG_1x1.hex()))
    (ex / "02_sub.py").write_text(textwrap.dedent('''
        import os
        def main(quick=False, out_dir="."):
            os.makedirs(os.path.join(out_dir, "sub"), exist_ok=True)
            open(os.path.join(out_dir, "sub", "two.png"), "wb").write(bytes.fromhex(%r))
            return {"metric": "m", "value": 1.0}
    ''' % PNG_1x1.hex()))
    (ex / "04_nothing.py").write_text("def main(quick=False):\n    return {'value': 2.0}\n")
    try:
        import matplotlib  # noqa: F401
        here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        shutil.copy(os.path.join(here, "python", "03_backprop_gradient_descent.py"), ex)
    except (ImportError, OSError):
        pass
    mp = pytest.MonkeyPatch()
    from dlcore.tour import examples as tour_examples
    mp.setattr(tour_examples, "examples_dir", lambda: str(ex))
    mp.setattr(cli, "examples_dir", lambda: str(ex))
    out = io.StringIO()
    try:
        code = cli.main(["tour", "--quick", "--out", str(base / "out")], out=out)
    finally:
        mp.undo()
    assert code == 0, out.getvalue()
    return base / "out"


def test_page_is_self_contained(tour_page):
    page = (tour_page / "index.html").read_text()
    refs = re.findall(r'(?:src|href)="([^"]*)"', page)
    assert refs
    for ref in refs:
        assert not re.match(r"^[a-z]+:|^//", ref), "the page reaches outside its folder: " + ref
        if not ref.startswith("#"):
            assert (tour_page / ref).exists(), ref
    imgs = re.findall(r'<img src="([^"]*)"', page)
    assert "one.png" in imgs and "sub/two.png" in imgs
    # captions: the example's own, escaped; others from the file name
    assert "<figcaption>a one-pixel picture &amp; its caption</figcaption>" in page
    assert "<figcaption>02_sub: two</figcaption>" in page
    assert "M &lt;b&gt;" in page and "M <b>" not in page
    # every example has its section, and the table names every example
    for stem in ("01_fig", "02_sub", "04_nothing"):
        assert 'id="%s"' % stem in page and '<a href="#%s">' % stem in page


def test_images_load_in_headless_chromium(tour_page):
    if _chromium() is None:
        pytest.skip("no chromium here (Debian: apt-get install chromium)")
    page = str(tour_page / "index.html")
    n_img = len(re.findall(r"<img ", (tour_page / "index.html").read_text()))
    loaded = _images_loaded(page)
    assert len(loaded) == n_img >= 2 and all(loaded), loaded


def test_the_probe_sees_a_missing_image(tmp_path):
    """The check above could fail: a page with a missing picture reads as not loaded."""
    if _chromium() is None:
        pytest.skip("no chromium here (Debian: apt-get install chromium)")
    (tmp_path / "ok.png").write_bytes(PNG_1x1)
    page = tmp_path / "p.html"
    page.write_text('<!DOCTYPE html><html><body><img src="ok.png"><img src="gone.png">'
                    "</body></html>")
    assert _images_loaded(str(page)) == [1, 0]
