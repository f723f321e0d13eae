using BenchmarkDotNet.Running;
using RobotRuntime.Benchmarks.FirmwareLink;
using RobotRuntime.Benchmarks.Tensors;
using RobotRuntime.Benchmarks.Simulator;
using RobotRuntime.Benchmarks.Vision;

// camera-costs: undistortion per frame and the metrics ring per cycle (issue 17).
if (args.Length > 0 && args[0] == CameraCosts.Verb)
    return CameraCosts.Run(args);

// kinematics: UR5e forward kinematics, Jacobian and IK (control-loop tracking and cold solves).
if (args.Length > 0 && args[0] == RobotRuntime.Benchmarks.Kinematics.KinematicsCosts.Verb)
    return RobotRuntime.Benchmarks.Kinematics.KinematicsCosts.Run(args);

// pvr-latency: the encoder latency run benchmarks/pvr/compare.sh starts beside PyTorch.
if (args.Length > 0 && args[0] == "pvr-latency")
    return PvrLatency.Run(args);

// capture-latency: frame capture → embedding ready, from a video file and the ZeroMQ frame stream.
if (args.Length > 0 && args[0] == "capture-latency")
    return CaptureLatency.Run(args);

// sim-server-rate: sim-server's state rate achieved vs configured, both cameras streaming.
if (args.Length > 0 && args[0] == SimServerRate.Verb)
    return SimServerRate.Run(args[1..]);

// sim-link-roundtrip: Send → applied STATE against an in-process sim-server, loopback ZeroMQ beside the in-process link.
if (args.Length > 0 && args[0] == SimArmLinkRoundTrip.Verb)
    return SimArmLinkRoundTrip.Run(args[1..]);

// Side-by-side comparisons that need per-exchange distributions run as their own verb.
if (args.Length > 0 && args[0] == FirmwareLinkRoundTrip.Verb)
    return FirmwareLinkRoundTrip.Run(args[1..]);

// `tensors-compare` prints the engine's side of benchmarks/tensors_vs_pytorch.py.
if (args.Length > 0 && args[0] == "tensors-compare")
{
    return TensorComparison.Run(args[1..]);
}

// `agent-compare` prints the engine's side of benchmarks/agent_vs_pytorch.py.
if (args.Length > 0 && args[0] == RobotRuntime.Benchmarks.Agents.AgentComparison.Verb)
    return RobotRuntime.Benchmarks.Agents.AgentComparison.Run(args[1..]);

// `pvr-tail` times partial/full fine-tuning of a PVR: ORT trunk + engine tail against ORT whole model.
if (args.Length > 0 && args[0] == RobotRuntime.Benchmarks.Agents.PvrTailCost.Verb)
    return RobotRuntime.Benchmarks.Agents.PvrTailCost.Run(args[1..]);

// Every public benchmark class in this assembly is a suite; pick with --filter (see README.md).
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
return 0;
