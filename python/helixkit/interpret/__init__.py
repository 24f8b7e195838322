"""Interpretability of trained models: what they compute (issue 30).

Mutual information between multi-dimensional variables on the native max-norm
k-d tree (KSG, Ross), entropies, single-neuron MI tables, layer proficiency and
random-variable calibration (``mi``); permutation importance of input features
and of neurons of any layer of a torch model (``importance``); activation maps and
symbolic fits (``activations``, ``symbolic``); the report on the shipped models (``run``,
``helixkit interpret``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import attach

__getattr__, __dir__, __all__ = attach(
    __name__,
    {
        "mi": [
            "MITable", "conditional_entropy", "entropy", "gaussian_mi", "layer_proficiency",
            "mutual_information", "neuron_mi_table", "random_calibration",
        ],
        "importance": ["Importance", "permutation_importance", "layer_activations"],
        "activations": ["BinnedMean", "binned_mean", "plot_activation_map", "plot_activation_vs"],
        "symbolic": ["Formula", "SymbolicFit", "evaluate_formula", "symbolic_fit"],
    },
)

if TYPE_CHECKING:
    from .activations import BinnedMean, binned_mean, plot_activation_map, plot_activation_vs
    from .importance import Importance, layer_activations, permutation_importance
    from .mi import (
        MITable,
        conditional_entropy,
        entropy,
        gaussian_mi,
        layer_proficiency,
        mutual_information,
        neuron_mi_table,
        random_calibration,
    )
    from .symbolic import Formula, SymbolicFit, evaluate_formula, symbolic_fit
