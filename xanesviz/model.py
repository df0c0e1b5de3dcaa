"""Training: recipes, the XANESNET MLP in Keras, fast training of an ensemble, and CV.

Only training needs this module: :func:`train` returns an :class:`~xanesviz.ensemble.Ensemble`,
the same class a saved bundle loads as, and prediction never imports this module. TensorFlow is
imported inside the functions that train; importing this module sets TensorFlow's thread
variables (see below), for training.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass, field, fields, replace

import numpy as np
from .splits import cv_splitter  # also imported from here by the benchmarks

from .ensemble import Ensemble
from .errors import RecipeError, XanesvizError
from .neighbours import MODES as NEIGHBOUR_MODES
from .network import StackedMLP, fold_batchnorm  # noqa: F401 (fold_batchnorm: its older home)
from .preprocessing import VarianceFilter, make_preprocessing, preprocessing_state  # noqa: F401
from .splits import cv_splitter  # also imported from here by the benchmarks


# -- recipes ----------------------------------------------------------------------------------
LOSSES = ("mse", "mae")  # per-point loss on the (standardised) targets
LR_SCHEDULES = ("constant", "cosine")  # cosine: decays to 1 % of the learning rate over training
TRAINING_POLICIES = {"float32": "float32", "bfloat16": "mixed_bfloat16"}  # training_precision -> Keras dtype policy


def _is_real(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and bool(np.isfinite(value))


@dataclass(frozen=True)
class Recipe:
    """Everything that defines how a model is trained (the descriptor parameters included)."""

    name: str
    hidden: tuple = (512, 512)
    dropout: float = 0.25
    learning_rate: float = 1e-4
    lr_schedule: str = "constant"  # or "cosine": decays to 1 % of learning_rate over training
    batch_size: int = 32
    epochs: int = 512
    variance_drop: float = 0.25
    ensemble: int = 1
    standardise_targets: bool = False
    loss: str = "mse"  # "mse" (published) or "mae"
    descriptor: dict = field(default_factory=dict)  # WACSF keyword arguments; empty = published defaults
    # Share of an RBF kernel ridge regression (xanesviz.kernel) in the predicted mean; 0 = networks only.
    kernel_weight: float = 0.0
    kernel_gamma: float = 0.003
    kernel_alpha: float = 0.01
    # Width of the nearest-neighbour member's Gaussian weight (xanesviz.neighbours), in
    # standardised descriptor units; 0 = none. Its model weight is the model's share of the blend.
    # Its mode: "spectra" pulls toward the training spectra nearby, "residuals" adds the model's
    # own errors on the training complexes nearby.
    neighbour_width: float = 0.0
    neighbour_model_weight: float = 0.05
    neighbour_mode: str = "spectra"
    # Arithmetic of the training steps' matrix products: "float32", or "bfloat16" (Keras's
    # mixed_bfloat16 policy: bfloat16 products, float32 weights, batch norm statistics and loss).
    # bfloat16 is about 1.2x faster where the CPU has AVX512_BF16 or AMX, and much slower where it
    # has neither. Prediction is float32 either way.
    training_precision: str = "float32"

    def __post_init__(self):
        problems = self.problems()
        if problems:
            raise RecipeError(f"recipe {self.name!r}: {'; '.join(problems)}")

    def problems(self) -> list[str]:
        """What is wrong with this recipe's settings, one phrase each (empty when it can be trained)."""
        problems = [] if isinstance(self.name, str) and self.name else [f"name must be a text, not {self.name!r}"]
        for setting, value, known in (("loss", self.loss, LOSSES), ("lr_schedule", self.lr_schedule, LR_SCHEDULES),
                                      ("neighbour_mode", self.neighbour_mode, tuple(NEIGHBOUR_MODES)),
                                      ("training_precision", self.training_precision, TRAINING_POLICIES)):
            if not isinstance(value, str) or value not in known:
                problems.append(f"unknown {setting} {value!r} (known: {', '.join(known)})")
        for setting in ("epochs", "batch_size", "ensemble"):
            value = getattr(self, setting)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                problems.append(f"{setting} must be a whole number ≥ 1, not {value!r}")
        if not (isinstance(self.hidden, tuple) and self.hidden
                and all(isinstance(w, int) and not isinstance(w, bool) and w >= 1 for w in self.hidden)):
            problems.append(f"hidden must list layer widths ≥ 1, not {self.hidden!r}")
        if not isinstance(self.standardise_targets, bool):
            problems.append(f"standardise_targets must be true or false, not {self.standardise_targets!r}")
        for setting, allowed, wording in (("dropout", lambda v: 0 <= v < 1, "in [0, 1)"),
                                          ("variance_drop", lambda v: 0 <= v < 1, "in [0, 1)"),
                                          ("kernel_weight", lambda v: 0 <= v <= 1, "in [0, 1]"),
                                          ("neighbour_model_weight", lambda v: v > 0, "> 0"),
                                          ("neighbour_width", lambda v: v >= 0, "≥ 0"),
                                          ("learning_rate", lambda v: v > 0, "> 0"),
                                          ("kernel_gamma", lambda v: v > 0, "> 0"),
                                          ("kernel_alpha", lambda v: v > 0, "> 0")):
            value = getattr(self, setting)
            if not _is_real(value) or not allowed(value):
                problems.append(f"{setting} must be {wording}, not {value!r}")
        if not isinstance(self.descriptor, dict):
            problems.append(f"descriptor must be a mapping of WACSF settings, not {self.descriptor!r}")
        return problems

    def to_dict(self) -> dict:
        d = asdict(self)
        d["hidden"] = list(self.hidden)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "Recipe":
        """The recipe a model card records; a RecipeError names any unknown or bad setting."""
        if not isinstance(d, dict):
            raise RecipeError(f"a recipe must be a mapping of settings, not {type(d).__name__}")
        unknown = sorted(set(d) - {f.name for f in fields(cls)})
        if unknown:
            raise RecipeError(f"recipe {d.get('name')!r}: unknown setting(s) {', '.join(unknown)}")
        if "name" not in d:
            raise RecipeError("a recipe must have a name")
        d = dict(d)
        hidden = d.get("hidden", (512, 512))
        d["hidden"] = tuple(hidden) if isinstance(hidden, (list, tuple)) else hidden
        return cls(**d)

    def with_overrides(self, **changes) -> "Recipe":
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


