"""scikit-learn's callback framework (``sklearn.callback``, scikit-learn >= 1.9) on our solvers.

scikit-learn 1.9 lets a user attach callbacks to an estimator with
``est.set_callbacks(ProgressBar(), ScoringMonitor(...), ...)``; the estimator opens a root
task at the start of ``fit`` and one sub-task per solver iteration, calling each callback's
``on_fit_task_begin`` / ``on_fit_task_end`` hooks with the current coefficients (as a
ready-to-predict copy of the estimator), and stops when an ``on_fit_task_end`` hook returns
True.  :class:`IterationTasks` maps that protocol onto the per-iteration ``callback(theta)``
that every fastlogit solver already calls, so callbacks work with every solver (scikit-learn
itself wires them into its lbfgs solver only).

With an older scikit-learn the module still imports: :data:`CallbackSupport` is then a mixin
whose ``set_callbacks`` raises ImportError naming the version needed, and
:func:`with_callbacks` leaves ``fit`` unchanged.
"""
import numpy as np

try:  # scikit-learn >= 1.9
    from sklearn.callback import CallbackSupportMixin as CallbackSupport
    from sklearn.callback import with_callbacks
    HAVE_SKLEARN_CALLBACKS = True
except ImportError:  # pragma: no cover - exercised only with scikit-learn < 1.9
    HAVE_SKLEARN_CALLBACKS = False

    class CallbackSupport:
        """Stand-in for ``sklearn.callback.CallbackSupportMixin`` (scikit-learn < 1.9)."""

        def set_callbacks(self, *callbacks):
            """Unavailable: scikit-learn's callback framework needs scikit-learn >= 1.9."""
            raise ImportError("set_callbacks needs scikit-learn >= 1.9 (sklearn.callback); "
                              "fit(X, y, callback=f) works with any version")

    def with_callbacks(method):
        """Identity (no callback framework to manage)."""
        return method

__all__ = ["CallbackSupport", "with_callbacks", "IterationTasks", "chain",
           "HAVE_SKLEARN_CALLBACKS"]


class IterationTasks:
    """One scikit-learn callback sub-task per solver iteration, as a solver callback.

    Parameters
    ----------
    context : sklearn.callback.CallbackContext
        The estimator's root context for this fit (from ``_init_callback_context``, the
        method :class:`sklearn.callback.CallbackSupportMixin` provides for this purpose).
    estimator : estimator instance
        The estimator being fitted (passed to every hook).
    X, y : array-like
        The training data, passed to the hooks.
    metadata : dict or None
        Training metadata for the hooks (``{"sample_weight": ...}`` or None).
    attributes : callable
        ``attributes(theta) -> dict`` of the fitted attributes (``coef_``, ``intercept_``,
        ``classes_`` ...) that make a copy of the estimator predict as if the fit had
        stopped at ``theta``; called only when a hook asks for ``fitted_estimator``.
    theta0 : ndarray of shape (n_params,)
        The starting point: the first iteration's task begins there.

    Notes
    -----
    Calling the instance with ``theta`` (what a solver does after each iteration) ends the
    current iteration's task at ``theta``, begins the next one, and returns True when a
    hook asked to stop (the solvers then stop, unconverged).  The first call, when it
    passes the starting point (the solvers record iteration 0), ends nothing.  :meth:`close` ends the task
    that was begun after the last iteration, as an empty task, so that every begin hook has
    its end.
    """

    task_name = "iteration"

    def __init__(self, context, estimator, X, y, metadata, attributes, theta0):
        self._context = context
        self._estimator = estimator
        self._data = dict(X=X, y=y, metadata=metadata)
        self._attributes = attributes
        self._theta0 = np.array(theta0, dtype=np.float64)
        self._task = self._begin(theta0)

    def _begin(self, theta):
        task = self._context.subcontext(task_name=self.task_name)
        task.call_on_fit_task_begin(estimator=self._estimator, **self._data,
                                    reconstruction_attributes=self._lazy(theta))
        return task

    def _lazy(self, theta):
        theta = theta.copy()
        return lambda: self._attributes(theta)

    def __call__(self, theta):
        if self._theta0 is not None:
            # the solvers record their starting point (iteration 0) through the same
            # callback: that is the first task's beginning, not an iteration's end
            first, self._theta0 = self._theta0, None
            if np.array_equal(theta, first):
                return False
        stop = self._task.call_on_fit_task_end(estimator=self._estimator, **self._data,
                                               reconstruction_attributes=self._lazy(theta))
        self._task = self._begin(theta)
        return bool(stop)

    def close(self):
        """End the task begun after the last iteration (it ran no iteration)."""
        self._task.call_on_fit_task_end(estimator=self._estimator)


def chain(*callbacks):
    """One solver callback calling each non-None callback in turn (all of them, every
    iteration); it returns True (stop) when any of them did.  None when there is none."""
    callbacks = [c for c in callbacks if c is not None]
    if not callbacks:
        return None
    if len(callbacks) == 1:
        return callbacks[0]

    def called_in_turn(theta):
        stop = False
        for c in callbacks:
            stop |= bool(c(theta))
        return stop
    return called_in_turn
