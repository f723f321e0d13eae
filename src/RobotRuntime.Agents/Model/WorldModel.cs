using RobotRuntime.Tensors;
using RobotRuntime.Tensors.Modules;

namespace RobotRuntime.Agents.Model;

/// <summary>
/// The TD-MPC2 world model on the engine: an encoder head (a scratch CNN for image input, then an MLP
/// whose last layer ends in SimNorm), latent dynamics d(z, a) → z′ (SimNorm), a reward head and a Q
/// ensemble over <see cref="AgentConfig.NumBins"/> two-hot bins, target Qs (Polyak copies) and a
/// squashed-Gaussian policy prior π(z).
/// </summary>
/// <remarks>Setup only (construction); the forward methods are for training and evaluation, not the
/// real-time loop (the planner uses <see cref="Mlp.Infer"/>).</remarks>
public sealed class WorldModel
{
    private readonly Tensor _binCentres;

    /// <summary>Builds a model with weights drawn from <paramref name="seed"/>.</summary>
    /// <param name="config">Sizes and constants.</param>
    /// <param name="layout">What one step's observation is.</param>
    /// <param name="seed">Initialisation seed.</param>
    /// <param name="pvrTail">The PVR's trainable part in partial/full modes (applied per camera frame), or null.</param>
    public WorldModel(AgentConfig config, ObservationLayout layout, int seed, Encoders.PvrTail? pvrTail = null)
    {
        Config = config.Validate();
        Layout = layout;
        var random = new Random(seed);
        int a = layout.ActionDim;
        int headInput;
        PvrTail = pvrTail;
        if (PvrTail is not null)
        {
            headInput = layout.FrameStack * layout.Cameras * PvrTail.OutputWidth + layout.ProprioceptionLength;
        }
        else if (layout.Kind == FeatureKind.Images)
        {
            int channels = layout.FrameStack * layout.Cameras * 3;
            int c = config.CnnChannels;
            Cnn = new Sequential(
                new Conv2d("encoder.cnn.0", channels, c, 7, random, stride: 2), new Activation(ActivationKind.Relu),
                new Conv2d("encoder.cnn.2", c, c, 5, random, stride: 2), new Activation(ActivationKind.Relu),
                new Conv2d("encoder.cnn.4", c, c, 3, random, stride: 2), new Activation(ActivationKind.Relu),
                new Conv2d("encoder.cnn.6", c, c, 3, random, stride: 1), new Flatten());
            int side = layout.ImageSize;
            side = (side - 7) / 2 + 1;
            side = (side - 5) / 2 + 1;
            side = (side - 3) / 2 + 1;
            side -= 2;
            if (side < 1)
            {
                throw new ArgumentException($"image size {layout.ImageSize} is too small for the scratch CNN (kernels 7/5/3/3, strides 2/2/2/1)");
            }
            CnnOutput = c * side * side;
            headInput = CnnOutput + layout.ProprioceptionLength;
        }
        else
        {
            headInput = layout.FrameStack * layout.FeatureLength + layout.ProprioceptionLength;
        }
        var encoderWidths = new List<int> { headInput };
        for (int i = 1; i < config.EncoderLayers; i++)
        {
            encoderWidths.Add(config.EncoderDim);
        }
        encoderWidths.Add(config.LatentDim);
        EncoderHead = new Mlp("encoder.head", [.. encoderWidths], LayerOutput.NormSimNorm, random, config.SimNormGroup);
        int l = config.LatentDim, m = config.MlpDim;
        Dynamics = new Mlp("dynamics", [l + a, m, m, l], LayerOutput.NormSimNorm, random, config.SimNormGroup);
        Reward = new Mlp("reward", [l + a, m, m, config.NumBins], LayerOutput.Linear, random, zeroLastLayer: true);
        Qs = new Mlp[config.NumQ];
        TargetQs = new Mlp[config.NumQ];
        for (int q = 0; q < config.NumQ; q++)
        {
            Qs[q] = new Mlp($"q.{q}", [l + a, m, m, config.NumBins], LayerOutput.Linear, random, firstLayerDropout: config.QDropout, zeroLastLayer: true);
            TargetQs[q] = new Mlp($"target_q.{q}", [l + a, m, m, config.NumBins], LayerOutput.Linear, random);
            foreach (var p in TargetQs[q].Parameters())
            {
                p.Frozen = true;
            }
        }
        Policy = new Mlp("pi", [l, m, m, 2 * a], LayerOutput.Linear, random);
        TwoHot = new TwoHot(config.NumBins, config.VMin, config.VMax);
        _binCentres = Tensor.FromArray(TwoHot.Centres, config.NumBins, 1);
        SyncTargets(1f);
    }

