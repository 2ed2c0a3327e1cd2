"""The end-to-end demo run by `make demo` (`monoloop demo`)."""
