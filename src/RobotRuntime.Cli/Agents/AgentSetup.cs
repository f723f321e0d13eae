using System.Security.Cryptography;
using RobotRuntime.Agents;
using RobotRuntime.Agents.Encoders;
using RobotRuntime.Environments;
using RobotRuntime.Sim.Tabletop;
using RobotRuntime.Vision.Encoders;

namespace RobotRuntime.Cli.Agents;

/// <summary>Wires an agent config to the simulator and the PVR zoo (the CLI is where sim, vision and agents meet).</summary>
internal static class AgentSetup
{
    /// <summary>The environment for <paramref name="task"/> under <paramref name="shift"/>, rendered at the size the encoder mode needs.</summary>
    public static IEnvironment CreateEnvironment(string task, AgentConfig config, string shift = "in-distribution") =>
        new TabletopEnvironment(new TabletopEnvironmentOptions(task, ActionMode.EndEffectorDelta, config.ImageSize, config.ImageSize, shift));

    /// <summary>
    /// The frozen front of the encoder mode and its identity ("scratch", or "zoo-id sha256:…").
    /// </summary>
    /// <exception cref="ArgumentException">An unknown zoo id or a mode without its implementation; the message says which.</exception>
    public static (IFeatureExtractor Features, string Identity, PvrTail? Tail) CreateFeatures(AgentConfig config, string? zooManifest)
    {
        if (config.Mode == EncoderMode.Scratch)
        {
            return (new ImageFeatureExtractor(config.Cameras, config.ImageSize), "scratch", null);
        }
        var zoo = PvrZoo.Load(zooManifest ?? PvrZoo.DefaultManifestPath());
        var (model, file) = Resolve(zoo, config.Encoder);
        string identity = $"{model.Id} sha256:{Sha256(file)}";
        float[] mean = model.Preprocess.Mean.ToArray(), std = model.Preprocess.Std.ToArray();
        switch (config.Mode)
        {
            case EncoderMode.Frozen:
                var encoder = new OnnxPvrEncoder(model, file, config.Cameras.Length, config.ImageSize, config.ImageSize);
                return (new EncoderFeatureExtractor(encoder, config.Cameras), identity, null);
            case EncoderMode.Partial:
                var (trunkModel, trunkFile) = Resolve(zoo, config.Trunk);
                var trunk = new OnnxPvrEncoder(trunkModel, trunkFile, config.Cameras.Length, config.ImageSize, config.ImageSize);
                return (new EncoderFeatureExtractor(trunk, config.Cameras), $"{identity} trunk {trunkModel.Id}", PvrTail.Create(model.Id, EncoderMode.Partial, file, mean, std));
            default:
                return (new ImageFeatureExtractor(config.Cameras, config.ImageSize), identity, PvrTail.Create(model.Id, EncoderMode.Full, file, mean, std));
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

    /// <summary>Hex SHA-256 of a file.</summary>
    public static string Sha256(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }
}
