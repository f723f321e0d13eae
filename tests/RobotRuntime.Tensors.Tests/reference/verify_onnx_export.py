#!/usr/bin/python3
"""Development check of the engine's ONNX export (not part of the test command).

    /usr/bin/python3 verify_onnx_export.py tests/RobotRuntime.Tensors.Tests/bin/Release/net10.0/onnx-export

The folder is written by OnnxModelFileTests.ExportedGraphHoldsEveryParameterAsANamedInitializer:
NAME.onnx plus NAME.json (input and the engine's output). For each model this runs
onnx.checker (with shape inference; Debian python3-onnx 1.12, which has no onnx.reference) and
evaluates the graph node by node with an independent interpreter built on PyTorch functional ops,
then compares with the engine's output. Exit status 1 on any failure.
"""
import glob
import json
import os
import sys

import numpy as np
import onnx
import onnx.numpy_helper
import torch
import torch.nn.functional as F


def attributes(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def run(model, x):
    values = {i.name: torch.from_numpy(onnx.numpy_helper.to_array(i).copy()) for i in model.graph.initializer}
    values[model.graph.input[0].name] = x
    for node in model.graph.node:
        a = attributes(node)
        i = [values[n] for n in node.input]
        op = node.op_type
        if op == "Gemm":
            y = i[0] @ (i[1].t() if a.get("transB", 0) else i[1])
            y = y + i[2] if len(i) > 2 else y
        elif op == "LayerNormalization":
            y = F.layer_norm(i[0], i[0].shape[-1:], i[1], i[2], a.get("epsilon", 1e-5))
        elif op == "Relu":
            y = F.relu(i[0])
        elif op == "Tanh":
            y = torch.tanh(i[0])
        elif op == "Sigmoid":
            y = torch.sigmoid(i[0])
        elif op == "Elu":
            y = F.elu(i[0], a.get("alpha", 1.0))
        elif op == "Softplus":
            y = F.softplus(i[0])
        elif op == "Erf":
            y = torch.erf(i[0])
        elif op == "Mul":
            y = i[0] * i[1]
        elif op == "Add":
            y = i[0] + i[1]
        elif op == "Div":
            y = i[0] / i[1]
        elif op == "Conv":
            pads = a.get("pads", [0, 0, 0, 0])
            y = F.conv2d(i[0], i[1], i[2] if len(i) > 2 else None, stride=a["strides"], padding=pads[:2])
        elif op == "BatchNormalization":
            y = F.batch_norm(i[0], i[3], i[4], i[1], i[2], training=False, eps=a.get("epsilon", 1e-5))
        elif op == "MaxPool":
            y = F.max_pool2d(i[0], a["kernel_shape"], a["strides"])
        elif op == "AveragePool":
            y = F.avg_pool2d(i[0], a["kernel_shape"], a["strides"])
        elif op == "Flatten":
            y = i[0].reshape(i[0].shape[0], -1)
        elif op == "Reshape":
            shape = [i[0].shape[k] if int(d) == 0 else int(d) for k, d in enumerate(i[1].tolist())]
            y = i[0].reshape(shape)
        elif op == "Softmax":
            y = F.softmax(i[0], dim=a.get("axis", -1))
        elif op == "Identity":
            y = i[0]
        else:
            raise ValueError(f"interpreter has no {op}")
        values[node.output[0]] = y
    return values[model.graph.output[0].name]


def main():
    folder = sys.argv[1]
    failures = 0
    for path in sorted(glob.glob(os.path.join(folder, "*.onnx"))):
        model = onnx.load(path)
        onnx.checker.check_model(model, full_check=True)
        with open(path[:-5] + ".json") as f:
            data = json.load(f)
        x = torch.tensor(data["input"]["data"], dtype=torch.float32).reshape(data["input"]["shape"])
        expected = np.array(data["output"]["data"], dtype=np.float32).reshape(data["output"]["shape"])
        y = run(model, x).detach().numpy()
        diff = float(np.max(np.abs(y - expected)))
        ok = y.shape == expected.shape and diff <= 1e-5 + 1e-4 * float(np.max(np.abs(expected)))
        failures += not ok
        ops = sorted({n.op_type for n in model.graph.node})
        print(f"{os.path.basename(path)}: checker ok (opset {model.opset_import[0].version}), ops {ops}, "
              f"max |interpreter - engine| = {diff:.2e} -> {'OK' if ok else 'MISMATCH'}")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
