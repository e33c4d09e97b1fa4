"""One runner per library and solver, each mapped onto our objective.

Every runner minimises (or is mapped onto) the objective of docs/user_guide/objective.md

    F(w, b) = C * sum_i [log(1 + exp(z_i)) - y_i z_i] + 1/2 ||w||^2,   z_i = x_i . w + b

with an unpenalised intercept b.  A runner is used in two steps: ``prepare(X, y, C,
n_threads) -> ctx`` (untimed: conversions to the library's own format) and ``fit(ctx,
level) -> (w, b)`` (timed), ``level`` being a tolerance (or, for SGD, a number of epochs).
``theta(ctx, level)`` gives the same solution in fastlogit's parameter layout ``(w, b)``
as one array.  Parameter mappings:

- scikit-learn LogisticRegression (lbfgs, newton-cg, newton-cholesky, saga): C as is, L2,
  intercept unpenalised by construction.
- scikit-learn liblinear: penalises the intercept (as the weight of a constant feature of
  value ``intercept_scaling``); ``intercept_scaling=100`` makes that penalty b^2 / 2e4.
- SGDClassifier(loss="log_loss", penalty="l2"): minimises (1/n) sum l + alpha/2 ||w||^2, the
  intercept unpenalised, so ``alpha = 1 / (C n)`` gives F / (C n).
- LIBLINEAR (liblinear-official) ``-s 0 -B 1 -R -c C``: primal trust-region Newton on
  1/2 ||w||^2 + C sum log(1 + exp(-y w.x)), ``-R`` leaves the bias unregularised.
- glum GeneralizedLinearRegressor(family="binomial", alpha=1/(C n), l1_ratio=0): glum
  minimises the mean binomial log-likelihood + alpha/2 ||w||^2 = F / (C n).
- fastlogit: through its estimator (``via="estimator"``, what compare.py times) or through
  ``Objective`` + ``solve`` (``via="objective"``, what solver_race.py times).
"""
import numpy as np

#: Tolerance ladder (loose to tight) of the deterministic solvers.
TOLS = tuple(10.0 ** -k for k in range(1, 13))
#: Epoch ladder of SGDClassifier.
EPOCHS = (1, 2, 5, 10, 20, 50, 100, 200)
#: Dense d x d Hessian solvers are skipped above this many features (memory, O(d^3)).
MAX_DENSE_HESSIAN_D = 5000
#: Iteration limit high enough that the tolerance, not the limit, stops every solver.
BIG_ITER = 100_000


class Unavailable(Exception):
    """A solver that does not apply to this data set (shown as n/a with the reason)."""


class Runner:
    """One solver of one library: ``prepare`` (untimed) then ``fit(ctx, level) -> (w, b)``.

    Attributes
    ----------
    name : str
        Row name in the reports.
    levels : tuple
        The ladder of ``level`` values, loose to tight.
    level_name : str
        What a level is ("tol" or "epochs").
    """

    name = ""
    levels = TOLS
    level_name = "tol"

    def prepare(self, X, y, C, n_threads):
        """Untimed set-up; returns the context that :meth:`fit` takes.  Raises
        :class:`Unavailable` when the solver does not apply to this data."""
        return {"X": X, "y": y, "C": C, "n_threads": n_threads}

    def fit(self, ctx, level):
        """One fit at ``level``: ``(w, b)``, w float64 of shape (d,), b a float."""
        raise NotImplementedError

    def theta(self, ctx, level):
        """:meth:`fit` in fastlogit's layout: one float64 array ``(w, b)`` of shape (d + 1,)."""
        w, b = self.fit(ctx, level)
        return np.r_[np.asarray(w, dtype=np.float64).ravel(), b]


def _check_dense_hessian(solver, X):
    if solver == "newton-cholesky" and X.shape[1] > MAX_DENSE_HESSIAN_D:
        raise Unavailable(f"d = {X.shape[1]} too large for a dense Hessian")


class SklearnLogReg(Runner):
    """scikit-learn's ``LogisticRegression(solver=...)``; ``extra`` goes to its constructor."""

    def __init__(self, solver, max_iter=BIG_ITER, **extra):
        self.solver = solver
        self.max_iter = max_iter
        self.extra = extra
        self.name = f"sklearn {solver}"

    def prepare(self, X, y, C, n_threads):
        _check_dense_hessian(self.solver, X)
        return super().prepare(X, y, C, n_threads)

    def fit(self, ctx, level):
        from sklearn.linear_model import LogisticRegression

        est = LogisticRegression(C=ctx["C"], solver=self.solver, tol=level,
                                 max_iter=self.max_iter, random_state=0, **self.extra)
        est.fit(ctx["X"], ctx["y"])
        return est.coef_.ravel(), float(est.intercept_[0])


class SklearnSGD(Runner):
    name = "sklearn SGDClassifier"
    levels = EPOCHS
    level_name = "epochs"

    def fit(self, ctx, level):
        from sklearn.linear_model import SGDClassifier

        n = ctx["X"].shape[0]
        est = SGDClassifier(loss="log_loss", penalty="l2", alpha=1.0 / (ctx["C"] * n),
                            max_iter=int(level), tol=None, random_state=0)
        est.fit(ctx["X"], ctx["y"])
        return est.coef_.ravel(), float(est.intercept_[0])


