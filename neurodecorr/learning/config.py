"""The settings of one training run, validated on construction, written into every result and
checkpoint."""

from __future__ import annotations

import numbers
from collections.abc import Iterable
from dataclasses import asdict, fields

from neurodecorr.core.checked import Checked, setting
from neurodecorr.core.rules import RULES, DecorrelationConfig
from neurodecorr.data import LOADERS
from neurodecorr.errors import NeurodecorrError

ALGORITHMS = ("bp", "fa", "signfa", "dfa", "np", "anp")
DECORRELATIONS = ("none", *RULES)


def parse_hidden(text: str) -> tuple[int, ...]:
    """Parse ``"4x256"`` (depth × width), ``"256,128"`` (widths) or ``"0"`` (no hidden layer)."""
    text = text.strip().lower()
    if text in ("", "0", "none"):
        return ()
    try:
        if "x" in text:
            depth, width = (int(part) for part in text.split("x"))
            if depth < 1:
                raise NeurodecorrError(f"hidden: depth must be at least 1 in '{text}' (use 0 "
                                       "for no hidden layer)")
            sizes = (width,) * depth
        else:
            sizes = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise NeurodecorrError(f"hidden: cannot parse '{text}'; use DEPTHxWIDTH (e.g. 4x256) "
                               f"or comma-separated widths (e.g. 256,128)") from None
    if any(s <= 0 for s in sizes):
        raise NeurodecorrError(f"hidden: layer widths must be positive, got '{text}'")
    return sizes


class TrainConfig(Checked):
    """Everything that determines a training run (with the data, the seed fixes every number).

    Attributes
    ----------
    dataset : str
        Name in :data:`neurodecorr.data.LOADERS`.
    algorithm : str
        ``bp``, ``fa``, ``signfa``, ``dfa``, ``np`` or ``anp`` (:mod:`neurodecorr.learning.rules`).
    decorrelation : str
        ``none`` or a decorrelation rule (``ahmad``, ``copi``, ``dbp``) applied to the input of
        every layer, the network's input included.
    hidden : tuple of int
        Widths of the hidden layers.
    epochs, batch_size : int
    lr : float
        Adam learning rate of the forward weights and biases.
    decor_lr : float
        η of every decorrelator.
    decor_batch_fraction : float
        Fraction of each batch used to estimate ``⟨x̄x̄ᵀ⟩``.
    decor_centre : bool
        Centre the decorrelators' inputs with a running mean.
    decor_kappa : float
        κ of the ``dbp`` rule.
    sigma : float
        Standard deviation of the node-perturbation noise on every pre-activation (``np``,
        ``anp``; ``anp``'s estimator does not use it).
    negative_slope : float
        Slope of the hidden layers' leaky ReLU below zero (1 makes the network linear).
    feedback_scale : float
        Multiplies the initial scale of the fixed feedback matrices of ``fa`` and ``dfa``.
    fa_through_decorrelation : bool
        ``fa``/``signfa``: pass the error back through ``Mᵀ`` (as backprop does) or skip it.
    seed : int
    """

    dataset: str = setting("mnist1d", one_of=tuple(LOADERS))
    algorithm: str = setting("bp", one_of=ALGORITHMS)
    decorrelation: str = setting("none", one_of=DECORRELATIONS)
    hidden: tuple[int, ...] = (256, 256)
    epochs: int = setting(20, within="[1, inf)")
    batch_size: int = setting(64, within="[1, inf)")
    lr: float = setting(1e-3, within="(0, inf)")
    decor_lr: float = 1e-3
    decor_batch_fraction: float = 1.0
    decor_centre: bool = False
    decor_kappa: float = 0.5
    sigma: float = setting(1e-3, within="(0, inf)")
    negative_slope: float = setting(0.01, within="[0, inf)")
    feedback_scale: float = setting(1.0, within="(0, inf)")
    fa_through_decorrelation: bool = True
    seed: int = setting(0, within="[0, inf)")

    def check(self) -> None:
        """Validate every field, however the config was made (CLI, JSON, ``replace``, code);
        the decorrelators' settings as :class:`DecorrelationConfig` checks them."""
        hidden = self.hidden
        if (isinstance(hidden, str) or not isinstance(hidden, Iterable)
                or not all(isinstance(h, numbers.Integral) and not isinstance(h, bool)
                           for h in hidden)):
            raise NeurodecorrError(f"hidden: expected a sequence of integers, got {hidden!r}")
        object.__setattr__(self, "hidden", tuple(int(h) for h in hidden))
        if any(h <= 0 for h in self.hidden):
            raise NeurodecorrError(f"hidden: widths must be positive, got {self.hidden}")
        super().check()
        try:
            self._decorrelator("ahmad")
        except NeurodecorrError as exc:
            field_name, _, problem = str(exc).partition(": ")
            ours = {"eta": "decor_lr", "kappa": "decor_kappa",
                    "batch_fraction": "decor_batch_fraction"}.get(field_name, field_name)
            raise NeurodecorrError(f"{ours} (the decorrelators' {field_name}): {problem}"
                                   ) from None

    def _decorrelator(self, rule: str) -> DecorrelationConfig:
        return DecorrelationConfig(rule=rule, eta=self.decor_lr, kappa=self.decor_kappa,
                                   batch_fraction=self.decor_batch_fraction,
                                   centre=self.decor_centre)

    def decorrelation_config(self) -> DecorrelationConfig | None:
        """The decorrelators' settings, or ``None`` without decorrelation."""
        if self.decorrelation == "none":
            return None
        return self._decorrelator(self.decorrelation)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["hidden"] = list(self.hidden)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise NeurodecorrError(f"config: unknown field(s) {', '.join(sorted(unknown))}")
        return cls(**{k: (tuple(v) if k == "hidden" else v) for k, v in d.items()})
