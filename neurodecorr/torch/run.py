"""The torch engine and the diagnostics inside a ``train`` run: a
:class:`~neurodecorr.learning.run.RunExtension` the command hands to ``run_training``."""

from __future__ import annotations

from dataclasses import replace

from neurodecorr.errors import NeurodecorrError
from neurodecorr.io import check_outputs
from neurodecorr.learning.checkpoint import resume_trainer
from neurodecorr.learning.run import TrainRun
from neurodecorr.torch.engine import TorchOptions, TorchTrainer


class TorchRun:
    """Train on the torch engine (``options``) and/or measure diagnostics after every epoch.

    Parameters
    ----------
    run : TrainRun
        The run it extends (checked for what the torch engine cannot do).
    options : TorchOptions, optional
        Train on the torch engine; ``None`` keeps the numpy engine.
    diagnostics : bool
        Per-layer diagnostics in every history row (both engines).
    diagnostics_plot : str, optional
        PNG of the diagnostics against epochs (implies ``diagnostics``).
    """

    def __init__(self, run: TrainRun, options: TorchOptions | None, diagnostics: bool = False,
                 diagnostics_plot: str | None = None) -> None:
        self.diagnostics = diagnostics or diagnostics_plot is not None
        self.options = (None if options is None
                        else replace(options, diagnostics=self.diagnostics))
        self.diagnostics_plot = diagnostics_plot
        if options is not None and run.chip is not None:
            raise NeurodecorrError("--engine torch: --device and --circuit need the numpy "
                                   "engine")
        if options is not None and options.conv and (run.checkpoint or run.save_network):
            raise NeurodecorrError("--conv: a convolutional network is not a Network; "
                                   "--checkpoint, --resume and --save-network need a dense one")
        if options is not None and options.forward_demean and (run.checkpoint
                                                                or run.save_network):
            raise NeurodecorrError("--decor-forward-demean: the forward demeaning's running "
                                   "mean is not saved in network files; --checkpoint, --resume "
                                   "and --save-network need a run without it")
        if self.diagnostics and run.chip is not None:
            raise NeurodecorrError("--diagnostics: not available on a chip (--device, --circuit)")
        if self.diagnostics and run.resume:
            raise NeurodecorrError("--diagnostics: measured from the first epoch; not with "
                                   "--resume")
        check_outputs({"--diagnostics-plot": diagnostics_plot})
        self._numpy_diagnostics = None

    def make_trainer(self, run: TrainRun, data):
        if self.options is not None:
            start = resume_trainer(run.checkpoint, run.config, data) if run.resume else None
            return TorchTrainer(run.config, data, self.options, start)
        if self.diagnostics:
            from neurodecorr.learning.trainer import Trainer
            from neurodecorr.torch.adapter import NumpyDiagnostics

            trainer = Trainer(run.config, data)
            self._numpy_diagnostics = NumpyDiagnostics(trainer)
            return trainer
        return None

    def after_epoch(self, trainer) -> None:
        if self._numpy_diagnostics is not None:
            self._numpy_diagnostics(trainer)

    def report(self, trainer) -> dict:
        if self.options is None:
            return {"engine": {"name": "numpy"}}
        return {"engine": {"name": "torch", **self.options.to_dict(),
                           "device_used": trainer.describe_device()}}

    def files(self, trainer, title: str) -> dict[str, bytes]:
        if self.diagnostics_plot is None:
            return {}
        from neurodecorr.learning.diagnostics_plot import diagnostics_figure_png

        return {self.diagnostics_plot: diagnostics_figure_png(trainer.history, title)}


def torch_extension(run: TrainRun, engine: str, *, torch_device: str, dtype: str,
                    conv: str | None, forward_demean: bool, diagnostics: bool,
                    diagnostics_plot: str | None) -> TorchRun:
    """The :class:`TorchRun` of a ``train`` run: the torch engine when ``engine == "torch"``
    (``conv`` parsed like ``--hidden``), and the diagnostics on either engine."""
    from neurodecorr.learning.config import parse_hidden

    options = (TorchOptions(device=torch_device, dtype=dtype, conv=parse_hidden(conv),
                            forward_demean=forward_demean)
               if engine == "torch" else None)
    return TorchRun(run, options, diagnostics, diagnostics_plot)