    /// <summary>The configuration.</summary>
    public AgentConfig Config { get; }

    /// <summary>The observation layout the encoder takes.</summary>
    public ObservationLayout Layout { get; }

    /// <summary>The PVR's trainable part (partial and full modes), applied to every camera frame.</summary>
    public Encoders.PvrTail? PvrTail { get; }

    /// <summary>The scratch CNN (image input only).</summary>
    public Sequential? Cnn { get; }

    /// <summary>Width of the CNN's flattened output (image input only).</summary>
    public int CnnOutput { get; }

    /// <summary>The encoder's MLP into the latent (ends in SimNorm).</summary>
    public Mlp EncoderHead { get; }

    /// <summary>Latent dynamics.</summary>
    public Mlp Dynamics { get; }

    /// <summary>Reward head (two-hot logits).</summary>
    public Mlp Reward { get; }

    /// <summary>The Q ensemble (two-hot logits).</summary>
    public Mlp[] Qs { get; }

    /// <summary>Polyak-averaged copies of <see cref="Qs"/>, never trained directly.</summary>
    public Mlp[] TargetQs { get; }

    /// <summary>Policy prior: mean and pre-squash log-std.</summary>
    public Mlp Policy { get; }

    /// <summary>The two-hot encoding of rewards and values.</summary>
    public TwoHot TwoHot { get; }

    /// <summary>Encoder parameters (CNN and head).</summary>
    public IEnumerable<Parameter> EncoderParameters() =>
        (Cnn?.Parameters() ?? []).Concat(EncoderHead.Parameters());

    /// <summary>Parameters trained by the model loss other than the encoder's.</summary>
    public IEnumerable<Parameter> DynamicsRewardValueParameters() =>
        Dynamics.Parameters().Concat(Reward.Parameters()).Concat(Qs.SelectMany(q => q.Parameters()));

    /// <summary>Every parameter, online and target, in a fixed order (checkpoints).</summary>
    public IEnumerable<Parameter> AllParameters() =>
        (PvrTail?.Parameters() ?? []).Concat(EncoderParameters()).Concat(DynamicsRewardValueParameters()).Concat(Policy.Parameters())
            .Concat(TargetQs.SelectMany(q => q.Parameters()));

    /// <summary>Every parameter acting needs (target Qs excluded), in a fixed order (agent packages).</summary>
    public IEnumerable<Parameter> InferenceParameters() =>
        (PvrTail?.Parameters() ?? []).Concat(EncoderParameters()).Concat(DynamicsRewardValueParameters()).Concat(Policy.Parameters());

    /// <summary>Number of trainable floats (target copies excluded).</summary>
    public long TrainableParameterCount() =>
        (PvrTail?.Parameters() ?? []).Concat(EncoderParameters()).Concat(DynamicsRewardValueParameters()).Concat(Policy.Parameters()).Sum(p => (long)p.Value.Length);

    /// <summary>
    /// Encodes observations: <paramref name="input"/> is [N, stack·features] floats, or for images
    /// [N, stack·cameras·3, size, size] scaled to [−0.5, 0.5]; <paramref name="proprioception"/> is [N, P] or null.
    /// </summary>
    public Tensor Encode(Tensor input, Tensor? proprioception) => EncoderHead.Forward(EncoderHeadInput(input, proprioception));

