#!/usr/bin/python3
"""Writes the small ONNX models RobotRuntime's ONNX and vision tests load, with reference outputs.

Run with Debian's Python (`apt-get install python3-onnx python3-numpy python3-torch`; PyTorch
gives the independent bilinear-resize reference):
    /usr/bin/python3 models/test/make_test_models.py
Deterministic: the same files come out every time (fixed seeds, fixed producer fields).
Reference outputs are computed here with NumPy, independently of ONNX Runtime, and written
beside each model as <name>.reference.json: {"inputs": {name: {shape, data}}, "outputs": {...}}.
"""
import json
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
OPSET = 17


def save(model, name, inputs, outputs):
    model.producer_name = "robotruntime-test-models"
    model.producer_version = "1"
    model.model_version = 3
    onnx.checker.check_model(model)
    onnx.save(model, os.path.join(HERE, name + ".onnx"))
    if not inputs:
        return
    ref = {
        "inputs": {k: {"shape": list(v.shape), "data": [float(x) for x in v.ravel()]} for k, v in inputs.items()},
        "outputs": {k: {"shape": list(v.shape), "data": [float(x) for x in v.ravel()]} for k, v in outputs.items()},
    }
    with open(os.path.join(HERE, name + ".reference.json"), "w") as f:
        json.dump(ref, f, indent=1)
        f.write("\n")


