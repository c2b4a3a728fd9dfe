"""The weighted BG/NBD log-likelihood of the compiled kernel, as a PyTensor Op."""

from __future__ import annotations

import functools
import hashlib
import inspect
from typing import Any

import numpy as np


@functools.cache
def weighted_bgnbd_loglike_op() -> Any:
    """The PyTensor Op of the weighted BG/NBD log-likelihood (built on first use).

    ``op()(r, alpha, a, b, *BGNBDTuples.arrays())`` returns the weighted sum of FHL05 eq. (6)
    over the tuples and its gradient in (r, alpha, a, b), both from one pass of
    :func:`clvmodels.models.kernels.bgnbd_likelihood.loglike_and_grad`. The pullback reuses that
    gradient,
    so a sampler's log-density-and-gradient call evaluates the kernel once. The Op runs in
    Python mode (``find_MAP``) and is compiled into nutpie's numba graph. It has no second
    derivatives: Laplace fits use pymc-marketing's graph.
    """
    import pytensor.tensor as pt
    from pytensor.gradient import disconnected_type
    from pytensor.graph.basic import Apply
    from pytensor.graph.op import Op
    from pytensor.link.numba.dispatch.basic import (
        numba_njit,
        register_funcify_default_op_cache_key,
    )

    from clvmodels.models.kernels import bgnbd_likelihood
    from clvmodels.models.kernels.bgnbd_likelihood import loglike_and_grad

    class WeightedBGNBDLogLike(Op):
        __props__ = ()

        def make_node(self, *inputs: Any) -> Any:
            # inputs: r, alpha, a, b, then the arrays of BGNBDTuples.arrays()
            params = [pt.as_tensor_variable(v).astype("float64") for v in inputs[:4]]
            arrays = [pt.as_tensor_variable(d) for d in inputs[4:]]
            return Apply(self, [*params, *arrays], [pt.dscalar(), pt.dvector()])

        def perform(self, node: Any, inputs: Any, outputs: Any) -> None:
            r, alpha, a, b = (float(v) for v in inputs[:4])
            loglike, grad = loglike_and_grad(r, alpha, a, b, *inputs[4:])
            outputs[0][0] = np.asarray(loglike, dtype="float64")
            outputs[1][0] = grad

        def pullback(self, inputs: Any, outputs: Any, cotangents: Any) -> list[Any]:
            from pytensor.gradient import DisconnectedType

            if not isinstance(cotangents[1].type, DisconnectedType):
                raise NotImplementedError("the gradient output is not differentiable")
            grad = outputs[1]
            return [cotangents[0] * grad[k] for k in range(4)] + [
                disconnected_type() for _ in inputs[4:]
            ]

        def connection_pattern(self, node: Any) -> list[list[bool]]:
            return [[True, False]] * 4 + [[False, False]] * (len(node.inputs) - 4)

    # numba's on-disk cache of the compiled graph is keyed on this Op's name and props; the
    # hash of the kernel's source module keeps a changed kernel from reusing a stale entry.
    source = inspect.getsource(bgnbd_likelihood).encode()
    kernel_version = int(hashlib.sha256(source).hexdigest()[:12], 16)

    @register_funcify_default_op_cache_key(WeightedBGNBDLogLike)
    def _numba_funcify(op: Any, node: Any = None, **kwargs: Any) -> tuple[Any, int]:
        kernel = loglike_and_grad

        @numba_njit
        def loglike(r, alpha, a, b, xv, xi, tv, ti, rv, ri, w, xw):  # type: ignore[no-untyped-def]
            total, grad = kernel(
                r.item(), alpha.item(), a.item(), b.item(), xv, xi, tv, ti, rv, ri, w, xw
            )
            out = np.empty((), dtype=np.float64)
            out[()] = total
            return out, grad

        return loglike, kernel_version

    return WeightedBGNBDLogLike
