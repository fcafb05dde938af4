"""ONNX models on the CPU: onnxruntime sessions for the detectors, OpenVINO for SFace.

Measured on one thread: OpenVINO runs SFace 1.6x faster than onnxruntime in float32 and 3-5x
faster where the CPU has AMX bfloat16 units, but runs YuNet slower in float32 (4.7 vs 3.5 ms),
and bfloat16 moves the detectors' scores; so each runtime serves where it wins.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

import numpy as np
import onnxruntime as ort
import openvino as ov


def cpu_session(model: bytes | str, num_threads: int = 1) -> ort.InferenceSession:
    """A quiet CPU session with `num_threads` intra-op threads.

    InferenceSession.run is thread-safe, so one session serves every thread of a process.
    """
    options = ort.SessionOptions()
    options.intra_op_num_threads = num_threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(model, sess_options=options, providers=["CPUExecutionProvider"])


@cache
def _openvino_core() -> ov.Core:
    return ov.Core()


def openvino_model(model: bytes, input_shape: Sequence[int], num_threads: int = 1) -> ov.CompiledModel:
    """`model` compiled by OpenVINO for one fixed input shape (1.7x faster than a free batch size).

    OpenVINO picks the precision: bfloat16 on CPUs with AMX or AVX512-BF16 (SFace's embeddings stay
    within cosine 0.9999 of float32), float32 elsewhere. A compiled model is thread-safe; its infer
    requests are not, so each thread makes its own.
    """
    network = _openvino_core().read_model(model)
    network.reshape({network.inputs[0]: list(input_shape)})
    # Pinned by default, the inference of every process lands on the same core: two batch workers
    # ran 1.3x one worker's rate instead of 1.96x.
    config = {"INFERENCE_NUM_THREADS": num_threads, "NUM_STREAMS": 1, "ENABLE_CPU_PINNING": False}
    return _openvino_core().compile_model(network, "CPU", config)


def _dequantize(q: np.ndarray, scale: np.ndarray, zero: np.ndarray, axis: int, block: int) -> np.ndarray:
    if block:
        keep = [slice(None)] * q.ndim
        keep[axis] = slice(0, q.shape[axis])
        scale = np.repeat(scale, block, axis=axis)[tuple(keep)]
        zero = np.repeat(zero, block, axis=axis)[tuple(keep)]
    elif scale.size > 1:
        shape = [1] * q.ndim
        shape[axis] = -1
        scale, zero = scale.reshape(shape), zero.reshape(shape)
    return ((q.astype(np.float32) - zero.astype(np.float32)) * scale).astype(np.float32)


def float_model(path: str, *, size_free: bool = False) -> bytes:
    """An OpenCV-zoo model with its block-quantized weights folded into float32 constants.

    The zoo files dequantize every weight inside the graph on every call (onnxruntime does not fold
    it) and list the float weights as dangling graph inputs; folding once at load time removes
    both, so onnxruntime runs them faster than OpenCV's DNN module does. `size_free` frees the image
    height and width (and so the outputs' second dimension).
    """
    import onnx
    from onnx import numpy_helper

    model = onnx.load(path)
    graph = model.graph
    values = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
    nodes = []
    for node in graph.node:
        if node.op_type == "DequantizeLinear" and all(name in values for name in node.input):
            attrs = {a.name: a.i for a in node.attribute}
            q, scale, zero = (values[name] for name in node.input)
            values[node.output[0]] = _dequantize(q, scale, zero, attrs.get("axis", 1), attrs.get("block_size", 0))
        elif node.op_type == "Reshape" and all(name in values for name in node.input):
            values[node.output[0]] = values[node.input[0]].reshape(values[node.input[1]])
        else:
            nodes.append(node)
    needed = {name for node in nodes for name in node.input}
    inputs = [i for i in graph.input if i.name not in values and i.name in needed]
    del graph.node[:]
    graph.node.extend(nodes)
    del graph.initializer[:]
    graph.initializer.extend(numpy_helper.from_array(v, k) for k, v in values.items() if k in needed)
    del graph.input[:]
    graph.input.extend(inputs)
    for tensor in graph.input:
        for axis, name in ({2: "height", 3: "width"} if size_free else {}).items():
            tensor.type.tensor_type.shape.dim[axis].dim_param = name
    for tensor in graph.output:
        for axis, name in ({1: "anchors"} if size_free else {}).items():
            tensor.type.tensor_type.shape.dim[axis].dim_param = name
    return model.SerializeToString()
