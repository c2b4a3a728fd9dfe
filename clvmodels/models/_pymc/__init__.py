"""The one subpackage that talks to pymc-marketing (and through it to PyMC, ArviZ and nutpie).

Everything clvmodels needs from that stack goes through the modules here, so an upgrade of
pymc-marketing touches this subpackage only. What we take from pymc-marketing:

* the likelihoods: :class:`pymc_marketing.clv.distributions.BetaGeoNBD` (BG/NBD, Fader, Hardie
  & Lee 2005, eq. 6) for the transaction model, and the Gamma-Gamma model graph of
  :class:`pymc_marketing.clv.GammaGammaModel` (Fader & Hardie 2013, note 025, eq. 1a);
* the default priors of ``BetaGeoModel``, ``ModifiedBetaGeoModel``, ``ParetoNBDModel`` and
  ``GammaGammaModel`` (:data:`.priors.DEFAULT_PRIORS` holds them as plain data; a test asserts
  they equal pymc-marketing's ``default_model_config``);
* the optimiser (:func:`.optimize.find_map`: ``pymc.find_MAP``'s L-BFGS-B on PyMC's log
  posterior, with one compiled function where find_MAP compiles three), the Laplace
  approximation (``pymc_extras``) and the NUTS samplers (nutpie when installed, else PyMC's own).

pymc-marketing fits one row per customer and has no weights. BG/NBD's likelihood depends on a
customer only through (x, t_x, T), so the adapter builds the same model on the distinct tuples
and weights each tuple's log-likelihood by its count: the posterior is the same, the graph is
several times smaller (docs/definitions.md: 1M customers -> ~171k tuples in weeks).

For speed, MAP and NUTS fits of BG/NBD evaluate that weighted likelihood and its gradient in
one compiled pass (:func:`.likelihood.weighted_bgnbd_loglike_op`,
:mod:`clvmodels.models.kernels.bgnbd_likelihood`), and
Gamma-Gamma's likelihood is pymc-marketing's expression grouped by frequency. Both keep
pymc-marketing's priors and parameterisation, and ``likelihood="pymc-marketing"`` selects
pymc-marketing's own graphs, which the tests use as the oracle.

Start-up: importing ``pymc_marketing`` runs its package ``__init__``, which loads the MMM
modules and pymc-extras (~3 s). A MAP or NUTS fit needs only PyMC and the likelihoods of
``pymc_marketing/clv/distributions.py``, a module that imports nothing of pymc-marketing, so
:func:`.distributions.clv_distributions` loads that file alone, under its own name (a later
full import of pymc-marketing reuses it), and the priors come from
:data:`.priors.DEFAULT_PRIORS`. Laplace fits and the ``likelihood="pymc-marketing"`` graphs
import pymc-marketing and pymc-extras as usual.

Its modules, each importing only those listed before it:

* :mod:`.versions` -- the versions of the modelling stack, recorded with saved models;
* :mod:`.quiet` -- silencing PyMC's logging during a fit;
* :mod:`.distributions` -- pymc-marketing's likelihoods, loaded by path, and the reference
  BG/NBD log-likelihood;
* :mod:`.priors` -- each model's parameters and pymc-marketing's default priors;
* :mod:`.likelihood` -- the compiled weighted BG/NBD log-likelihood as a PyTensor Op;
* :mod:`.graphs` -- the PyMC models (transaction models on weighted tuples, Gamma-Gamma);
* :mod:`.summary` -- NUTS convergence: r-hat, ESS, divergences;
* :mod:`.optimize` -- the posterior mode (``find_MAP``'s optimisation, compiled once);
* :mod:`.fit` -- MAP, Laplace and NUTS fits (:class:`~.fit.FitResult`).
* :mod:`.cnbd` -- BG/CNBD-k and MBG/CNBD-k (Platzer & Reutterer 2016): our likelihood as a
  PyTensor graph on weighted tuples, pymc-marketing's BG/NBD and MBG/NBD priors, the MAP search
  over k on one compiled graph, fitted through :mod:`.fit`;
* :mod:`.sbg` -- the shifted-beta-geometric model on weighted (group, value, censored) cells,
  built on pymc-marketing's ``ShiftedBetaGeometric``, fitted through :mod:`.fit`.
"""
