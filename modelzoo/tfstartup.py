"""TensorFlow imported quietly: its start-up lines on a CPU machine (oneDNN, no CUDA driver,
cuInit failed, CPU instructions) are printed by absl before its logging is set up, so
TF_CPP_MIN_LOG_LEVEL no longer hides them, and every `modelzoo` command began with five of them,
one an ERROR. The package imports TensorFlow inside `startup_chatter_hidden` (`import_tensorflow`,
on first use of a public name, and by the CLI after parsing its arguments); the CLI also
initialises the devices inside it (where cuInit fails on a CPU machine). A library user's devices
are not initialised at import, so they can still be configured (memory growth, logical CPUs)."""

from __future__ import annotations

import contextlib
import functools
import os
import re
import sys
import tempfile
from collections.abc import Iterator

STARTUP_CHATTER = re.compile(
    r"^(WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    r"|[IWE]\d{4} [\d:.]+\s+\d+ (port|cudart_stub|cpu_feature_guard|cuda_platform|cuda_executor"
    r"|cuda_dnn|cuda_fft|cuda_blas)\.cc:\d+\] .*"
    r"|To enable the following instructions: .*)$"
)
"""TensorFlow's start-up lines on a CPU machine (oneDNN, no CUDA driver, cuInit failed, CPU
instructions): absl prints them before its logging is set up, so TF_CPP_MIN_LOG_LEVEL no longer
hides them."""


DECODER_CHATTER = re.compile(
    r"^(Improper call to JPEG library in state \d+|Corrupt JPEG data: .*|Premature end of JPEG file"
    r"|Invalid SOS parameters for sequential JPEG|Warning: unknown JFIF revision number .*)$"
)
"""What libjpeg prints to stderr for a damaged JPEG, beside the error TensorFlow raises (the reader
lists the file as skipped, with TensorFlow's reason)."""


@contextlib.contextmanager
def startup_chatter_hidden(chatter: re.Pattern = STARTUP_CHATTER) -> Iterator[None]:
    """Run the block with stderr (fd 2, where absl and C libraries write) captured, then pass on
    every captured line that is not `chatter`, so a real error still shows."""
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no stderr at all (a daemon): nothing to hide
        yield
        return
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            for line in capture.read().decode(errors="replace").splitlines():
                if line.strip() and not chatter.match(line):
                    print(line, file=sys.stderr)


@functools.cache
def import_tensorflow() -> None:
    """Import TensorFlow with its start-up chatter hidden, and check Keras runs on it: before any
    modelzoo module that needs them (the package imports its names lazily, so the CLI's --help
    never pays for TensorFlow)."""
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    with startup_chatter_hidden():
        import tensorflow  # noqa: F401
    import keras

    if keras.backend.backend() != "tensorflow":
        raise ImportError(
            f"modelzoo needs the TensorFlow backend of Keras, but KERAS_BACKEND is "
            f"{keras.backend.backend()!r}; unset it or set KERAS_BACKEND=tensorflow."
        )


def devices_initialised_quietly() -> None:
    """Initialise TensorFlow's devices (where cuInit fails with an ERROR line on a CPU machine)
    with that chatter hidden: for the CLI, after any tf.distribute strategy is made, since a
    multi-worker strategy must configure collective ops before the devices start."""
    import tensorflow as tf

    with startup_chatter_hidden():
        tf.config.list_logical_devices()
