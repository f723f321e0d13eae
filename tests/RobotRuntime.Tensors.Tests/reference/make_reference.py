#!/usr/bin/python3
"""Writes PyTorch reference values for RobotRuntime.Tensors' tests.

Development tool only (Debian python3-torch 1.13.1, run with /usr/bin/python3); the test command
never runs it. Output: ops.json (forward outputs and gradients of single ops) and
mlp_training.json (three Adam steps of a small TD-MPC2-style MLP), both next to this script.

Each op case holds its inputs, the output, and the gradient of sum(output * weights) with respect
to each input, for a fixed random `weights` tensor that is also stored.
"""
import json
import os
import struct

import torch
import torch.nn.functional as F

torch.manual_seed(1234)
torch.set_num_threads(1)
here = os.path.dirname(os.path.abspath(__file__))


def tensor_json(t):
    t = t.detach().to(torch.float32).contiguous()
    # 9 significant digits round-trip a float32 exactly.
    return {"shape": list(t.shape), "data": [float("%.9g" % v) for v in t.reshape(-1).tolist()]}


def case(name, fn, inputs, extra=None):
    leaves = [x.clone().requires_grad_(True) for x in inputs]
    y = fn(*leaves)
    weights = torch.randn(y.shape)
    (y * weights).sum().backward()
    return {**(extra or {}),
        "name": name,
        "inputs": [tensor_json(x) for x in inputs],
        "output": tensor_json(y),
        "weights": tensor_json(weights),
        "grads": [tensor_json(x.grad) for x in leaves],
    }


def simnorm(x, group=8):
    shape = x.shape
    return F.softmax(x.reshape(*shape[:-1], -1, group), dim=-1).reshape(shape)


r = torch.randn
bn_mean, bn_var = torch.randn(3) * 0.1, torch.rand(3) + 0.5
bn_mean_after, bn_var_after = bn_mean.clone(), bn_var.clone()
bn_x = r(4, 3, 5, 2) * 2 + 0.5


def batch_norm_train(x, w, b):
    return F.batch_norm(x, bn_mean_after, bn_var_after, w, b, training=True, momentum=0.1, eps=1e-5)


mha = torch.nn.MultiheadAttention(8, 2, batch_first=True)


def attention(x, w_in, b_in, w_out, b_out):
    out, _ = F.multi_head_attention_forward(
        x.transpose(0, 1), x.transpose(0, 1), x.transpose(0, 1), 8, 2, w_in, b_in, None, None, False, 0.0,
        w_out, b_out, training=False, need_weights=False)
    return out.transpose(0, 1)


