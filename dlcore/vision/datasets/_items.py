"""What every torchvision-style dataset here does last to an item."""


def transformed(dataset, sample, target):
    """(sample, target) through the dataset's transform and target_transform, where set."""
    if dataset.transform is not None:
        sample = dataset.transform(sample)
    if dataset.target_transform is not None:
        target = dataset.target_transform(target)
    return sample, target