RECIPES = {
    # The published recipe (J. Chem. Phys. 2022): one network, Adam 1e-4, batch 32, 512 epochs.
    "xanesnet-2022": Recipe(name="xanesnet-2022"),
    # This project's Fe K-edge model, chosen by cross-validation (see benchmarks/cv_accuracy.py):
    # element-aware G2 and G4 blocks (H, C, N, O and heavier-element channels among them), a
    # 5.5 Å cutoff, a third hidden layer, no dropout, MAE on standardised targets, batch 64 with
    # Adam 1e-3 and a cosine decay over 256 epochs, a 5-network ensemble, and a nearest-neighbour
    # member that adds the model's own errors on the training complexes nearby. (The kernel ridge
    # member, kernel_weight > 0, no longer helps with the element channels; see docs/fe-k-model.md.)
    "xanesviz-fe-k": Recipe(name="xanesviz-fe-k", hidden=(512, 512, 512), dropout=0.0, learning_rate=1e-3,
                            batch_size=64, lr_schedule="cosine", epochs=256, standardise_targets=True, loss="mae",
                            ensemble=5,
                            descriptor={"g2_weightings": ["Z", "unit", "inverse_Z", "H", "C", "N", "O", "beyond_row2"],
                                        "g4_weightings": ["Z", "unit", "row2"], "r_max": 5.5},
                            neighbour_width=1.4, neighbour_model_weight=0.05, neighbour_mode="residuals"),
}
# The same with a nearest-neighbour member that pulls toward the training spectra nearby, for
# batch prediction: as accurate in CV, but it pins the prediction to a training complex's
# spectrum near it, flattening the response to moving atoms there (see the README).
RECIPES["xanesviz-fe-k-neighbours"] = RECIPES["xanesviz-fe-k"].with_overrides(
    name="xanesviz-fe-k-neighbours", neighbour_mode="spectra")
