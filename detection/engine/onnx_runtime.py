"""One way to open an ONNX model on the CPU, shared by the detectors and the recognizer."""

from __future__ import annotations

import onnxruntime as ort


def cpu_session(model: bytes | str, num_threads: int = 1) -> ort.InferenceSession:
    """A quiet CPU session with `num_threads` intra-op threads.

    InferenceSession.run is thread-safe, so one session serves every thread of a process.
    """
    options = ort.SessionOptions()
    options.intra_op_num_threads = num_threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(model, sess_options=options, providers=["CPUExecutionProvider"])
