#!/usr/bin/env python3
"""Exports the pre-trained visual representations of models/pvr-zoo.json to ONNX.

Run where the weights can be downloaded (PyTorch hub, torchvision, pip packages), then copy the
.onnx files to models/pvr/ on the robot's computer. Every exported model has one input
"pixels" [batch, 3, H, W] (float32, preprocessed as its zoo entry says) with a free batch
dimension, and the output its zoo entry names. See models/export/README.md.

    python3 models/export/export_pvr.py dinov2-vits14            # one model
    python3 models/export/export_pvr.py --all                     # every model in the zoo
    python3 models/export/export_pvr.py resnet18-pieg --random-weights --out /tmp/bench.onnx
"""
import argparse
import json
import os
import sys

import torch

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ZOO = os.path.join(REPO, "models", "pvr-zoo.json")


class ResNetCut(torch.nn.Module):
    """ResNet stem through layer2 (PIEG): the early feature map."""

    def __init__(self, resnet):
        super().__init__()
        self.body = torch.nn.Sequential(resnet.conv1, resnet.bn1, resnet.relu, resnet.maxpool, resnet.layer1, resnet.layer2)

    def forward(self, pixels):
        return self.body(pixels)


class ResNetPooled(torch.nn.Module):
    """ResNet up to global average pooling: [batch, 512]."""

    def __init__(self, resnet):
        super().__init__()
        resnet.fc = torch.nn.Identity()
        self.resnet = resnet

    def forward(self, pixels):
        return self.resnet(pixels)


class DinoTokens(torch.nn.Module):
    """DINOv2: normalised CLS, register and patch tokens as one sequence [batch, 1 + R + N, D]."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, pixels):
        features = self.model.forward_features(pixels)
        parts = [features["x_norm_clstoken"].unsqueeze(1)]
        registers = features.get("x_norm_regtokens")
        if registers is not None and registers.shape[1] > 0:
            parts.append(registers)
        parts.append(features["x_norm_patchtokens"])
        return torch.cat(parts, dim=1)


class TorchvisionVitTokens(torch.nn.Module):
    """A torchvision ViT's token sequence [batch, 1 + N, D] (used for ViT-S/14-shaped benchmarks)."""

    def __init__(self, vit):
        super().__init__()
        self.vit = vit

    def forward(self, pixels):
        x = self.vit._process_input(pixels)
        cls = self.vit.class_token.expand(x.shape[0], -1, -1)
        return self.vit.encoder(torch.cat([cls, x], dim=1))


class CallMethod(torch.nn.Module):
    """Wraps model.method(pixels), casting to float32."""

    def __init__(self, model, method):
        super().__init__()
        self.model = model
        self.method = method

    def forward(self, pixels):
        return getattr(self.model, self.method)(pixels).float()


def build(model_id, random_weights):
    """Returns the torch module whose forward(pixels) gives the zoo entry's output."""
    import torchvision

    if model_id in ("resnet18-pieg", "resnet18"):
        weights = None if random_weights else torchvision.models.ResNet18_Weights.IMAGENET1K_V1
        resnet = torchvision.models.resnet18(weights=weights)
        return ResNetCut(resnet) if model_id == "resnet18-pieg" else ResNetPooled(resnet)
    if model_id == "vit-s14-bench":
        # Shaped like DINOv2 ViT-S/14 (12 blocks, 6 heads, width 384, MLP 1536, 14 px patches).
        vit = torchvision.models.VisionTransformer(image_size=224, patch_size=14, num_layers=12, num_heads=6, hidden_dim=384, mlp_dim=1536)
        return TorchvisionVitTokens(vit)
    if random_weights:
        sys.exit(f"--random-weights is only available for resnet18-pieg, resnet18 and vit-s14-bench, not {model_id}")
    if model_id.startswith("dinov2-"):
        hub_name = "dinov2_" + model_id[len("dinov2-"):].replace("-", "_")
        return DinoTokens(torch.hub.load("facebookresearch/dinov2", hub_name))
    if model_id == "vc1-vitb":
        from vc_models.models.vit import model_utils  # pip install vc_models (facebookresearch/eai-vc)
        model, _, _, _ = model_utils.load_model(model_utils.VC1_BASE_NAME)
        return model
    if model_id == "clip-vitb16":
        import clip  # pip install git+https://github.com/openai/CLIP
        model, _ = clip.load("ViT-B/16", device="cpu")
        return CallMethod(model, "encode_image")
    if model_id == "r3m-resnet50":
        from r3m import load_r3m  # pip install git+https://github.com/facebookresearch/r3m
        return load_r3m("resnet50").module
    sys.exit(f"no exporter for '{model_id}'")


def entry(zoo, model_id):
    for model in zoo["models"]:
        if model["id"] == model_id:
            return model
    if model_id == "vit-s14-bench":
        return {"id": model_id, "file": "pvr/vit-s14-bench.onnx",
                "input": {"name": "pixels", "height": 224, "width": 224}, "output": {"name": "tokens"}}
    sys.exit(f"unknown PVR '{model_id}'; the zoo has: {', '.join(m['id'] for m in zoo['models'])}, plus vit-s14-bench")


def export(model_id, out, random_weights, opset):
    with open(ZOO) as f:
        zoo = json.load(f)
    spec = entry(zoo, model_id)
    module = build(model_id, random_weights).eval()
    height, width = spec["input"]["height"], spec["input"]["width"]
    example = torch.rand(1, 3, height, width)
    out = out or os.path.join(REPO, "models", spec["file"])
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with torch.no_grad():
        reference = module(example)
    # Exported with gradients enabled: in no-grad inference PyTorch 1.13 routes
    # nn.MultiheadAttention through a fused kernel that has no ONNX export.
    with torch.enable_grad():
        torch.onnx.export(
            module, example, out, opset_version=opset,
            input_names=[spec["input"]["name"]], output_names=[spec["output"]["name"]],
            dynamic_axes={spec["input"]["name"]: {0: "batch"}, spec["output"]["name"]: {0: "batch"}},
        )
    import onnx
    onnx.checker.check_model(onnx.load(out))
    print(f"{model_id}: wrote {out} (output {spec['output']['name']} {list(reference.shape)}, {os.path.getsize(out) / 1e6:.1f} MB)")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", nargs="?", help="zoo id, e.g. dinov2-vits14 (or vit-s14-bench)")
    parser.add_argument("--all", action="store_true", help="export every model in the zoo")
    parser.add_argument("--out", help="output file (default: models/<file from the zoo>)")
    parser.add_argument("--random-weights", action="store_true", help="same architecture, untrained (for latency benchmarks offline)")
    parser.add_argument("--opset", type=int, default=17)
    args = parser.parse_args()
    if args.all:
        with open(ZOO) as f:
            for model in json.load(f)["models"]:
                export(model["id"], None, args.random_weights, args.opset)
    elif args.model:
        export(args.model, args.out, args.random_weights, args.opset)
    else:
        parser.error("name a model or pass --all")


if __name__ == "__main__":
    main()
