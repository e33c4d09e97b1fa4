"""Data input: svmlight/libsvm reader and memory-mappable CSR caches."""
from .svmlight import SvmlightFormatError, binary_labels, load_svmlight

__all__ = ["load_svmlight", "binary_labels", "SvmlightFormatError"]
