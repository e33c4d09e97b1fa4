"""What every fastlogit estimator shares at construction time.

scikit-learn's rule for estimators: ``__init__`` stores each argument, unchanged, as an
attribute of the same name (``get_params`` / ``set_params`` / ``clone`` read them back) and
validates nothing; ``fit`` validates.  :func:`store_params` is that rule written once.
"""

__all__ = ["store_params"]


def store_params(estimator, params):
    """Set ``estimator.<name> = value`` for every constructor argument in ``params`` (the
    ``locals()`` of ``__init__``: ``self`` is skipped)."""
    for name, value in params.items():
        if name not in ("self", "__class__"):
            setattr(estimator, name, value)