def mlp():
    """obs[batch,8] -> Gemm(8->16) -> Relu -> Gemm(16->4) -> action[batch,4]; free batch dimension."""
    rng = np.random.default_rng(11)
    w1 = rng.standard_normal((16, 8)).astype(np.float32) * 0.5
    b1 = rng.standard_normal(16).astype(np.float32) * 0.1
    w2 = rng.standard_normal((4, 16)).astype(np.float32) * 0.5
    b2 = rng.standard_normal(4).astype(np.float32) * 0.1
    graph = helper.make_graph(
        [
            helper.make_node("Gemm", ["obs", "w1", "b1"], ["h"], transB=1),
            helper.make_node("Relu", ["h"], ["hr"]),
            helper.make_node("Gemm", ["hr", "w2", "b2"], ["action"], transB=1),
        ],
        "policy_mlp",
        [helper.make_tensor_value_info("obs", TensorProto.FLOAT, ["batch", 8])],
        [helper.make_tensor_value_info("action", TensorProto.FLOAT, ["batch", 4])],
        [numpy_helper.from_array(w1, "w1"), numpy_helper.from_array(b1, "b1"),
         numpy_helper.from_array(w2, "w2"), numpy_helper.from_array(b2, "b2")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    obs = rng.standard_normal((3, 8)).astype(np.float32)
    action = np.maximum(obs @ w1.T + b1, 0) @ w2.T + b2
    save(model, "mlp", {"obs": obs}, {"action": action.astype(np.float32)})


def conv2d(x, w, b, pad):
    """NCHW convolution, stride 1, float64 accumulation."""
    n, c, h, wd = x.shape
    k, _, kh, kw = w.shape
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    out = np.zeros((n, k, h + 2 * pad - kh + 1, wd + 2 * pad - kw + 1))
    for i in range(out.shape[2]):
        for j in range(out.shape[3]):
            patch = xp[:, :, i:i + kh, j:j + kw]
            out[:, :, i, j] = np.tensordot(patch, w.astype(np.float64), axes=([1, 2, 3], [1, 2, 3]))
    return out + b.reshape(1, -1, 1, 1)


def conv_encoder(name="conv_encoder", batch=1):
    """pixels[batch,3,16,16] -> Conv(3->4, 3x3, pad 1) -> Relu -> GlobalAveragePool -> Flatten -> embedding[batch,4]."""
    rng = np.random.default_rng(12)
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32) * 0.3
    b = rng.standard_normal(4).astype(np.float32) * 0.1
    graph = helper.make_graph(
        [
            helper.make_node("Conv", ["pixels", "w", "b"], ["c"], pads=[1, 1, 1, 1], kernel_shape=[3, 3]),
            helper.make_node("Relu", ["c"], ["r"]),
            helper.make_node("GlobalAveragePool", ["r"], ["p"]),
            helper.make_node("Flatten", ["p"], ["embedding"], axis=1),
        ],
        name,
        [helper.make_tensor_value_info("pixels", TensorProto.FLOAT, [batch, 3, 16, 16])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, [batch, 4])],
        [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    if batch != 1:
        # Free batch dimension: the "cameras" axis an encoder fills with one frame per camera.
        save(model, name, {}, {})
        return
    pixels = rng.uniform(0, 1, (1, 3, 16, 16)).astype(np.float32)
    embedding = np.maximum(conv2d(pixels, w, b, 1), 0).mean(axis=(2, 3))
    save(model, name, {"pixels": pixels}, {"embedding": embedding.astype(np.float32)})

    # The whole camera path: an 8-bit RGB frame of 32x24, centre-cropped to 24x24, resized
    # bilinearly (align_corners=False, no antialias; PyTorch's F.interpolate is the reference),
    # scaled by 1/255, normalised with ImageNet mean/std, encoded.
    import torch
    frame = rng.integers(0, 256, (24, 32, 3), dtype=np.uint8)
    crop = torch.from_numpy(frame[:, 4:28, :].astype(np.float32)).permute(2, 0, 1).unsqueeze(0)
    resized = torch.nn.functional.interpolate(crop, size=(16, 16), mode="bilinear", align_corners=False).numpy()
    mean = np.array([0.485, 0.456, 0.406], np.float32).reshape(1, 3, 1, 1)
    std = np.array([0.229, 0.224, 0.225], np.float32).reshape(1, 3, 1, 1)
    normalised = (resized / 255.0 - mean) / std
    embedding = np.maximum(conv2d(normalised, w, b, 1), 0).mean(axis=(2, 3))
    save_frame_reference("conv_encoder.frame", frame, normalised, embedding)


def save_frame_reference(name, frame, preprocessed, embedding):
    ref = {
        "frame": {"height": frame.shape[0], "width": frame.shape[1], "rgb": [int(x) for x in frame.ravel()]},
        "preprocessed": [float(x) for x in preprocessed.ravel()],
        "embedding": [float(x) for x in embedding.ravel()],
    }
    with open(os.path.join(HERE, name + ".reference.json"), "w") as f:
        json.dump(ref, f)
        f.write("\n")


def nan_encoder():
    """pixels[1,3,4,4] -> Sqrt(pixels - 10) -> Flatten: every output is NaN for normalised inputs."""
    graph = helper.make_graph(
        [
            helper.make_node("Sub", ["pixels", "ten"], ["shifted"]),
            helper.make_node("Sqrt", ["shifted"], ["root"]),
            helper.make_node("Flatten", ["root"], ["embedding"], axis=1),
        ],
        "nan_encoder",
        [helper.make_tensor_value_info("pixels", TensorProto.FLOAT, [1, 3, 4, 4])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, [1, 48])],
        [numpy_helper.from_array(np.array(10, np.float32), "ten")],
    )
    save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)]), "nan_encoder", {}, {})


def two_outputs():
    """x[2,3] -> plus_one = x + 1, doubled = 2x: outputs are named and ordered."""
    graph = helper.make_graph(
        [
            helper.make_node("Add", ["x", "one"], ["plus_one"]),
            helper.make_node("Mul", ["x", "two"], ["doubled"]),
        ],
        "two_outputs",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
        [helper.make_tensor_value_info("plus_one", TensorProto.FLOAT, [2, 3]),
         helper.make_tensor_value_info("doubled", TensorProto.FLOAT, [2, 3])],
        [numpy_helper.from_array(np.array(1, np.float32), "one"), numpy_helper.from_array(np.array(2, np.float32), "two")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    x = np.arange(6, dtype=np.float32).reshape(2, 3) - 2.5
    save(model, "two_outputs", {"x": x}, {"plus_one": x + 1, "doubled": x * 2})


if __name__ == "__main__":
    mlp()
    conv_encoder()
    conv_encoder("conv_encoder_batched", batch="cameras")
    nan_encoder()
    two_outputs()
    print("wrote mlp, conv_encoder(_batched), nan_encoder, two_outputs (.onnx + .reference.json) to", HERE)
