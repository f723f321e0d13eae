#!/usr/bin/python3
"""Writes the small frozen encoders the agent's frozen and partial modes use offline.

No pre-trained PVR weights can be downloaded on the build machines, so these stand in for one:
they are NOT pre-trained. `pool-conv` average-pools a 64x64 RGB image to 16x16 (the "trunk") and
applies one fixed, seeded random 3x3 convolution (8 channels, stride 2) + ReLU (the "last stage"),
flattened to a 512-d embedding. `pool-trunk` is the trunk alone (768-d): the partial mode stores
its output in replay and trains the last stage in the engine, initialised from pool-conv's own
initializers ("stage2.weight", "stage2.bias").

`tiny-resnet` is a ResNet in miniature, exported by PyTorch as torchvision's ResNets are: a 7x7/2
stem with BatchNorm, ReLU and a padded 3x3/2 max pool, then layer1 (one BasicBlock, 8 channels) and
layer2 (one BasicBlock to 16 channels at stride 2 with a 1x1 downsample), flattened (1024-d at 64
px), the shape of the zoo's PIEG cut. Its BatchNorms have seeded random statistics except layer1's,
which keep PyTorch's defaults, so the exporter folds them into equal zero biases that it shares
through Identity nodes, as real exports do. It tests the engine's ONNX graph import: partial mode
trains layer2 (nodes "/layer2/...") on top of ONNX Runtime running the rest.

`tiny-vit` is torchvision's VisionTransformer in miniature (32 px, 8 px patches, 2 layers, 2 heads,
width 16, MLP 32), exported the way export_pvr.py exports ViT token sequences; its CLS token is the
16-d embedding. Partial mode trains the last encoder layer (nodes "/encoder/layers/encoder_layer_1/..."):
layer norms, self-attention written out as MatMul/Transpose/Softmax, the GELU MLP as Erf arithmetic.

    /usr/bin/python3 models/test/make_agent_encoders.py
Deterministic: fixed seeds and producer fields. Needs python3-onnx, python3-torch and
python3-torchvision (Debian; development tools only).
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


def tiny_resnet():
    import torch
    from torchvision.models.resnet import BasicBlock

    torch.manual_seed(5)

    class TinyResNet(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = torch.nn.Conv2d(3, 8, 7, 2, 3, bias=False)
            self.bn1 = torch.nn.BatchNorm2d(8)
            self.relu = torch.nn.ReLU(inplace=True)
            self.maxpool = torch.nn.MaxPool2d(3, 2, 1)
            self.layer1 = torch.nn.Sequential(BasicBlock(8, 8))
            down = torch.nn.Sequential(torch.nn.Conv2d(8, 16, 1, 2, bias=False), torch.nn.BatchNorm2d(16))
            self.layer2 = torch.nn.Sequential(BasicBlock(8, 16, 2, down))

        def forward(self, pixels):
            x = self.maxpool(self.relu(self.bn1(self.conv1(pixels))))
            return torch.flatten(self.layer2(self.layer1(x)), 1)

    model = TinyResNet()
    with torch.no_grad():
        for name, module in model.named_modules():
            if isinstance(module, torch.nn.BatchNorm2d) and not name.startswith("layer1"):
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.2, 0.2)
                module.running_mean.uniform_(-0.2, 0.2)
                module.running_var.uniform_(0.5, 2.0)
    model.eval()
    path = os.path.join(HERE, "tiny_resnet.onnx")
    torch.onnx.export(model, torch.zeros(1, 3, 64, 64), path, input_names=["pixels"], output_names=["features"],
                      dynamic_axes={"pixels": {0: "batch"}, "features": {0: "batch"}}, opset_version=OPSET)
    exported = onnx.load(path)
    save(exported, "tiny_resnet")


def tiny_vit():
    import sys

    import torch
    from torchvision.models.vision_transformer import VisionTransformer

    # The same token-sequence wrapper export_pvr.py exports torchvision ViTs with.
    sys.path.insert(0, os.path.join(os.path.dirname(HERE), "export"))
    from export_pvr import TorchvisionVitTokens

    torch.manual_seed(6)
    vit = VisionTransformer(image_size=32, patch_size=8, num_layers=2, num_heads=2, hidden_dim=16, mlp_dim=32)

    model = TorchvisionVitTokens(vit).eval()
    with torch.no_grad():
        # Non-zero biases and class token, so that every weight matters.
        for parameter in model.parameters():
            if parameter.dim() == 1 or parameter.shape[0] == 1:
                parameter.uniform_(-0.2, 0.2)
    path = os.path.join(HERE, "tiny_vit.onnx")
    torch.onnx.export(model, torch.zeros(1, 3, 32, 32), path, input_names=["pixels"], output_names=["tokens"],
                      dynamic_axes={"pixels": {0: "batch"}, "tokens": {0: "batch"}}, opset_version=OPSET)
    save(onnx.load(path), "tiny_vit")


if __name__ == "__main__":
    main()
    tiny_resnet()
    tiny_vit()
