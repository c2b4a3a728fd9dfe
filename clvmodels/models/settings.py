"""The settings a model takes, as types: fitting method, priors, likelihood, model name.

A type checker then catches a misspelt setting; :class:`clvmodels.model.CLVModel` and the models
still check the values they are given at run time, with a message naming the choices.
"""

from __future__ import annotations

from typing import Literal, get_args

#: Maximum a posteriori, a Laplace approximation at the MAP, or NUTS.
Method = Literal["map", "laplace", "mcmc"]
#: pymc-marketing's default priors, or flat priors (the MAP is then the maximum likelihood).
Priors = Literal["default", "flat"]
#: Which BG/NBD log-likelihood the samplers see: the compiled one of
#: :mod:`clvmodels.models.kernels.bgnbd_likelihood` or pymc-marketing's ``BetaGeoNBD`` graph (the
#: oracle).
Likelihood = Literal["compiled", "pymc-marketing"]
#: The transaction models by the name the CLI and saved models use: BG/NBD, Pareto/NBD, MBG/NBD,
#: BG/CNBD-k, MBG/CNBD-k (:data:`clvmodels.model.MODELS` maps each to its class).
TransactionModelName = Literal["bgnbd", "pareto", "mbgnbd", "bgcnbd", "mbgcnbd"]
#: The names of :data:`TransactionModelName`, in the order the CLI lists them.
TRANSACTION_MODEL_NAMES: tuple[TransactionModelName, ...] = get_args(TransactionModelName)
