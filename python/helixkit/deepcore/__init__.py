"""DeepCore (CMS): a CNN that predicts track crossing points and parameters in the dense
cores of high-pT jets from the pixel charge of BPIX1-4 (issue 29). This package holds its
data side:

- :class:`PixelBarrel`, :class:`PixelLayer`, :func:`cms_phase1_layers`: a
  CMS-Phase-1-like barrel pixel detector (4 layers of flat 160 x 416 pixel modules) as
  replaceable plain data, with global ↔ module-local ↔ pixel coordinates;
- :func:`simulate_jets`, :func:`simulate_jet`, :func:`simulate_particles`,
  :class:`JetEvent`, :class:`JetSimConfig`: high-pT jets + pile-up as helices through the
  layers, rasterised into fired pixels (Landau-like charge, Lorentz drift, diffusion,
  noise, threshold, 8-bit ADC) with the truth of every layer crossing;
- :func:`jet_windows`, :class:`Windows` (and the constants ``WINDOW``, ``N_LAYERS``,
  ``N_OVERLAPS``, ``N_PARAMS``, ``PARAM_NAMES``, ``ADC_SCALE``): the DeepCore inputs (30 x 30
  pixel charge maps of the four layers around each BPIX2 seed cluster near the jet axis,
  jet pT and η) and targets (track-crossing-point maps and track parameters, 3 overlap
  slots);
- :func:`plot_window`: one window's four layers and its true crossing points, as a PNG;
- :func:`space_points`, :func:`jetcore_split`, :func:`triplet_seeds`: the standard path
  (clusters → space points → triplet seeding) and a JetCore-like cluster splitting;
- :func:`seed_baseline`, :func:`seed_deepcore`, :func:`scored_particles`: seeding
  efficiency, fakes and duplicates in the jet core, method by method (merged vs isolated
  clusters); :func:`crossing_seeds`: seeds (point, direction, pT, charge, perigee) from
  the network's crossings; :func:`evaluate_deepcore`: the three methods side by side on
  fresh jets with resolutions and plots (``helixkit evaluate deepcore``);
- :class:`DeepCoreModel`, :class:`DeepCoreConfig`, :func:`crossings`, :func:`export_onnx`:
  the CNN (registered as ``"deepcore"``), DeepCore 2.0's threshold rules, ONNX export;
- :func:`train_deepcore`, :class:`DeepCoreDataConfig`: training from a config on simulated
  jets (``helixkit train deepcore``).

Names are imported on first use, so ``import helixkit.deepcore`` does not import torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import attach

__getattr__, __dir__, __all__ = attach(__name__, {
    "detector": ["PixelBarrel", "PixelLayer", "cms_phase1_layers"],
    "simulation": ["JetEvent", "JetSimConfig", "make_jet_config", "simulate_jet",
                   "simulate_jets", "simulate_particles"],
    "windows": ["ADC_SCALE", "N_LAYERS", "N_OVERLAPS", "N_PARAMS", "PARAM_NAMES", "WINDOW",
                "Windows", "jet_windows"],
    "plots": ["plot_efficiencies", "plot_prediction", "plot_residuals", "plot_window"],
    "baseline": ["SpacePoints", "bpix_seeding_config", "jetcore_split", "space_points",
                 "triplet_seeds"],
    "evaluate": ["MethodResult", "crossing_seeds", "efficiency_counts", "efficiency_curve",
                 "match_crossings",
                 "merge_crossings", "scored_particles", "seed_baseline", "seed_deepcore"],
    "study": ["compare_methods", "evaluate_deepcore", "resolution_metrics"],
    "model": ["DeepCoreConfig", "DeepCoreModel", "RAISED_THRESHOLDS", "SEED_LAYER",
              "THRESHOLDS", "VBERTA_LAYERS", "check_inputs", "crossings", "export_onnx"],
    "train": ["DeepCoreDataConfig", "simulate_windows", "train_deepcore", "window_tensors"],
}, submodules=["baseline", "detector", "evaluate", "model", "plots", "simulation", "study",
               "train", "windows"])

if TYPE_CHECKING:
    from .baseline import (
        SpacePoints,
        bpix_seeding_config,
        jetcore_split,
        space_points,
        triplet_seeds,
    )
    from .detector import PixelBarrel, PixelLayer, cms_phase1_layers
    from .evaluate import (
        MethodResult,
        crossing_seeds,
        efficiency_counts,
        efficiency_curve,
        match_crossings,
        merge_crossings,
        scored_particles,
        seed_baseline,
        seed_deepcore,
    )
    from .model import (
        RAISED_THRESHOLDS,
        SEED_LAYER,
        THRESHOLDS,
        VBERTA_LAYERS,
        DeepCoreConfig,
        DeepCoreModel,
        check_inputs,
        crossings,
        export_onnx,
    )
    from .plots import plot_efficiencies, plot_prediction, plot_residuals, plot_window
    from .simulation import (
        JetEvent,
        JetSimConfig,
        make_jet_config,
        simulate_jet,
        simulate_jets,
        simulate_particles,
    )
    from .study import compare_methods, evaluate_deepcore, resolution_metrics
    from .train import DeepCoreDataConfig, simulate_windows, train_deepcore, window_tensors
    from .windows import (
        ADC_SCALE,
        N_LAYERS,
        N_OVERLAPS,
        N_PARAMS,
        PARAM_NAMES,
        WINDOW,
        Windows,
        jet_windows,
    )
