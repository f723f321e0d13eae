using System.Text.Json;
using System.Text.Json.Nodes;

namespace RobotRuntime.Agents;

/// <summary>How the agent turns camera images into the encoder head's input (issue 8's encoder modes).</summary>
public enum EncoderMode
{
    /// <summary>A small CNN learned from scratch with the world model; replay stores images.</summary>
    Scratch,

    /// <summary>A PVR run on ONNX Runtime, never trained; replay stores its embeddings.</summary>
    Frozen,

    /// <summary>A frozen PVR trunk on ONNX Runtime plus its last stage as trainable engine layers; replay stores trunk features.</summary>
    Partial,

    /// <summary>The whole encoder trained in the engine; replay stores images.</summary>
    Full,
}

/// <summary>
/// Everything that defines an agent: network sizes, TD-MPC2's loss and optimisation constants, the
/// planner's settings and the observation it sees. Named size presets come from <see cref="Preset"/>;
/// a JSON file may override any key (unknown keys are rejected with the key named).
/// </summary>
/// <remarks>Defaults are TD-MPC2's (ALGORITHMS.md) unless a comment says otherwise.</remarks>
public sealed record AgentConfig
{
    /// <summary>Preset name this config started from ("rt-small", "5m", ...).</summary>
    public string Size { get; init; } = "rt-small";

    /// <summary>Latent width (a multiple of <see cref="SimNormGroup"/>).</summary>
    public int LatentDim { get; init; } = 128;

    /// <summary>Hidden width of dynamics, reward, Q and policy MLPs.</summary>
    public int MlpDim { get; init; } = 384;

    /// <summary>Hidden width of the encoder head.</summary>
    public int EncoderDim { get; init; } = 256;

    /// <summary>Number of encoder-head layers (1 = a single linear layer into the latent).</summary>
    public int EncoderLayers { get; init; } = 2;

    /// <summary>Number of Q functions in the ensemble.</summary>
    public int NumQ { get; init; } = 2;

    /// <summary>Bins of the two-hot discrete regression.</summary>
    public int NumBins { get; init; } = 101;

    /// <summary>Lowest bin, in symlog space.</summary>
    public float VMin { get; init; } = -10f;

    /// <summary>Highest bin, in symlog space.</summary>
    public float VMax { get; init; } = 10f;

    /// <summary>SimNorm group size.</summary>
    public int SimNormGroup { get; init; } = 8;

    /// <summary>Dropout on the first layer of each Q function.</summary>
    public float QDropout { get; init; } = 0.01f;

    /// <summary>Rollout horizon of the losses and of planning.</summary>
    public int Horizon { get; init; } = 3;

    /// <summary>Per-step loss weight base ρ (step t weighs ρ^t).</summary>
    public float Rho { get; init; } = 0.5f;

    /// <summary>Coefficient of the latent consistency loss.</summary>
    public float ConsistencyCoef { get; init; } = 20f;

    /// <summary>Coefficient of the reward loss.</summary>
    public float RewardCoef { get; init; } = 0.1f;

    /// <summary>Coefficient of the value loss.</summary>
    public float ValueCoef { get; init; } = 0.1f;

    /// <summary>Entropy coefficient of the policy loss (the log-probability is summed over action dimensions).</summary>
    public float EntropyCoef { get; init; } = 1e-4f;

    /// <summary>Lower bound of the policy's log-std.</summary>
    public float LogStdMin { get; init; } = -10f;

    /// <summary>Upper bound of the policy's log-std.</summary>
    public float LogStdMax { get; init; } = 2f;

    /// <summary>Polyak coefficient of the target Qs.</summary>
    public float Tau { get; init; } = 0.01f;

    /// <summary>Adam learning rate.</summary>
    public float LearningRate { get; init; } = 3e-4f;

    /// <summary>Encoder learning rate as a multiple of <see cref="LearningRate"/>.</summary>
    public float EncoderLearningRateScale { get; init; } = 0.3f;

    /// <summary>Global gradient-norm clip.</summary>
    public float GradClipNorm { get; init; } = 20f;

    /// <summary>Sub-trajectories per update.</summary>
    public int BatchSize { get; init; } = 256;

