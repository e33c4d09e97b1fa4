"""The parameter vector theta: how coefficients and intercepts are packed, once for everyone.

::

    binary       theta = [w (d,), b]                       n_params = d + fit_intercept
    multinomial  theta = (K, d + 1) flattened in C order   n_params = K (d + fit_intercept)
                 (row k = class k's coefficients, intercept last: scikit-learn's
                  ``coef_`` / ``intercept_``)

Without an intercept the trailing ``b`` entries are absent.  theta is float64 always.  The
*penalised coefficients* ``w`` are the entries of theta that are not intercepts, flattened
in theta's order (:meth:`Layout.coef`); every :class:`fastlogit.penalties.Penalty` acts on
that flat vector.
"""
import numpy as np

__all__ = ["Layout", "NonFiniteError"]


class NonFiniteError(FloatingPointError, ValueError):
    """A parameter vector holds NaN or inf: the fit diverged (or was handed one)."""


class Layout:
    """Packing of theta for ``n_features`` features, ``n_classes`` (1 = binary) and an
    optional intercept.  Immutable; cheap to build."""

    __slots__ = ("n_features", "n_classes", "fit_intercept", "n_params", "n_coef")

    def __init__(self, n_features, n_classes=1, fit_intercept=True):
        self.n_features = int(n_features)
        self.n_classes = int(n_classes)
        self.fit_intercept = bool(fit_intercept)
        self.n_params = self.n_classes * (self.n_features + self.fit_intercept)
        self.n_coef = self.n_classes * self.n_features

    def __eq__(self, other):
        return (isinstance(other, Layout) and self.n_features == other.n_features
                and self.n_classes == other.n_classes
                and self.fit_intercept == other.fit_intercept)

    def __hash__(self):
        return hash((self.n_features, self.n_classes, self.fit_intercept))

    def __repr__(self):
        return (f"Layout(n_features={self.n_features}, n_classes={self.n_classes}, "
                f"fit_intercept={self.fit_intercept})")

    @property
    def is_binary(self):
        return self.n_classes == 1

    def check(self, theta, name="theta"):
        """theta as a flat float64 array of n_params finite entries, else ValueError /
        :class:`NonFiniteError` naming the problem."""
        theta = np.asarray(theta, dtype=np.float64)
        if theta.shape != (self.n_params,):
            theta = theta.reshape(-1)
            if theta.shape != (self.n_params,):
                raise ValueError(f"{name} must have {self.n_params} entries, got {theta.size}")
        # one reduction pass; an overflowing sum of finite values falls to the exact test
        if not np.isfinite(theta.sum()) and not np.isfinite(theta).all():
            raise NonFiniteError(
                f"{name} holds NaN or inf: the iterates diverged. Scale the features (e.g. "
                f"StandardScaler / MaxAbsScaler) or lower C.")
        return theta

    def zeros(self):
        """The all-zero theta."""
        return np.zeros(self.n_params)

    def rows(self, theta):
        """theta as a (n_classes, n_features + fit_intercept) view."""
        return np.asarray(theta).reshape(self.n_classes, self.n_features + self.fit_intercept)

    def split(self, theta):
        """Views ``(w, b)``: binary (d,), float; multinomial (K, d), (K,)."""
        theta = np.asarray(theta, dtype=np.float64)
        d, fi = self.n_features, self.fit_intercept
        if self.n_classes == 1:
            return theta[:d], (float(theta[d]) if fi else 0.0)
        rows = self.rows(theta)
        return rows[:, :d], (rows[:, d] if fi else np.zeros(self.n_classes))

    def join(self, coef, intercept=None):
        """theta from coefficients (d,) / (K, d) and intercepts (scalar / (K,)), the inverse of
        :meth:`split`."""
        d, fi = self.n_features, self.fit_intercept
        rows = np.zeros((self.n_classes, d + fi))
        rows[:, :d] = np.reshape(coef, (self.n_classes, d))
        if fi and intercept is not None:
            rows[:, d] = np.reshape(intercept, self.n_classes)
        return rows.ravel()

    def penalized_mask(self):
        """Boolean (n_params,): True for coefficients, False for intercepts."""
        mask = np.ones((self.n_classes, self.n_features + self.fit_intercept), dtype=bool)
        if self.fit_intercept:
            mask[:, -1] = False
        return mask.ravel()

    def coef(self, theta):
        """The penalised coefficients as a flat (n_coef,) array: a view for binary or no
        intercept, a copy otherwise."""
        d = self.n_features
        if self.n_classes == 1:
            return theta[:d]
        if not self.fit_intercept:
            return theta
        return self.rows(theta)[:, :d].ravel()

    def add_coef(self, out, values):
        """``out[coefficient entries] += values`` in place (values flat (n_coef,))."""
        d = self.n_features
        if self.n_classes == 1 or not self.fit_intercept:
            out[:self.n_coef] += values
        else:
            self.rows(out)[:, :d] += np.reshape(values, (self.n_classes, d))
        return out
