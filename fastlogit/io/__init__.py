"""Data input: svmlight/libsvm reader and memory-mappable CSR caches."""