def liblinear_problem(X, y):
    """LIBLINEAR's ``problem`` for labels y in {0, 1} (as -1 / +1) with a bias feature of 1."""
    from liblinear.liblinearutil import problem

    prob = problem(np.where(y > 0, 1.0, -1.0), X)
    prob.set_bias(1)
    return prob


def liblinear_solve(prob, C, eps):
    """LIBLINEAR ``-s 0 -B 1 -R`` (bias unpenalised) at stopping tolerance ``eps``:
    ``(w, b)`` for the +1 class, whichever label LIBLINEAR saw first."""
    from liblinear.liblinearutil import parameter, train

    model = train(prob, parameter(f"-s 0 -B 1 -R -c {C!r} -e {eps!r} -q"))
    w, b = model.get_decfun()
    sign = 1.0 if model.get_labels()[0] == 1 else -1.0
    return sign * np.asarray(w, dtype=np.float64), sign * float(b)


class Liblinear(Runner):
    """LIBLINEAR itself; its ``problem`` is built in :meth:`prepare`, outside the timing."""

    name = "LIBLINEAR -s 0"

    def __init__(self, levels=TOLS, name=None):
        self.levels = levels
        self.name = name or self.name

    def prepare(self, X, y, C, n_threads):
        return {"prob": liblinear_problem(X, y), "C": C}

    def fit(self, ctx, level):
        return liblinear_solve(ctx["prob"], ctx["C"], level)


class Glum(Runner):
    """glum's ``GeneralizedLinearRegressor``; its tabmat matrix is built in :meth:`prepare`."""

    def __init__(self, solver, label=None):
        self.solver = solver
        self.name = f"glum {label or solver}"

    def prepare(self, X, y, C, n_threads):
        import tabmat

        return {"X": tabmat.SparseMatrix(X.tocsc()), "y": y, "alpha": 1.0 / (C * X.shape[0])}

    def fit(self, ctx, level):
        from glum import GeneralizedLinearRegressor

        est = GeneralizedLinearRegressor(family="binomial", alpha=ctx["alpha"], l1_ratio=0.0,
                                         fit_intercept=True, solver=self.solver,
                                         gradient_tol=level, max_iter=10_000)
        est.fit(ctx["X"], ctx["y"])
        return np.asarray(est.coef_).ravel(), float(est.intercept_)


class Fastlogit(Runner):
    """fastlogit's solver ``solver`` (a name of ``fastlogit.solvers.SOLVERS`` or "auto").

    ``via="estimator"`` times ``LogisticRegression.fit`` (input validation included);
    ``via="objective"`` times ``Objective`` construction + ``solve`` from zeros.
    """

    def __init__(self, solver, via="estimator", max_iter=BIG_ITER):
        if via not in ("estimator", "objective"):
            raise ValueError(f"via must be 'estimator' or 'objective', got {via!r}")
        self.solver = solver
        self.via = via
        self.max_iter = max_iter
        self.name = f"fastlogit {solver}"

    def prepare(self, X, y, C, n_threads):
        from fastlogit.solvers import SOLVERS

        if self.solver != "auto" and self.solver not in SOLVERS:
            raise Unavailable(f"no {self.solver!r} solver among {sorted(SOLVERS)}")
        _check_dense_hessian(self.solver, X)
        return super().prepare(X, y, C, n_threads)

    def fit(self, ctx, level):
        if self.via == "objective":
            theta = self.theta(ctx, level)
            return theta[:-1], float(theta[-1])
        from fastlogit import LogisticRegression

        est = LogisticRegression(C=ctx["C"], solver=self.solver, tol=level,
                                 max_iter=self.max_iter, n_threads=ctx["n_threads"])
        est.fit(ctx["X"], ctx["y"])
        return np.asarray(est.coef_).ravel(), float(np.ravel(est.intercept_)[0])

    def theta(self, ctx, level):
        if self.via != "objective":
            return super().theta(ctx, level)
        from fastlogit.objective import Objective
        from fastlogit.solvers import solve

        ob = Objective(ctx["X"], ctx["y"], C=ctx["C"], n_threads=ctx["n_threads"])
        return solve(ob, self.solver, tol=level, max_iter=self.max_iter).theta


def all_runners():
    """Every row of compare.py, in table order (name -> Runner)."""
    runners = [
        Fastlogit("auto"), Fastlogit("newton-cg"), Fastlogit("newton-cholesky"),
        Fastlogit("trust-region"), Fastlogit("lbfgs"),
        SklearnLogReg("lbfgs"), SklearnLogReg("newton-cg"), SklearnLogReg("newton-cholesky"),
        SklearnLogReg("liblinear", intercept_scaling=100.0), SklearnLogReg("saga"),
        SklearnSGD(), Liblinear(), Glum("irls-cd"), Glum("irls-ls", "irls-ls (auto)"),
        Glum("lbfgs"),
    ]
    return {r.name: r for r in runners}


#: Rows compare.py runs by default (glum lbfgs is slow everywhere; ask for it with --solvers).
DEFAULT_EXCLUDE = ("glum lbfgs",)