    /// <summary>Discount; 0 means derive it from the episode length (f = T/5, γ = clip((f−1)/f, 0.95, 0.995)).</summary>
    public float Discount { get; init; }

    /// <summary>MPPI action sequences per iteration.</summary>
    public int Samples { get; init; } = 512;

    /// <summary>MPPI elites.</summary>
    public int Elites { get; init; } = 64;

    /// <summary>MPPI iterations.</summary>
    public int Iterations { get; init; } = 6;

    /// <summary>Trajectories drawn from the policy prior in each plan.</summary>
    public int PolicyTrajectories { get; init; } = 24;

    /// <summary>MPPI temperature (weights = softmax(temperature · (value − max))).</summary>
    public float Temperature { get; init; } = 0.5f;

    /// <summary>Lower clamp of the MPPI std.</summary>
    public float MinStd { get; init; } = 0.05f;

    /// <summary>Upper clamp (and start value) of the MPPI std.</summary>
    public float MaxStd { get; init; } = 2f;

    /// <summary>Encoder mode.</summary>
    public EncoderMode Mode { get; init; } = EncoderMode.Scratch;

    /// <summary>PVR zoo id in frozen/partial/full modes, "scratch" otherwise.</summary>
    public string Encoder { get; init; } = "scratch";

    /// <summary>
    /// Partial mode: where the PVR is split into the frozen trunk (ONNX Runtime; its output is what replay
    /// stores) and the trainable tail (the engine) — a node-name prefix such as "/layer4/" or a value name.
    /// Empty: the zoo entry's <c>trainableFrom</c> (rr train writes the resolved split here).
    /// </summary>
    public string TrainableFrom { get; init; } = "";

    /// <summary>No longer used (packages written before the trunk was derived from the PVR's file carry it empty); a non-empty value is refused.</summary>
    public string Trunk { get; init; } = "";

    /// <summary>Partial and full modes: the PVR's own learning rate as a multiple of <see cref="LearningRate"/>.</summary>
    public float PvrLearningRateScale { get; init; } = 0.1f;

    /// <summary>Cameras the agent sees, in order.</summary>
    public string[] Cameras { get; init; } = ["front"];

    /// <summary>Image side length in pixels for scratch/full modes (the simulator renders at this size).</summary>
    public int ImageSize { get; init; } = 64;

    /// <summary>Frames stacked into one observation (the last N embeddings or images).</summary>
    public int FrameStack { get; init; } = 3;

    /// <summary>Whether the proprioception vector joins the encoder head's input.</summary>
    public bool UseProprioception { get; init; } = true;

    /// <summary>Random-shift augmentation padding in pixels for scratch/full modes (0 turns it off).</summary>
    public int ShiftPad { get; init; } = 3;

    /// <summary>Channels of each scratch CNN layer.</summary>
    public int CnnChannels { get; init; } = 32;

    /// <summary>Names of the size presets.</summary>
    public static IReadOnlyList<string> PresetNames { get; } = ["rt-small", "5m", "rt-tiny"];

    /// <summary>
    /// A named size preset: "rt-small" (TD-MPC2's 1M shapes: enc 256, mlp 384, latent 128, 2 Qs),
    /// "5m" (enc 256, mlp 512, latent 512, 5 Qs) or "rt-tiny" (our own: mlp 256, latent 64, for
    /// CPU learning runs on a loaded 2-core machine).
    /// </summary>
    /// <exception cref="ArgumentException">An unknown name; the message lists the known ones.</exception>
    public static AgentConfig Preset(string name) => name switch
    {
        "rt-small" => new AgentConfig { Size = name },
        "5m" => new AgentConfig { Size = name, EncoderDim = 256, MlpDim = 512, LatentDim = 512, NumQ = 5 },
        "rt-tiny" => new AgentConfig { Size = name, EncoderDim = 256, MlpDim = 256, LatentDim = 64, NumQ = 2 },
        _ => throw new ArgumentException($"unknown agent size '{name}'; expected one of {string.Join(", ", PresetNames)}", nameof(name)),
    };

