"""GANs: MLP and DCGAN generators/discriminators, optionally class-conditional.

Discriminators return logits (pair them with BCEWithLogitsLoss); generators end in tanh, so
train them on images scaled to [-1, 1].
"""
from .. import nn
from ..functions import cat
from ..tensor import randn


class MLPGenerator(nn.Module):
    def __init__(self, latent=32, hidden=(128, 256), out_features=64, num_classes=0):
        super().__init__()
        if latent <= 0 or out_features <= 0:
            raise ValueError("MLPGenerator: latent and out_features must be positive, got %r "
                             "and %r" % (latent, out_features))
        self.latent, self.out_features, self.num_classes = latent, out_features, num_classes
        if num_classes:
            self.label_emb = nn.Embedding(num_classes, num_classes)
        sizes = (latent + num_classes,) + tuple(hidden)
        layers = []
        for a, b in zip(sizes[:-1], sizes[1:]):
            layers += [nn.Linear(a, b), nn.LeakyReLU(0.2)]
        layers += [nn.Linear(sizes[-1], out_features), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z, labels=None):
        if z.ndim != 2 or z.shape[1] != self.latent:
            raise ValueError("MLPGenerator: expected noise of shape (N, %d), got %s"
                             % (self.latent, tuple(z.shape)))
        if self.num_classes:
            if labels is None:
                raise ValueError("MLPGenerator: this generator is conditional; pass labels")
            z = cat([z, self.label_emb(labels)], 1)
        return self.net(z)

    def sample(self, n, labels=None, generator=None):
        from ..autograd import no_grad
        was = self.training
        self.eval()
        with no_grad():
            out = self(randn(n, self.latent, generator=generator), labels)
        self.train(was)
        return out


class MLPDiscriminator(nn.Module):
    def __init__(self, in_features=64, hidden=(256, 128), num_classes=0):
        super().__init__()
        self.in_features, self.num_classes = in_features, num_classes
        if num_classes:
            self.label_emb = nn.Embedding(num_classes, num_classes)
        sizes = (in_features + num_classes,) + tuple(hidden)
        layers = []
        for a, b in zip(sizes[:-1], sizes[1:]):
            layers += [nn.Linear(a, b), nn.LeakyReLU(0.2)]
        layers.append(nn.Linear(sizes[-1], 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x, labels=None):
        x = x.reshape(x.shape[0], -1)
        if x.shape[1] != self.in_features:
            raise ValueError("MLPDiscriminator: expected %d features per sample, got %d"
                             % (self.in_features, x.shape[1]))
        if self.num_classes:
            if labels is None:
                raise ValueError("MLPDiscriminator: this discriminator is conditional; pass labels")
            x = cat([x, self.label_emb(labels)], 1)
        return self.net(x)


class DCGenerator(nn.Module):
    """latent -> (ch*2, s, s) -> ConvTranspose2d x2 -> (out_channels, 4s, 4s), BatchNorm+ReLU,
    tanh output.  image_size must be divisible by 4 (8 for digits, 28 for MNIST-sized)."""

    def __init__(self, latent=32, image_size=28, out_channels=1, channels=32):
        super().__init__()
        if image_size % 4:
            raise ValueError("DCGenerator: image_size must be divisible by 4, got %d" % image_size)
        s = image_size // 4
        self.latent, self.image_size = latent, image_size
        self.project = nn.Sequential(nn.Linear(latent, channels * 2 * s * s, bias=False),
                                     nn.BatchNorm1d(channels * 2 * s * s), nn.ReLU())
        self.body = nn.Sequential(
            nn.Unflatten(1, (channels * 2, s, s)),
            nn.ConvTranspose2d(channels * 2, channels, 4, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(channels), nn.ReLU(),
            nn.ConvTranspose2d(channels, out_channels, 4, stride=2, padding=1), nn.Tanh())

    def forward(self, z):
        if z.ndim != 2 or z.shape[1] != self.latent:
            raise ValueError("DCGenerator: expected noise of shape (N, %d), got %s"
                             % (self.latent, tuple(z.shape)))
        return self.body(self.project(z))

    def sample(self, n, generator=None):
        from ..autograd import no_grad
        was = self.training
        self.eval()
        with no_grad():
            out = self(randn(n, self.latent, generator=generator))
        self.train(was)
        return out


class DCDiscriminator(nn.Module):
    """(in_channels, S, S) -> two stride-2 convolutions with LeakyReLU -> one logit."""

    def __init__(self, image_size=28, in_channels=1, channels=32):
        super().__init__()
        if image_size % 4:
            raise ValueError("DCDiscriminator: image_size must be divisible by 4, got %d"
                             % image_size)
        s = image_size // 4
        self.image_size, self.in_channels = image_size, in_channels
        self.net = nn.Sequential(
            nn.Conv2d(in_channels, channels, 4, stride=2, padding=1), nn.LeakyReLU(0.2),
            nn.Conv2d(channels, channels * 2, 4, stride=2, padding=1),
            nn.BatchNorm2d(channels * 2), nn.LeakyReLU(0.2),
            nn.Flatten(), nn.Linear(channels * 2 * s * s, 1))

    def forward(self, x):
        shp = tuple(x.shape)
        if len(shp) != 4 or shp[1:] != (self.in_channels, self.image_size, self.image_size):
            raise ValueError("DCDiscriminator: expected images of shape (N, %d, %d, %d), got %s"
                             % (self.in_channels, self.image_size, self.image_size, shp))
        return self.net(x)


__all__ = ["MLPGenerator", "MLPDiscriminator", "DCGenerator", "DCDiscriminator"]
