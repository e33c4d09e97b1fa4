"""Compiled vector work of the trust-region solver's Steihaug-Toint CG (solvers/newton.py).

One CG step of :func:`fastlogit.solvers.newton._steihaug` needs, besides its Hessian-vector
product, about twenty vector operations over the parameters (dots, M-weighted dots, two axpys,
the preconditioned residual, the new direction).  Written as NumPy calls, each reads its
operands from memory again and costs a Python call, which on a small problem (thousands of
parameters) is a visible share of the fit (benchmarks/results/small_fits.md).  Here they
are three loops per step, each reading its arrays once:

``curvature``
    ``d . Hd`` and the M-weighted ``s.Ms``, ``s.Md``, ``d.Md`` the boundary test needs.
``advance``
    ``s += alpha d``, ``r -= alpha Hd``, ``z = M^-1 r``, returning ``r . r``, ``r . z``,
    ``g . s`` and ``s . r`` (the stopping tests and Nash & Sofer's quadratic-decrease rule).
``new_direction``
    ``d = z + beta d``.

The sums are compiled with reassociation (vectorised partial sums, as NumPy's ``dot`` keeps
its own): they are not the bits NumPy's ``dot`` returns, so the solver's iterates agree with
the NumPy form to rounding, not bitwise.  An empty ``mdiag`` / ``minv`` (shape (0,)) means M = I.
"""
from numba import njit

__all__ = ["curvature", "advance", "new_direction"]

_JIT = dict(cache=True, nogil=True)
#: Reassociation so that the sums vectorise (no FMA contraction: the axpys round as NumPy's).
_SUM = dict(cache=True, nogil=True, fastmath={"reassoc"})


@njit(**_SUM)
def curvature(d, hd, s, mdiag):
    """(d . hd, s.Ms, s.Md, d.Md) for M = diag(mdiag) (identity when mdiag is empty)."""
    dhd = sms = smd = dmd = 0.0
    if mdiag.shape[0] == 0:
        for i in range(d.shape[0]):
            di = d[i]
            si = s[i]
            dhd += di * hd[i]
            sms += si * si
            smd += si * di
            dmd += di * di
    else:
        for i in range(d.shape[0]):
            di = d[i]
            si = s[i]
            m = mdiag[i]
            dhd += di * hd[i]
            sms += (si * m) * si
            smd += (si * m) * di
            dmd += (di * m) * di
    return dhd, sms, smd, dmd


@njit(**_SUM)
def advance(s, r, z, d, hd, g, minv, alpha):
    """s += alpha d, r -= alpha hd, z = minv * r (z = r when minv is empty), in place;
    returns (r . r, r . z, g . s, s . r) of the updated vectors."""
    rr = rz = gs = sr = 0.0
    if minv.shape[0] == 0:
        for i in range(s.shape[0]):
            si = s[i] + alpha * d[i]
            ri = r[i] - alpha * hd[i]
            s[i] = si
            r[i] = ri
            z[i] = ri
            rr += ri * ri
            gs += g[i] * si
            sr += si * ri
        return rr, rr, gs, sr
    for i in range(s.shape[0]):
        si = s[i] + alpha * d[i]
        ri = r[i] - alpha * hd[i]
        zi = minv[i] * ri
        s[i] = si
        r[i] = ri
        z[i] = zi
        rr += ri * ri
        rz += ri * zi
        gs += g[i] * si
        sr += si * ri
    return rr, rz, gs, sr


@njit(**_JIT)
def new_direction(d, z, beta):
    """d = z + beta d, in place."""
    for i in range(d.shape[0]):
        d[i] = z[i] + beta * d[i]