    /// <summary>
    /// What <see cref="EncoderHead"/> is given for <paramref name="input"/> (as in <see cref="Encode"/>): the
    /// PVR tail's or CNN's output (or the stacked features), then <paramref name="proprioception"/>; [N, head input].
    /// </summary>
    public Tensor EncoderHeadInput(Tensor input, Tensor? proprioception)
    {
        Tensor x;
        if (PvrTail is not null)
        {
            int rows = input.Size(0), frames = Layout.FrameStack * Layout.Cameras;
            var shape = PvrTail.InputShape;
            var perFrame = PvrTail.Forward(input.Reshape([rows * frames, .. shape]));
            x = perFrame.Reshape(rows, frames * PvrTail.OutputWidth);
        }
        else
        {
            x = Cnn is null ? input : Cnn.Forward(input);
        }
        if (proprioception is not null)
        {
            x = Ops.Concat(x, proprioception);
        }
        return x;
    }

    /// <summary>d(z, a): the next latent.</summary>
    public Tensor Next(Tensor z, Tensor action) => Dynamics.Forward(Ops.Concat(z, action));

    /// <summary>Reward logits R(z, a).</summary>
    public Tensor RewardLogits(Tensor z, Tensor action) => Reward.Forward(Ops.Concat(z, action));

    /// <summary>Logits of Q number <paramref name="index"/> (online or target); dropout when <paramref name="dropoutRandom"/> is given.</summary>
    public Tensor QLogits(int index, Tensor z, Tensor action, bool target = false, Random? dropoutRandom = null) =>
        (target ? TargetQs[index] : Qs[index]).Forward(Ops.Concat(z, action), target ? null : dropoutRandom);

    /// <summary>Decodes two-hot logits [N, bins] into values [N, 1] (differentiable).</summary>
    public Tensor DecodeValue(Tensor logits) => Ops.Symexp(Ops.MatMul(Ops.Softmax(logits), _binCentres));

    /// <summary>
    /// Samples a ~ π(·|z) with the given standard-normal noise [N, A] (no gradient through the noise):
    /// returns the squashed action [N, A] and log π(a|z) [N] summed over action dimensions.
    /// </summary>
    public (Tensor Action, Tensor LogProbability) SamplePolicy(Tensor z, Tensor noise)
    {
        int a = Layout.ActionDim;
        var output = Policy.Forward(z);
        var mean = Ops.Narrow(output, 0, a);
        float half = 0.5f * (Config.LogStdMax - Config.LogStdMin);
        var logStd = Ops.Affine(Ops.Tanh(Ops.Narrow(output, a, a)), half, Config.LogStdMin + half);
        var preSquash = Ops.Add(mean, Ops.Multiply(noise, Ops.Exp(logStd)));
        var action = Ops.Tanh(preSquash);
        // log N(u; μ, σ) = Σ(−½ε² − log σ) − ½·A·log 2π; the ε term carries no gradient.
        var ns = noise.Span;
        int rows = noise.Length / a;
        var noiseTerm = new float[rows];
        for (int r = 0; r < rows; r++)
        {
            float s = 0f;
            for (int j = 0; j < a; j++)
            {
                float e = ns[r * a + j];
                s += e * e;
            }
            noiseTerm[r] = -0.5f * s - 0.5f * a * MathF.Log(2f * MathF.PI);
        }
        var gaussian = Ops.Add(Ops.Scale(Ops.SumLastDim(logStd), -1f), Tensor.FromArray(noiseTerm, rows));
        var squashCorrection = Ops.SumLastDim(Ops.Log(Ops.Affine(Ops.Square(action), -1f, 1f + 1e-6f)));
        return (action, Ops.Subtract(gaussian, squashCorrection));
    }

    /// <summary>Moves every target Q towards its online Q: θ′ ← (1 − τ)θ′ + τθ (τ = 1 copies).</summary>
    public void SyncTargets(float tau)
    {
        for (int q = 0; q < Qs.Length; q++)
        {
            using var online = Qs[q].Parameters().GetEnumerator();
            using var target = TargetQs[q].Parameters().GetEnumerator();
            while (online.MoveNext() && target.MoveNext())
            {
                var o = online.Current.Value.Span;
                var t = target.Current.Value.Span;
                for (int i = 0; i < t.Length; i++)
                {
                    t[i] += tau * (o[i] - t[i]);
                }
            }
        }
    }
}
