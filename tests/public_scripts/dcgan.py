"""The DCGAN of pytorch/examples (dcgan/main.py), in our own words, scaled to 16x16 digits.

Offline data: the bundled 8x8 digits, each pixel repeated 2x2 to 16x16 and scaled to [-1, 1]
(the example's Normalize((0.5,), (0.5,))). The networks keep the example's shape -- strided
ConvTranspose2d + BatchNorm2d + ReLU up to a Tanh image, strided Conv2d + LeakyReLU(0.2,
inplace=True) + BatchNorm2d down to a Sigmoid score -- with the `weights_init` applied through
`model.apply`, BCELoss, Adam(lr=2e-4, betas=(0.5, 0.999)), labels built with torch.full and
fill_, and D trained on fake.detach().

What a test can compare across engines is how close the generated images' statistics come to
the real ones: `mean_image_error` is the mean absolute difference between the average generated
image and the average real image (it starts near 0.6 and falls as G learns where ink goes).
"""
import argparse

import numpy as np
import torch
import torch.nn as nn
import torch.optim as optim
import torch.utils.data

from offline_data import digits

nz, ngf, ndf, nc = 16, 16, 16, 1


def weights_init(m):
    classname = m.__class__.__name__
    if classname.find("Conv") != -1:
        torch.nn.init.normal_(m.weight, 0.0, 0.02)
    elif classname.find("BatchNorm") != -1:
        torch.nn.init.normal_(m.weight, 1.0, 0.02)
        torch.nn.init.zeros_(m.bias)


class Generator(nn.Module):
    def __init__(self):
        super().__init__()
        self.main = nn.Sequential(
            nn.ConvTranspose2d(nz, ngf * 4, 4, 1, 0, bias=False),   # 4x4
            nn.BatchNorm2d(ngf * 4),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False),  # 8x8
            nn.BatchNorm2d(ngf * 2),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 2, nc, 4, 2, 1, bias=False),  # 16x16
            nn.Tanh(),
        )

    def forward(self, input):
        return self.main(input)


class Discriminator(nn.Module):
    def __init__(self):
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv2d(nc, ndf, 4, 2, 1, bias=False),  # 8x8
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False),  # 4x4
            nn.BatchNorm2d(ndf * 2),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 2, 1, 4, 1, 0, bias=False),  # 1x1
            nn.Sigmoid(),
        )

    def forward(self, input):
        return self.main(input).view(-1, 1).squeeze(1)


def mean_image_error(netG, real_mean, device, n=256):
    with torch.no_grad():
        fake = netG(torch.randn(n, nz, 1, 1, device=device))
    return float(np.abs(fake.mean(0).cpu().numpy() - real_mean).mean())


def main(quick=True, argv=()):
    parser = argparse.ArgumentParser(description="DCGAN on 16x16 digits")
    parser.add_argument("--batchSize", type=int, default=64)
    parser.add_argument("--niter", type=int, default=4 if quick else 25)
    parser.add_argument("--lr", type=float, default=0.0002)
    parser.add_argument("--beta1", type=float, default=0.5)
    parser.add_argument("--manualSeed", "--seed", type=int, default=999)
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(list(argv))

    torch.manual_seed(args.manualSeed)
    device = torch.device("cpu")
    x_train, _, _, _ = digits()
    images = np.kron(x_train, np.ones((1, 1, 2, 2), np.float32)) * 2.0 - 1.0
    dataset = torch.utils.data.TensorDataset(torch.from_numpy(images))
    dataloader = torch.utils.data.DataLoader(dataset, batch_size=args.batchSize, shuffle=True,
                                             drop_last=True)
    real_mean = images.mean(0)

    netG = Generator().to(device)
    netG.apply(weights_init)
    netD = Discriminator().to(device)
    netD.apply(weights_init)

    criterion = nn.BCELoss()
    fixed_noise = torch.randn(args.batchSize, nz, 1, 1, device=device)
    real_label, fake_label = 1, 0
    optimizerD = optim.Adam(netD.parameters(), lr=args.lr, betas=(args.beta1, 0.999))
    optimizerG = optim.Adam(netG.parameters(), lr=args.lr, betas=(args.beta1, 0.999))

    initial_error = mean_image_error(netG, real_mean, device)
    for epoch in range(args.niter):
        for i, data in enumerate(dataloader, 0):
            # (1) Update D: maximize log(D(x)) + log(1 - D(G(z)))
            netD.zero_grad()
            real_cpu = data[0].to(device)
            batch_size = real_cpu.size(0)
            label = torch.full((batch_size,), real_label, dtype=real_cpu.dtype, device=device)
            output = netD(real_cpu)
            errD_real = criterion(output, label)
            errD_real.backward()
            D_x = output.mean().item()

            noise = torch.randn(batch_size, nz, 1, 1, device=device)
            fake = netG(noise)
            label.fill_(fake_label)
            output = netD(fake.detach())
            errD_fake = criterion(output, label)
            errD_fake.backward()
            D_G_z1 = output.mean().item()
            errD = errD_real + errD_fake
            optimizerD.step()

            # (2) Update G: maximize log(D(G(z)))
            netG.zero_grad()
            label.fill_(real_label)  # fake labels are real for generator cost
            output = netD(fake)
            errG = criterion(output, label)
            errG.backward()
            D_G_z2 = output.mean().item()
            optimizerG.step()
            if args.verbose and i % 10 == 0:
                print("[%d/%d][%d/%d] Loss_D: %.4f Loss_G: %.4f D(x): %.4f D(G(z)): %.4f / %.4f"
                      % (epoch, args.niter, i, len(dataloader), errD.item(), errG.item(),
                         D_x, D_G_z1, D_G_z2))
    with torch.no_grad():
        fake = netG(fixed_noise)
    assert fake.shape == (args.batchSize, 1, 16, 16)
    error = mean_image_error(netG, real_mean, device)
    print("mean image error %.4f -> %.4f, D(x) %.3f" % (initial_error, error, D_x))
    return {"mean_image_error": error, "initial_mean_image_error": initial_error,
            "loss_D": errD.item(), "loss_G": errG.item(), "D_x": D_x}


if __name__ == "__main__":
    import sys
    main(quick=False, argv=sys.argv[1:])