# The same with sharper angular terms (zeta up to 32, 96 G4 functions a weighting): the shipped
# descriptor barely sees a donor bent about the metal (a 10° bend moves it nine times less per
# unit of FEFF10's spectral change than a bond stretch); with these terms, a model trained
# without fold 0 followed FEFF10's bend on held-out complexes (median r 0.37 against -0.12), and
# its 5-fold CV is as good (grouped: Δμ 3.98 % against 4.05 %; docs/feff.md). The shipped Fe
# model's recipe since 2026-12-02 (late).
RECIPES["xanesviz-fe-k-zeta32"] = RECIPES["xanesviz-fe-k"].with_overrides(
    name="xanesviz-fe-k-zeta32",
    descriptor={**RECIPES["xanesviz-fe-k"].descriptor, "zetas": [1.0, 2.0, 4.0, 8.0, 16.0, 32.0], "n_g4": 96})
# Sharper still (zeta up to 128, 128 G4 functions a weighting): a fold-0 model's change for a bend
# is then as large as FEFF10's but no closer in shape (r 0.35 against 0.37); not shipped (docs/feff.md).
RECIPES["xanesviz-fe-k-zeta128"] = RECIPES["xanesviz-fe-k"].with_overrides(
    name="xanesviz-fe-k-zeta128",
    descriptor={**RECIPES["xanesviz-fe-k"].descriptor, "zetas": [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0],
                "n_g4": 128})
#: The recipe of the shipped pretrained/fe-k: what `xanesviz train` and the CV benchmarks use by default.
SHIPPED_FE_RECIPE = "xanesviz-fe-k-zeta32"


def get_recipe(name: str) -> Recipe:
    try:
        return RECIPES[name]
    except KeyError:
        raise RecipeError(f"unknown recipe {name!r}; known: {', '.join(RECIPES)}") from None


# -- the network ------------------------------------------------------------------------------
def build_mlp(n_in: int, n_out: int, recipe: Recipe, seed: int, name: str = "mlp", dtype: str = "float32"):
    """N x 512 x 512 x 226: Dense -> BatchNorm -> ReLU -> Dropout on each hidden layer, He-uniform.

    ``dtype`` is the layers' Keras dtype policy (``"mixed_bfloat16"`` for bfloat16 training).
    """
    import keras

    layers = [keras.Input((n_in,), name="features")]
    for k, width in enumerate(recipe.hidden):
        layers += [
            keras.layers.Dense(width, kernel_initializer=keras.initializers.HeUniform(seed=seed + 97 * k),
                               name=f"dense_{k}", dtype=dtype),
            keras.layers.BatchNormalization(name=f"batchnorm_{k}", dtype=dtype),
            keras.layers.ReLU(name=f"relu_{k}", dtype=dtype),
            keras.layers.Dropout(recipe.dropout, seed=seed + 7919 * (k + 1), name=f"dropout_{k}", dtype=dtype),
        ]
    layers.append(keras.layers.Dense(n_out, kernel_initializer=keras.initializers.HeUniform(seed=seed + 31337),
                                     name="spectrum", dtype=dtype))
    return keras.Sequential(layers, name=name)


def as_float32(member, recipe: Recipe):
    """A copy of a trained network with float32 layers (its variables are float32 under any policy)."""
    if all(layer.dtype_policy.name == "float32" for layer in member.layers):
        return member
    copy = build_mlp(member.input_shape[-1], member.output_shape[-1], recipe, seed=0, name=member.name)
    copy.set_weights(member.get_weights())
    return copy


# -- training ---------------------------------------------------------------------------------
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow start-up chatter off the terminal
# A batch-32 step of these networks is hundreds of small ops: splitting each op over the cores
# costs more than it gains, running independent ops side by side (the ensemble's members, the
# layers' gradients) does not. Measured here (2 cores): 1.3x faster for one network, 1.4x for
# five. Read by TensorFlow when it starts, so it applies if xanesviz.model is imported first;
# the environment wins where it sets these.
os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")
os.environ.setdefault("TF_NUM_INTEROP_THREADS", str(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                                                    else os.cpu_count() or 1))