    /// <summary>The discount for episodes of <paramref name="episodeLength"/> steps (TD-MPC2's heuristic) unless <see cref="Discount"/> is set.</summary>
    public float DiscountFor(int episodeLength)
    {
        if (Discount > 0f)
        {
            return Discount;
        }
        float f = episodeLength / 5f;
        return Math.Clamp((f - 1f) / f, 0.95f, 0.995f);
    }

    /// <summary>Checks every value against its range.</summary>
    /// <exception cref="ArgumentException">The first value out of range, named.</exception>
    public AgentConfig Validate()
    {
        static void Require(bool ok, string key, string expected)
        {
            if (!ok)
            {
                throw new ArgumentException($"agent config key '{key}' is invalid: expected {expected}");
            }
        }
        Require(LatentDim > 0 && LatentDim % SimNormGroup == 0, "latentDim", $"a positive multiple of simNormGroup ({SimNormGroup})");
        Require(MlpDim > 0, "mlpDim", "> 0");
        Require(EncoderDim > 0, "encoderDim", "> 0");
        Require(EncoderLayers >= 1, "encoderLayers", ">= 1");
        Require(NumQ >= 2, "numQ", ">= 2 (the TD target takes the minimum of two)");
        Require(NumBins >= 2, "numBins", ">= 2");
        Require(VMax > VMin, "vMax", "> vMin");
        Require(Horizon >= 1, "horizon", ">= 1");
        Require(BatchSize >= 1, "batchSize", ">= 1");
        Require(Samples >= 2 && Elites >= 1 && Elites <= Samples, "elites", "1 ≤ elites ≤ samples");
        Require(PolicyTrajectories >= 0 && PolicyTrajectories < Samples, "policyTrajectories", "0 ≤ policyTrajectories < samples");
        Require(Iterations >= 1, "iterations", ">= 1");
        Require(MinStd > 0 && MaxStd >= MinStd, "minStd", "0 < minStd ≤ maxStd");
        Require(Cameras.Length >= 1, "cameras", "at least one camera name");
        Require(FrameStack >= 1, "frameStack", ">= 1");
        Require(ImageSize >= 32, "imageSize", ">= 32 pixels");
        Require(ShiftPad >= 0, "shiftPad", ">= 0");
        Require(Mode == EncoderMode.Scratch || Encoder != "scratch", "encoder", "a PVR zoo id for frozen, partial and full modes");
        Require(Trunk.Length == 0, "trunk", "empty: partial mode now writes the trunk out of the PVR's own file; say where it splits with trainableFrom");
        return this;
    }

    private static readonly JsonSerializerOptions s_json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        WriteIndented = true,
        UnmappedMemberHandling = System.Text.Json.Serialization.JsonUnmappedMemberHandling.Disallow,
        Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter(JsonNamingPolicy.CamelCase) },
    };

    /// <summary>The config as JSON (camelCase keys).</summary>
    public string ToJson() => JsonSerializer.Serialize(this, s_json);

    /// <summary>Reads a config: keys of <paramref name="json"/> override the preset named by its "size" key (default rt-small).</summary>
    /// <exception cref="ArgumentException">Malformed JSON, an unknown key or a value out of range; the message names it.</exception>
    public static AgentConfig FromJson(string json, string source = "agent config")
    {
        JsonObject? node;
        try
        {
            node = JsonNode.Parse(json) as JsonObject;
        }
        catch (JsonException e)
        {
            throw new ArgumentException($"{source} is not valid JSON: {e.Message}");
        }
        if (node is null)
        {
            throw new ArgumentException($"{source} must be a JSON object");
        }
        string size = node["size"]?.GetValue<string>() ?? "rt-small";
        var preset = JsonNode.Parse(JsonSerializer.Serialize(Preset(size), s_json))!.AsObject();
        foreach (var (key, value) in node)
        {
            preset[key] = value?.DeepClone();
        }
        try
        {
            return JsonSerializer.Deserialize<AgentConfig>(preset.ToJsonString(), s_json)!.Validate();
        }
        catch (JsonException e)
        {
            throw new ArgumentException($"{source}: {e.Message} (known keys: {string.Join(", ", preset.Select(p => p.Key))})");
        }
    }
}
