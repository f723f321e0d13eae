#!/usr/bin/python3
"""Turns the shipped scratch Reach agent's CNN into a per-image encoder for the PVR zoo.

The agent (models/agents/reach-scratch) learned its CNN from scratch on Reach over a stack of two
64 px front-camera frames: the first convolution reads 6 channels, the older frame's RGB then the
newer frame's. Given one image, this encoder computes what that CNN computes when both stacked
frames are that image: the first layer's two 3-channel halves are summed, the rest is copied. The
output is the CNN's 16 x 4 x 4 feature map, flattened (256 floats).

It is a representation pre-trained by this project on the Reach task itself, not a general PVR;
it exists so that the frozen mode can be shown learning on the machinery a real PVR would use
(ONNX Runtime encoder, embeddings in replay, only the head trained). No pre-trained PVR can be
downloaded on the build machines.

    /usr/bin/python3 models/agents/pvr/make_reach_cnn.py
Reads models/agents/reach-scratch/weights.safetensors; writes reach_cnn.onnx next to this file.
Deterministic (no randomness; fixed producer fields).
"""
import json
import os
import struct

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
WEIGHTS = os.path.join(HERE, "..", "reach-scratch", "weights.safetensors")


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (header_len,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + header_len])
    base = 8 + header_len
    out = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        if entry["dtype"] != "F32":
            raise SystemExit(f"{path}: tensor {name} is {entry['dtype']}, expected F32")
        start, end = entry["data_offsets"]
        out[name] = np.frombuffer(data[base + start:base + end], dtype="<f4").reshape(entry["shape"]).copy()
    return out


def main():
    w = read_safetensors(WEIGHTS)
    names = ["encoder.cnn.0", "encoder.cnn.2", "encoder.cnn.4", "encoder.cnn.6"]
    strides = [2, 2, 2, 1]
    for n in names:
        if n + ".weight" not in w or n + ".bias" not in w:
            raise SystemExit(f"{WEIGHTS}: no {n}.weight/.bias; is it a scratch-mode agent?")
    first = w["encoder.cnn.0.weight"]
    if first.shape[1] != 6:
        raise SystemExit(f"encoder.cnn.0.weight has {first.shape[1]} input channels, expected 6 (2 frames x RGB)")
    w["encoder.cnn.0.weight"] = (first[:, 0:3] + first[:, 3:6]).astype(np.float32)

    initializers, nodes = [], []
    x = "pixels"
    for i, (n, s) in enumerate(zip(names, strides)):
        initializers.append(numpy_helper.from_array(w[n + ".weight"], n + ".weight"))
        initializers.append(numpy_helper.from_array(w[n + ".bias"], n + ".bias"))
        y = f"conv{i}"
        nodes.append(helper.make_node("Conv", [x, n + ".weight", n + ".bias"], [y], strides=[s, s]))
        x = y
        if i < len(names) - 1:
            nodes.append(helper.make_node("Relu", [x], [f"relu{i}"]))
            x = f"relu{i}"
    nodes.append(helper.make_node("Flatten", [x], ["embedding"], axis=1))
    channels = w["encoder.cnn.6.weight"].shape[0]
    graph = helper.make_graph(
        nodes, "reach_cnn",
        [helper.make_tensor_value_info("pixels", TensorProto.FLOAT, ["batch", 3, 64, 64])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", channels * 16])],
        initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    model.producer_name = "robotruntime-reach-cnn"
    model.producer_version = "1"
    model.model_version = 1
    onnx.checker.check_model(model)
    onnx.save(model, os.path.join(HERE, "reach_cnn.onnx"))
    print(f"wrote {os.path.join(HERE, 'reach_cnn.onnx')}: {channels * 16} floats per image")


if __name__ == "__main__":
    main()