def _learning_rate(recipe: Recipe, steps_per_epoch: int):
    import keras

    if recipe.lr_schedule == "cosine":
        return keras.optimizers.schedules.CosineDecay(recipe.learning_rate, recipe.epochs * steps_per_epoch, alpha=0.01)
    return recipe.learning_rate  # "constant" (a Recipe checks its schedule when it is made)


class FusedAdam:
    """Keras's Adam update done by TensorFlow's fused kernel, one op per variable.

    The arithmetic is Keras 3's ``Adam`` (bias-corrected step size, ``epsilon`` added to
    sqrt(v)), with the same defaults and the learning rate taken at the same iteration; Keras's
    own ``apply_gradients`` spends a dozen small ops per variable, which dominate a batch-32
    step of these networks on a CPU.
    """

    def __init__(self, variables, learning_rate, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float = 1e-7):
        import tensorflow as tf

        # a Keras variable holds its tf.Variable in ``value``; a tf.Variable is its own handle's owner
        self.handles = [v.handle if isinstance(v, tf.Variable) else v.value.handle for v in variables]
        self.m = [tf.Variable(tf.zeros(v.shape, tf.float32), trainable=False) for v in variables]
        self.v = [tf.Variable(tf.zeros(v.shape, tf.float32), trainable=False) for v in variables]
        self.iterations = tf.Variable(0, dtype=tf.int64, trainable=False)
        self.learning_rate, self.beta_1, self.beta_2, self.epsilon = learning_rate, beta_1, beta_2, epsilon

    def apply(self, gradients) -> None:
        import tensorflow as tf

        lr = self.learning_rate(self.iterations) if callable(self.learning_rate) else self.learning_rate
        lr = tf.cast(lr, tf.float32)
        step = tf.cast(self.iterations + 1, tf.float32)
        beta_1_power, beta_2_power = tf.pow(self.beta_1, step), tf.pow(self.beta_2, step)
        for handle, m, v, g in zip(self.handles, self.m, self.v, gradients):
            tf.raw_ops.ResourceApplyAdam(var=handle, m=m.handle, v=v.handle, beta1_power=beta_1_power,
                                         beta2_power=beta_2_power, lr=lr, beta1=self.beta_1, beta2=self.beta_2,
                                         epsilon=self.epsilon, grad=g)
        self.iterations.assign_add(1)


