#!/usr/bin/python3
"""Writes the small frozen encoders the agent's frozen and partial modes use offline.

No pre-trained PVR weights can be downloaded on the build machines, so these stand in for one:
they are NOT pre-trained. `pool-conv` average-pools a 64x64 RGB image to 16x16 (the "trunk") and
applies one fixed, seeded random 3x3 convolution (8 channels, stride 2) + ReLU (the "last stage"),
flattened to a 512-d embedding. `pool-trunk` is the trunk alone (768-d): the partial mode stores
its output in replay and trains the last stage in the engine, initialised from pool-conv's own
initializers ("stage2.weight", "stage2.bias").

    /usr/bin/python3 models/test/make_agent_encoders.py
Deterministic: fixed seed and producer fields.
"""
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
OPSET = 17


def save(model, name):
    model.producer_name = "robotruntime-agent-encoders"
    model.producer_version = "1"
    model.model_version = 1
    onnx.checker.check_model(model)
    onnx.save(model, os.path.join(HERE, name + ".onnx"))


def main():
    rng = np.random.default_rng(8)
    # Kaiming-style scale for a 3x3x3 fan-in.
    w = (rng.standard_normal((8, 3, 3, 3)) * np.sqrt(2.0 / 27)).astype(np.float32)
    b = np.zeros(8, dtype=np.float32)
    pixels = helper.make_tensor_value_info("pixels", TensorProto.FLOAT, ["batch", 3, 64, 64])
    pool = helper.make_node("AveragePool", ["pixels"], ["pooled"], kernel_shape=[4, 4], strides=[4, 4])

    full = helper.make_graph(
        [
            pool,
            helper.make_node("Conv", ["pooled", "stage2.weight", "stage2.bias"], ["conv"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]),
            helper.make_node("Relu", ["conv"], ["relu"]),
            helper.make_node("Flatten", ["relu"], ["embedding"], axis=1),
        ],
        "pool_conv",
        [pixels],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", 512])],
        [numpy_helper.from_array(w, "stage2.weight"), numpy_helper.from_array(b, "stage2.bias")],
    )
    save(helper.make_model(full, opset_imports=[helper.make_opsetid("", OPSET)]), "pool_conv")

    trunk = helper.make_graph(
        [pool, helper.make_node("Flatten", ["pooled"], ["embedding"], axis=1)],
        "pool_trunk",
        [pixels],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", 768])],
    )
    save(helper.make_model(trunk, opset_imports=[helper.make_opsetid("", OPSET)]), "pool_trunk")


if __name__ == "__main__":
    main()
