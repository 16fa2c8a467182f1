"""Chapter 8 (extra) — a DCGAN on Fashion-MNIST: skipped in this build.

The roadmap pairs the digits GAN (08_gan_digits.py) with a DCGAN on a Fashion-MNIST subset.
dlcore bundles only the iris and 8x8 digits data sets (dl.data.load_iris, load_digits) and never
downloads at run time, so there is nothing to train on here; this example reports that in its
tour row instead of failing.  With the IDX files at hand, dl.data.load_mnist_idx reads them and
dl.models.DCGenerator(image_size=28) / DCDiscriminator(image_size=28) with dl.models.fit_gan
train the same recipe as 08_gan_digits.py.
"""
import sys

import dlcore as dl


def main(quick=False):
    loader = getattr(dl.data, "load_fashion_mnist", None)
    if loader is None:
        print("skipped: no Fashion-MNIST subset is bundled in dl.data (only iris and digits); "
              "see 08_gan_digits.py for the DCGAN on digits")
        return {"chapter": "08", "model": "DCGAN (Fashion-MNIST)", "data": "not bundled",
                "metric": "skipped: no Fashion-MNIST subset in dl.data", "value": None,
                "skipped": True}
    raise NotImplementedError("a bundled Fashion-MNIST loader appeared; port 08_gan_digits.py's "
                              "DCGAN to 28x28 here")


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
