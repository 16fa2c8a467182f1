"""What the README's roadmap table says about each example, with its numbers left as
placeholders that roadmap.py fills from the recorded full run.

A placeholder is {key.path:format} into the example's result row (dots walk into nested dicts
and lists; `a/b` divides two of them).  Formats: pct0/pct1 (a fraction as a percentage), f0-f4
(fixed decimals), e0 (one significant digit, exponent form), s1 (seconds), pts (a fraction as
+/- percentage points), n (an integer with thousands separators), d (as it is).  A literal
measurement in the prose (a number with a decimal point or a percent sign) must appear in the
example's docstring: the tests check it.  `claims` are facts of the record the prose states in
words; the tests check those too.
"""

CHAPTER_NAMES = {1: "perceptron", 2: "MLP", 3: "backprop", 4: "CNN", 5: "RNN", 6: "LSTM/GRU",
                 7: "autoencoders", 8: "GANs", 9: "transfer learning", 10: "transformers",
                 11: "deployment", 12: "data-parallel"}

EXAMPLES = {
    "01_activations": (
        "one neuron, activation(w·x + b), with step, sigmoid, tanh, ReLU and leaky ReLU: from a "
        "confidently wrong start sigmoid and tanh saturate ({wrong_start_accuracy.sigmoid:pct0} "
        "and {wrong_start_accuracy.tanh:pct0} accuracy), ReLU dies on half the data "
        "({wrong_start_accuracy.relu:pct0}), leaky ReLU recovers "
        "({wrong_start_accuracy.leaky_relu:pct0})", {}),
    "01_perceptron": (
        "Rosenblatt's rule learns AND, OR and Iris setosa-vs-rest and never converges on XOR; "
        "a 2-layer MLP trained by backprop solves XOR ({value:pct0} accuracy)",
        {"and_converged": True, "or_converged": True, "xor_converged": False,
         "iris_setosa_converged": True}),
    "02_mlp_iris": (
        "MLP 4-16-3 on Iris: {value:pct1} test accuracy on the seeded split (10 other splits: "
        "mean {other_splits_mean_min_max.0:pct1}, {other_splits_mean_min_max.1:pct0} to "
        "{other_splits_mean_min_max.2:pct0})", {}),
    "03_backprop_gradient_descent": (
        "hand-written backprop equals autograd (max difference {value:e0}); learning-rate and "
        "batch-size sweep on the digits (best lr {best_lr:d}: {best_lr_test_accuracy:pct1} test "
        "accuracy)", {}),
    "03_losses": (
        "squared error vs cross-entropy on the same MLP: on a confident mistake dL/dz is "
        "{grad_mse_at_minus6:f4} vs {grad_ce_at_minus6:f4}; from a confidently wrong network "
        "({wrong_start_accuracy:pct1}) cross-entropy recovers to {wrong_ce_first_epoch:pct0} "
        "test accuracy in one epoch, squared error reaches {wrong_mse_last_epoch:pct0} in "
        "ten", {}),
    "04_cnn_digits": ("CNN on 8×8 digits: {value:pct1} test accuracy", {}),
    "04_cnn_fashion": (
        "Fashion-MNIST: {value:pct1} on the bundled 2,000/1,000 subset (91.5% on the full "
        "60k/10k with `--full` and Debian's `dataset-fashion-mnist`)", {}),
    "05_rnn_timeseries": (
        "LSTM one-step forecasts: test MSE {results.sunspots.improvement:pct0} (sunspots), "
        "{results.co2.improvement:pct0} (Mauna Loa CO2) and {results.seasonal.improvement:pct0} "
        "(a seasonal series) below seasonal-naive", {"beats_persistence": True}),
    "06_lstm_text_generation": (
        "char-LSTM on Shakespeare: {value:f2} bits/char held out (unigram {unigram_bpc:f2})", {}),
    "06_sentiment": (
        "VADER review snippets (after `dlcore data fetch vader`): word LSTM {acc_lstm:pct1}, "
        "bag-of-words {acc_bow:pct1}", {}),
    "06_spoken_digits": (
        "speech: a GRU on log-mel spectrograms recognizes digits spoken by unheard (espeak-ng) "
        "speakers, {accuracy:pct1} (order-blind baseline {baseline_accuracy:pct1})", {}),
    "06_vanishing_gradients": (
        "adding problem at T={T:d}: plain RNN stays at MSE {mse.RNN:f3} (predicting the mean: "
        "0.167), GRU {mse.GRU:f4}, LSTM {mse.LSTM:f4}", {}),
    "07_autoencoder_denoise": (
        "denoiser brings the noisy input's MSE down to {value:pct0} of it; 2-D codes: 5-NN "
        "accuracy {knn_accuracy_autoencoder_2d:pct0} vs PCA's {knn_accuracy_pca_2d:pct0}", {}),
    "07_anomaly_detection": (
        "anomaly ROC-AUC {digits.auc:f3} (digits) and {series.auc:f3} (series)", {}),
    "07_vae": (
        "VAE: held-out −ELBO {value:f1} nats/image (untrained {neg_elbo_start:f1})", {}),
    "08_gan_digits": (
        "DCGAN on digits: {dcgan.classes_present:d} classes, classifier confidence "
        "{dcgan.confidence:f3}, Fréchet distance {dcgan.frechet/dcgan_untrained.frechet:pct0} "
        "of an untrained generator's", {}),
    "08_dcgan_fashion": (
        "conditional DCGAN (AC-GAN with a projection discriminator, {epochs:d} epochs, "
        "{train_cpu_seconds:f0} s of CPU time) on the Fashion-MNIST subset, sampled with noise "
        "truncated to {psi:f1}, no samples selected: the chapter-4 CNN gives the requested "
        "class {value:f2} on average and {classes_at_bar:d} of 10 classes at least 0.8 (weakest "
        "{min_class_confidence:f2}), where it gives held-out real images {real_confidence:f2} "
        "({judge_classes_at_bar:d} of 10 classes at 0.8); Fréchet distance {frechet_ratio:pct0} "
        "of an untrained generator's; figure `dcgan_fashion_samples.png`", {}),
    "09_semantic_search": ("MiniLM sentence search: top-1 retrieval {value:pct0}", {}),
    "09_transfer_text": (
        "MiniLM frozen / fine-tuned with {n_transfer:n} labels: {acc_frozen:f3} / "
        "{acc_tuned:f3}, vs bag-of-words {acc_bow:f3}, LSTM {acc_lstm:f3} and Transformer "
        "{acc_transformer:f3} trained on {n_scratch:n}", {}),
    "09_transfer_vision": (
        "EfficientNet-Lite0 on a few Fashion-MNIST images: {a_transfer:f2} vs {a_scratch:f2} "
        "from scratch; a small CNN pretrained on Fashion-MNIST, fine-tuned on 10 digits per "
        "class: {b_margin:pts} over scratch", {}),
    "10_translation": (
        "encoder–decoder: {value:pct1} exact match, greedy ({beam_exact_match:pct1} beam)", {}),
    "10_char_gpt": (
        "decoder-only char model with a KV cache: {value:f2} bits/char (untrained "
        "{untrained_bpc:f2})", {"cache_matches_uncached": True}),
    "10_transformer_classifier": (
        "Transformer encoder on VADER snippets: {vader.transformer:pct1} (LSTM "
        "{vader.lstm:pct1})", {}),
    "10_chat": (
        "SmolLM2-135M-Instruct chat from its 4-bit GGUF file (it completes \"The capital of "
        "France is\" with Paris)", {"paris": True}),
    "11_deploy": (
        "a CNN trained on digits, exported to ONNX and served from the file: {value:pct1} test "
        "accuracy; one-image requests take {eager_us:f0} µs eager, {plan_us:f0} µs as a plan, "
        "{ort_us:f0} µs in ONNX Runtime (one thread)", {"predictions_agree": True}),
    "12_data_parallel": (
        "the chapter-4 CNN through DistributedDataParallel, SyncBatchNorm and a "
        "DistributedSampler: {value:pct1} test accuracy on {world_size:d} rank in the tour "
        "(`mpirun -np 2` runs it on two; `docs/scaling.md`)", {"world_size": 1}),
}
