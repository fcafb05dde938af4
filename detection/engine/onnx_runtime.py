"""One way to open an ONNX model on the CPU, shared by the detectors and the recognizer."""

from __future__ import annotations

import numpy as np
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


def float_model(path: str, *, batch_free: bool = False, size_free: bool = False) -> bytes:
    """An OpenCV-zoo model with its block-quantized weights folded into float32 constants.

    The zoo files dequantize every weight inside the graph on every call (onnxruntime does not fold
    it) and list the float weights as dangling graph inputs; folding once at load time removes
    both, so onnxruntime runs them faster than OpenCV's DNN module does. `batch_free` frees the
    batch dimension, `size_free` the image height and width (and so the outputs' second dimension).
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
        elif node.op_type == "PRelu" and node.input[1] in values:
            nodes.extend(_prelu_as_relu(node, values))
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
    free = {0: "batch"} if batch_free else {}
    for tensor in graph.input:
        for axis, name in {**free, **({2: "height", 3: "width"} if size_free else {})}.items():
            tensor.type.tensor_type.shape.dim[axis].dim_param = name
    for tensor in graph.output:
        for axis, name in {**free, **({1: "anchors"} if size_free else {})}.items():
            tensor.type.tensor_type.shape.dim[axis].dim_param = name
    return model.SerializeToString()


def _prelu_as_relu(node, values: dict[str, np.ndarray]) -> list:
    """PRelu(x) = a*x + (1-a)*Relu(x): the same numbers (to 1e-5), but onnxruntime fuses these plain
    element-wise ops into its blocked convolutions, while its PRelu kernel cost as much as all the
    convolutions of SFace (25 ms -> 14 ms a face on one thread)."""
    from onnx import helper

    x, slope = node.input
    prefix = node.name or node.output[0]
    values[f"{prefix}/one_minus_slope"] = (1.0 - values[slope]).astype(np.float32)
    return [
        helper.make_node("Relu", [x], [f"{prefix}/relu"]),
        helper.make_node("Mul", [x, slope], [f"{prefix}/linear"]),
        helper.make_node("Mul", [f"{prefix}/relu", f"{prefix}/one_minus_slope"], [f"{prefix}/rectified"]),
        helper.make_node("Add", [f"{prefix}/linear", f"{prefix}/rectified"], list(node.output)),
    ]
