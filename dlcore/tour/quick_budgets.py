"""The training budgets of `dlcore tour --quick`, smaller than some examples' own --quick.

An example's quick mode is also what its tests run, with the budgets their accuracy bounds were
measured at; the tour's quick run is only a smoke run of the whole roadmap (every example
trains a little and writes its figure), so it passes these keyword budgets to the examples
that take them.  `python python/NN_name.py --quick --steps 20` is the same run by hand.
"""

QUICK_BUDGETS = {
    "06_sentiment": {"subset": 0.15},
    "06_spoken_digits": {"epochs": 1},
    "08_dcgan_fashion": {"epochs": 1, "n_images": 256, "judge_epochs": 1, "n_eval": 100},
    "09_transfer_text": {"n_small": 10, "n_test": 40},
    "09_transfer_vision": {"epochs": 2},
    "10_char_gpt": {"steps": 40},
    "10_transformer_classifier": {"n_reviews": 500, "epochs": 1},
    "10_translation": {"steps": 20},
}


def quick_budget(stem, parameters):
    """The keyword budgets for example `stem` whose main() takes `parameters` (names)."""
    return {k: v for k, v in QUICK_BUDGETS.get(stem, {}).items() if k in parameters}