def train(X: np.ndarray, y: np.ndarray, recipe: Recipe, seed: int = 0, progress: bool = False,
          n_members: int | None = None) -> Ensemble:
    """Train ``n_members`` (default ``recipe.ensemble``) networks side by side on (X, y).

    Each member has its own initialisation, dropout masks and shuffling. A whole epoch runs
    as one TensorFlow graph function (a loop over mini-batches), which removes the
    per-step Python overhead of ``model.fit`` without changing the mathematics: Adam, batch
    size, dropout and batch norm are those of the recipe.
    """
    import keras
    import tensorflow as tf

    n_members = n_members or recipe.ensemble
    keras.utils.set_random_seed(seed)
    start = time.perf_counter()
    pipeline = make_preprocessing(recipe.variance_drop).fit(X)
    Z = pipeline.transform(X).astype(np.float32)
    y = np.asarray(y, np.float64)
    y_mean = y.mean(axis=0) if recipe.standardise_targets else np.zeros(y.shape[1])
    y_scale = y.std(axis=0) + 1e-8 if recipe.standardise_targets else np.ones(y.shape[1])
    Y = ((y - y_mean) / y_scale).astype(np.float32)

    policy = TRAINING_POLICIES[recipe.training_precision]
    networks = [build_mlp(Z.shape[1], Y.shape[1], recipe, seed=seed * 1000 + 101 * m, name=f"member_{m}", dtype=policy)
                for m in range(n_members)]
    variables = [v for m in networks for v in m.trainable_variables]
    batch = min(recipe.batch_size, len(Z))  # fewer samples than a batch: one batch of them all
    steps = max(len(Z) // batch, 1)
    optimizer = FusedAdam(variables, _learning_rate(recipe, steps))
    Zt, Yt = tf.constant(Z), tf.constant(Y)

    def step_loss(index):
        total = 0.0
        for m, network in enumerate(networks):
            pred = tf.cast(network(tf.gather(Zt, index[m]), training=True), tf.float32)  # bfloat16 under mixed_bfloat16
            error = pred - tf.gather(Yt, index[m])
            total += tf.reduce_mean(tf.abs(error) if recipe.loss == "mae" else tf.square(error))
        return total

    # Two steps per loop iteration, one after the other (a step's reads follow the previous
    # step's Adam updates): less loop overhead, and one layer's update can overlap the next
    # step's work on another layer. The epoch's batches come as a (steps, members, batch)
    # array, so each step's indices have a static shape and the gradient needs no run-time
    # shape arithmetic. Together about 1.1x faster than a step per iteration on sliced indices.
    @tf.function(input_signature=[tf.TensorSpec((steps, n_members, batch), tf.int32)])
    def run_epoch(order):  # XLA (jit_compile) was many times slower on CPU here
        def step(i, total):
            with tf.GradientTape() as tape:
                loss = step_loss(order[i])
            optimizer.apply(tape.gradient(loss, variables))
            return i + 1, total + loss

        i, total = tf.while_loop(lambda i, _: i < steps - 1, lambda i, total: step(*step(i, total)),
                                 (tf.constant(0), tf.constant(0.0)))
        if steps % 2:  # the last step of an odd count
            _, total = step(i, total)
        return total / (steps * n_members)

    rng = np.random.default_rng(seed)
    history = []
    epochs = range(recipe.epochs)
    if progress:
        from tqdm.auto import tqdm

        epochs = tqdm(epochs, desc=f"training {n_members} network(s)", unit="epoch", leave=False)
    for _ in epochs:
        order = np.stack([rng.permutation(len(Z))[: steps * batch] for _ in range(n_members)]).astype(np.int32)
        order = order.reshape(n_members, steps, batch).transpose(1, 0, 2)  # member m, step i: order[m, i*batch:(i+1)*batch]
        history.append(float(run_epoch(tf.constant(order))))
        if progress:
            epochs.set_postfix(loss=f"{history[-1]:.4g}")
    if not np.isfinite(history[-1]):
        raise RuntimeError("training diverged (non-finite loss)")
    networks = [as_float32(network, recipe) for network in networks]  # saved and folded as float32 networks
    kernel = None
    if recipe.kernel_weight > 0:
        from .kernel import KernelMember

        kernel = KernelMember.fit(Z, Y, recipe.kernel_gamma, recipe.kernel_alpha)
    state = preprocessing_state(pipeline)
    ensemble = Ensemble(state["support"], state["mean"], state["scale"], y_mean, y_scale,
                        StackedMLP.from_keras(networks), kernel, recipe.kernel_weight, None, Z, recipe.to_dict(),
                        keras_networks=networks, history=history)
    if recipe.neighbour_width > 0:
        from .neighbours import NeighbourMember

        # The values as a bundle stores them (float32), so both predict alike.
        values = y if recipe.neighbour_mode == "spectra" else y - ensemble.predict_mean(X, neighbours=False)
        ensemble.neighbours = NeighbourMember(Z if kernel is None else kernel.inputs,  # shared: distances computed once
                                              values.astype(np.float32), recipe.neighbour_width,
                                              recipe.neighbour_model_weight, recipe.neighbour_mode)
    ensemble.train_seconds = time.perf_counter() - start
    return ensemble


def fine_tune(network: StackedMLP, Z: np.ndarray, T: np.ndarray, learning_rate: float, epochs: int,
              seed: int = 0, batch: int = 32, pairs: np.ndarray | None = None,
              pair_weight: float = 0.0, sample_weights: np.ndarray | None = None) -> tuple[StackedMLP, list[float]]:
    """Train trained networks further on new data: every layer of every network, from its
    current weights, on standardised inputs ``Z`` (n, d) and targets ``T`` (n, n_out) in the
    networks' own output units. Mean squared error, Adam (``FusedAdam``) at a constant
    ``learning_rate``, mini-batches of ``batch``, the same shuffle for every network; no batch
    norm or dropout (the networks' batch norm is folded into their weights). Returns the new
    networks and the mean loss of each epoch.

    ``pairs`` (n_pairs, 2) rows of Z (a structure, a displaced copy of it) with ``pair_weight``
    λ > 0 add to each step's loss λ times the squared error of the networks' *difference*
    between the two against the targets' difference, for as many pairs as a step has samples
    (drawn at random), the term scaled so that the targets' differences weigh as much per value
    as the targets themselves: the networks learn how the spectrum changes when a structure
    moves, not only the spectra.

    ``sample_weights`` (n,), positive: each sample's squared error weighs that much (relative to the
    mean weight), and each pair's its displaced structure's weight: a few samples of the kind that
    matters most (real complexes among derived ones) count as several."""
    import tensorflow as tf

    if epochs < 1 or not learning_rate > 0:
        raise XanesvizError(f"fine-tuning needs at least one epoch and a positive learning rate, "
                            f"got {epochs}, {learning_rate}")
    Z, T = np.asarray(Z, np.float32), np.asarray(T, np.float32)
    w = np.ones(len(Z)) if sample_weights is None else np.asarray(sample_weights, float)
    if w.shape != (len(Z),) or not np.all(w > 0):
        raise XanesvizError(f"fine-tuning needs one positive weight per sample ({len(Z)}), got shape {w.shape}")
    if len(Z) != len(T) or Z.shape[1] != network.n_inputs or T.shape[1] != network.weights[-1].shape[-1]:
        raise XanesvizError(f"fine-tuning data {Z.shape}, {T.shape} does not fit networks of "
                            f"{network.n_inputs} inputs and {network.weights[-1].shape[-1]} outputs")
    weights = [tf.Variable(w) for w in network.weights]
    biases = [tf.Variable(b) for b in network.biases]
    variables = weights + biases
    batch = min(batch, len(Z))
    steps = max(len(Z) // batch, 1)
    optimizer = FusedAdam(variables, learning_rate)
    Zt, Tt, Wt = tf.constant(Z), tf.constant(T), tf.constant((w / w.mean()).astype(np.float32))
    pairs = np.zeros((0, 2), np.int32) if pairs is None or not pair_weight else np.asarray(pairs, np.int32)
    if len(pairs) and (pairs.min() < 0 or pairs.max() >= len(Z)):
        raise XanesvizError(f"fine-tuning pairs refer to rows outside the {len(Z)} samples")
    with_pairs = len(pairs) > 0
    if with_pairs:
        dT = T[pairs[:, 1]] - T[pairs[:, 0]]
        # per value, the targets' spread over their differences' spread: both terms weigh alike at λ = 1
        spread = float(np.mean((T - T.mean(axis=0)) ** 2))
        pair_scale = float(pair_weight) * spread / max(float(np.mean(dT ** 2)), 1e-12)
        Pt = tf.constant(pairs)
        Wp = tf.constant((w[pairs[:, 1]] / w[pairs[:, 1]].mean()).astype(np.float32))  # a pair weighs as its variant

    def forward(z):
        h = z[None]  # (1, batch, d): every network at once, (networks, batch, width) after the first layer
        for k, (w, b) in enumerate(zip(weights, biases)):
            h = tf.matmul(h, w) + b[:, None, :]
            if k < len(weights) - 1:
                h = tf.nn.relu(h)
        return h

    @tf.function(input_signature=[tf.TensorSpec((steps, batch), tf.int32), tf.TensorSpec((steps, batch), tf.int32)])
    def run_epoch(order, pair_order):
        total = tf.constant(0.0)
        for i in tf.range(steps):
            with tf.GradientTape() as tape:
                error = tf.square(forward(tf.gather(Zt, order[i])) - tf.gather(Tt, order[i])[None])
                loss = tf.reduce_mean(error * tf.gather(Wt, order[i])[None, :, None])
                if with_pairs:
                    chosen = tf.gather(Pt, pair_order[i])
                    moved = forward(tf.gather(Zt, chosen[:, 1])) - forward(tf.gather(Zt, chosen[:, 0]))
                    wanted = tf.gather(Tt, chosen[:, 1]) - tf.gather(Tt, chosen[:, 0])
                    loss += pair_scale * tf.reduce_mean(tf.square(moved - wanted[None])
                                                        * tf.gather(Wp, pair_order[i])[None, :, None])
            optimizer.apply(tape.gradient(loss, variables))
            total += loss
        return total / steps

    rng = np.random.default_rng(seed)
    history = []
    for _ in range(epochs):
        order = rng.permutation(len(Z))[: steps * batch].reshape(steps, batch).astype(np.int32)
        pair_order = rng.integers(0, len(pairs), (steps, batch)) if with_pairs else np.zeros((steps, batch))
        history.append(float(run_epoch(tf.constant(order), tf.constant(pair_order.astype(np.int32)))))
    if not np.isfinite(history[-1]):
        raise RuntimeError("fine-tuning diverged (non-finite loss)")
    return StackedMLP([w.numpy() for w in weights], [b.numpy() for b in biases]), history


# -- cross-validation -------------------------------------------------------------------------
def cross_validate(X: np.ndarray, y: np.ndarray, energy: np.ndarray, recipe: Recipe, k: int = 5,
                   repeats: int = 1, seed: int = 0, progress: bool = False, n_members: int | None = None,
                   max_folds: int | None = None, groups=None) -> dict:
    """Repeated K-fold CV: out-of-fold predictions scored with :func:`xanesviz.evaluation.summarise`.

    With ``groups`` (one label per sample, e.g. :func:`xanesviz.splits.formula_groups` of the
    data's stems) every group falls in one fold; without, the split is plain shuffled K-fold.

    Returns the summary of each repeat (all folds pooled), their mean, and the per-fold summaries.
    ``max_folds`` stops after that many folds (a quick screen on the same splits): the summary
    then pools the spectra those folds predicted.
    """
    from .evaluation import summarise

    if max_folds is not None and max_folds < 1:
        raise XanesvizError(f"max_folds must be at least 1, got {max_folds}")
    if not 2 <= k <= len(X) or repeats < 1:
        raise XanesvizError(f"{k}-fold CV with {repeats} repeat(s) needs 2 ≤ K ≤ the number of samples "
                            f"({len(X)}) and at least one repeat")
    splitter = cv_splitter(k, repeats, seed, grouped=groups is not None)
    oof = np.zeros((repeats,) + y.shape)
    predicted = np.zeros((repeats, len(y)), bool)
    folds = []
    for fold, (train_idx, test_idx) in enumerate(splitter.split(X, groups=groups)):
        if max_folds is not None and fold >= max_folds:
            break
        model = train(X[train_idx], y[train_idx], recipe, seed=seed + fold, progress=progress, n_members=n_members)
        pred = model.predict_mean(X[test_idx])
        oof[fold // k][test_idx] = pred
        predicted[fold // k][test_idx] = True
        fold_summary = summarise(energy, pred, y[test_idx])
        fold_summary["train_seconds"] = model.train_seconds
        folds.append(fold_summary)
        if progress:
            print(f"fold {fold + 1}/{k * repeats}: Δμ median {fold_summary['delta_mu_median_pct']:.2f} %, "
                  f"{model.train_seconds:.0f} s", flush=True)
    mean, per_repeat = pooled_summary(oof, predicted, y, energy)
    return {"k": k, "repeats": repeats, "grouped": groups is not None, "recipe": recipe.to_dict(), "members": n_members or recipe.ensemble,
            "summary": mean, "per_repeat": per_repeat, "folds": folds, "oof_predictions": oof,
            "oof_predicted": predicted}


def pooled_summary(oof: np.ndarray, predicted: np.ndarray, y: np.ndarray, energy: np.ndarray) -> tuple[dict, list]:
    """Scores of out-of-fold predictions (repeats, n, n_energy), pooled over the folds of each
    repeat (``predicted`` marks the spectra predicted), and their mean over the repeats."""
    from .evaluation import summarise

    per_repeat = [summarise(energy, oof[r][predicted[r]], y[predicted[r]])
                  for r in range(len(oof)) if predicted[r].any()]
    return {key: float(np.mean([s[key] for s in per_repeat])) for key in per_repeat[0]}, per_repeat
