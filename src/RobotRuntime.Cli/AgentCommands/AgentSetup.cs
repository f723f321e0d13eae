using RobotRuntime.Agents;
using RobotRuntime.Agents.Encoders;
using RobotRuntime.Agents.Packaging;
using RobotRuntime.Environments;
using RobotRuntime.Sim.Tabletop;
using RobotRuntime.Vision.Encoders;

namespace RobotRuntime.Cli.AgentCommands;

/// <summary>Wires an agent config to the simulator and the PVR zoo (the CLI is where sim, vision and agents meet).</summary>
internal static class AgentSetup
{
    /// <summary>The environment for <paramref name="task"/> on <paramref name="arm"/> under <paramref name="shift"/>, rendered at the size the encoder mode needs.</summary>
    public static TabletopEnvironment CreateEnvironment(string task, AgentConfig config, string shift = "in-distribution", string arm = "toy4") =>
        new(new TabletopEnvironmentOptions(task, ActionMode.EndEffectorDelta, config.ImageSize, config.ImageSize, shift, Arm: arm));

    /// <summary>
    /// The frozen front of the encoder mode, its identity ("scratch", or "zoo-id sha256:…"), the PVR's
    /// trainable part in partial/full mode, and <paramref name="config"/> with the partial split resolved
    /// (the zoo entry's trainableFrom when the config leaves it empty), as the run records it.
    /// </summary>
    /// <exception cref="ArgumentException">An unknown zoo id or a mode without its implementation; the message says which.</exception>
    public static (AgentConfig Config, IFeatureExtractor Features, string Identity, PvrTail? Tail) CreateFeatures(AgentConfig config, string? zooManifest, Onnx.OnnxSessionSettings? encoderSession = null)
    {
        if (config.Mode == EncoderMode.Scratch)
        {
            return (config, new ImageFeatureExtractor(config.Cameras, config.ImageSize), "scratch", null);
        }
        // Without a manifest, the repository's are searched (the public PVRs', then the project's own).
        var zoo = zooManifest is null ? PvrZoo.LoadShippedContaining(config.Encoder) : PvrZoo.Load(zooManifest);
        var (model, file) = Resolve(zoo, config.Encoder);
        string identity = $"{model.Id} sha256:{AgentPackage.Sha256(file)}";
        switch (config.Mode)
        {
            case EncoderMode.Frozen:
                var encoder = new OnnxPvrEncoder(model, file, config.Cameras.Length, config.ImageSize, config.ImageSize, encoderSession);
                return (config, new EncoderFeatureExtractor(encoder, config.Cameras), identity, null);
            case EncoderMode.Partial:
                if (config.TrainableFrom.Length == 0)
                {
                    config = config with { TrainableFrom = model.TrainableFrom };
                }
                var tail = PvrTail.Create(model, file, EncoderMode.Partial, config.ImageSize, config.TrainableFrom);
                var trunk = new OnnxPvrEncoder(tail.Trunk!, tail.TrunkFile!, config.Cameras.Length, config.ImageSize, config.ImageSize, encoderSession);
                return (config, new EncoderFeatureExtractor(trunk, config.Cameras), identity, tail);
            default:
                return (config, new ImageFeatureExtractor(config.Cameras, config.ImageSize), identity, PvrTail.Create(model, file, EncoderMode.Full, config.ImageSize));
        }
    }

    private static (PvrModel Model, string File) Resolve(PvrZoo zoo, string id)
    {
        var model = zoo.Get(id);
        string file = zoo.ResolveFile(model);
        if (!File.Exists(file))
        {
            throw new ArgumentException($"PVR '{id}' is listed in {zoo.ManifestPath} but its file {file} is absent; export it with: {model.Export}");
        }
        return (model, file);
    }
}