cases = [
    case("linear", lambda x, w, b: F.linear(x, w, b), [r(5, 7), r(6, 7), r(6)]),
    case("matmul", lambda a, b: a @ b, [r(5, 9), r(9, 4)]),
    case("matmul_ta", lambda a, b: a.t() @ b, [r(9, 5), r(9, 4)]),
    case("matmul_tb", lambda a, b: a @ b.t(), [r(5, 9), r(4, 9)]),
    case("matmul_ta_tb", lambda a, b: a.t() @ b.t(), [r(9, 5), r(4, 9)]),
    case("bmm", lambda a, b: torch.bmm(a, b), [r(3, 4, 6), r(3, 6, 5)]),
    case("relu", F.relu, [r(4, 9)]),
    case("elu", F.elu, [r(4, 9)]),
    case("gelu", F.gelu, [r(4, 9) * 2]),
    case("mish", F.mish, [r(4, 9) * 3]),
    case("tanh", torch.tanh, [r(4, 9)]),
    case("sigmoid", torch.sigmoid, [r(4, 9)]),
    case("softmax", lambda x: F.softmax(x, dim=-1), [r(3, 11) * 3]),
    case("log_softmax", lambda x: F.log_softmax(x, dim=-1), [r(3, 11) * 3]),
    case("simnorm", simnorm, [r(3, 24) * 2]),
    case("layer_norm", lambda x, w, b: F.layer_norm(x, (13,), w, b, 1e-5), [r(4, 13) * 2 + 1, r(13), r(13)]),
    case("mse", lambda a, b: F.mse_loss(a, b), [r(4, 6), r(4, 6)]),
    case("soft_cross_entropy", lambda z, t: -(F.log_softmax(z, dim=-1) * t).sum(-1).mean(),
         [r(5, 10) * 2, F.softmax(r(5, 10), dim=-1)]),
    case("concat", lambda a, b: torch.cat([a, b], dim=-1), [r(3, 4), r(3, 5)]),
    case("add_broadcast", lambda a, b: a + b, [r(4, 6), r(6)]),
    case("multiply_broadcast", lambda a, b: a * b, [r(4, 6), r(6)]),
    case("conv2d", lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1), [r(2, 3, 7, 6), r(4, 3, 3, 3), r(4)]),
    case("conv2d_k2_s1_p0", lambda x, w, b: F.conv2d(x, w, b), [r(1, 2, 5, 5), r(3, 2, 2, 2), r(3)]),
    case("max_pool2d", lambda x: F.max_pool2d(x, 2, 2), [r(2, 3, 6, 5)]),
    case("avg_pool2d", lambda x: F.avg_pool2d(x, 3, 2), [r(2, 2, 7, 7)]),
    case("batch_norm_train", batch_norm_train, [bn_x, r(3), r(3)],
         {"running_mean_before": tensor_json(bn_mean), "running_var_before": tensor_json(bn_var)}),
    case("batch_norm_eval", lambda x, w, b: F.batch_norm(x, bn_mean, bn_var, w, b, training=False, eps=1e-5),
         [bn_x, r(3), r(3)], {"running_mean_before": tensor_json(bn_mean), "running_var_before": tensor_json(bn_var)}),
    case("swap_axes12", lambda x: x.transpose(1, 2).contiguous(), [r(2, 3, 4, 5)]),
    case("multi_head_self_attention", attention,
         [r(2, 5, 8), mha.in_proj_weight.detach().clone(), r(24) * 0.1, r(8, 8) * 0.3, r(8) * 0.1]),
]
for c in cases:
    if c["name"] == "batch_norm_train":
        c["running_mean_after"] = tensor_json(bn_mean_after)
        c["running_var_after"] = tensor_json(bn_var_after)
with open(os.path.join(here, "ops.json"), "w") as f:
    json.dump({"source": "PyTorch " + torch.__version__, "cases": cases}, f)


# A TD-MPC2-style MLP: NormedLinear (Linear -> LayerNorm -> Mish) twice, then a plain Linear.
class Mlp(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.l0 = torch.nn.Linear(10, 32)
        self.n0 = torch.nn.LayerNorm(32)
        self.l1 = torch.nn.Linear(32, 32)
        self.n1 = torch.nn.LayerNorm(32)
        self.l2 = torch.nn.Linear(32, 5)

    def forward(self, x):
        x = F.mish(self.n0(self.l0(x)))
        x = F.mish(self.n1(self.l1(x)))
        return self.l2(x)


def named(model):
    return {n: tensor_json(p) for n, p in model.named_parameters()}


def write_safetensors(path, tensors):
    """The safetensors layout written by hand (u64 header length, JSON header, raw F32 data)."""
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        blob = t.detach().contiguous().numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(blob)]}
        offset += len(blob)
        blobs.append(blob)
    encoded = json.dumps(header).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(encoded)))
        f.write(encoded)
        f.write(b"".join(blobs))


def training_run(decoupled):
    torch.manual_seed(99)
    model = Mlp()
    target_model = Mlp()
    initial = named(model)
    if not decoupled:
        # The same initial weights as a safetensors checkpoint written independently of the engine.
        write_safetensors(os.path.join(here, "mlp_initial.safetensors"), dict(model.named_parameters()))
    target_initial = named(target_model)
    x = torch.randn(16, 10)
    y = torch.randn(16, 5)
    encoder = [p for n, p in model.named_parameters() if n.startswith("l0.") or n.startswith("n0.")]
    rest = [p for n, p in model.named_parameters() if not (n.startswith("l0.") or n.startswith("n0."))]
    groups = [{"params": encoder, "lr": 0.01 * 0.3}, {"params": rest, "lr": 0.01}]
    opt = (torch.optim.AdamW(groups, weight_decay=0.1) if decoupled
           else torch.optim.Adam(groups, weight_decay=0.0))
    losses, norms = [], []
    for _ in range(3):
        opt.zero_grad()
        loss = F.mse_loss(model(x), y)
        loss.backward()
        norms.append(float(torch.nn.utils.clip_grad_norm_(model.parameters(), 0.5)))
        opt.step()
        with torch.no_grad():
            for p, tp in zip(model.parameters(), target_model.parameters()):
                tp.lerp_(p, 0.01)
        losses.append(float(loss))
    return {
        "optimizer": "AdamW(weight_decay=0.1)" if decoupled else "Adam",
        "input": tensor_json(x), "target": tensor_json(y),
        "initial": initial, "target_initial": target_initial,
        "losses": losses, "grad_norms": norms,
        "final": named(model), "target_final": named(target_model),
    }


with open(os.path.join(here, "mlp_training.json"), "w") as f:
    json.dump({
        "source": "PyTorch " + torch.__version__,
        "description": "Linear(10,32)-LayerNorm-Mish-Linear(32,32)-LayerNorm-Mish-Linear(32,5), MSE loss, "
                       "batch 16, clip_grad_norm 0.5, groups lr 0.003 (l0,n0) and 0.01, 3 steps, EMA tau 0.01",
        "runs": [training_run(False), training_run(True)],
    }, f)


# A small CNN: Conv(3->4, k3, s2, p1) -> BatchNorm -> ReLU -> MaxPool(2) -> flatten -> Linear(64->5).
class Cnn(torch.nn.Module):
    def __init__(self):
        super().__init__()
        # No conv bias: BatchNorm cancels it, its gradient is rounding noise that Adam would amplify.
        self.conv = torch.nn.Conv2d(3, 4, 3, stride=2, padding=1, bias=False)
        self.bn = torch.nn.BatchNorm2d(4)
        self.head = torch.nn.Linear(64, 5)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn(self.conv(x))), 2, 2)
        return self.head(x.reshape(x.shape[0], -1))


torch.manual_seed(7)
cnn = Cnn()
cnn_initial = named(cnn)
cnn_x, cnn_y = torch.randn(6, 3, 16, 16), torch.randn(6, 5)
cnn_opt = torch.optim.Adam(cnn.parameters(), lr=0.01)
cnn_losses = []
for _ in range(3):
    cnn_opt.zero_grad()
    loss = F.mse_loss(cnn(cnn_x), cnn_y)
    loss.backward()
    cnn_opt.step()
    cnn_losses.append(float(loss))
with open(os.path.join(here, "cnn_training.json"), "w") as f:
    json.dump({
        "source": "PyTorch " + torch.__version__,
        "description": "Conv2d(3,4,3,stride 2,pad 1,no bias)-BatchNorm2d(4)-ReLU-MaxPool2d(2)-Linear(64,5), MSE, batch 6x3x16x16, Adam lr 0.01, 3 steps",
        "input": tensor_json(cnn_x), "target": tensor_json(cnn_y), "initial": cnn_initial,
        "losses": cnn_losses, "final": named(cnn),
        "running_mean": tensor_json(cnn.bn.running_mean), "running_var": tensor_json(cnn.bn.running_var),
    }, f)

# An ONNX file exported by PyTorch whose initializers the engine imports by name.
torch.manual_seed(5)
onnx_model = Mlp().eval()
onnx_x = torch.randn(3, 10)
torch.onnx.export(onnx_model, onnx_x, os.path.join(here, "mlp_torch_export.onnx"), opset_version=17,
                  input_names=["input"], output_names=["output"], do_constant_folding=False)
with open(os.path.join(here, "mlp_torch_export.json"), "w") as f:
    json.dump({"source": "PyTorch " + torch.__version__ + " torch.onnx.export opset 17",
               "parameters": named(onnx_model), "input": tensor_json(onnx_x),
               "output": tensor_json(onnx_model(onnx_x))}, f)
print("wrote ops.json, mlp_training.json, cnn_training.json and mlp_torch_export.onnx/.json")
