using RobotRuntime.Agents.Model;
using RobotRuntime.Tensors;
using RobotRuntime.Tensors.Modules;

namespace RobotRuntime.Pretraining;

/// <summary>
/// A pre-training objective over an online image encoder and a momentum (EMA) copy of it: the
/// heads it trains and the loss of one batch. The encoder is what is kept and exported; the heads
/// and the target are discarded after pre-training.
/// </summary>
public abstract class PretrainingObjective
{
    /// <summary>Builds the encoder and its momentum copy.</summary>
    protected PretrainingObjective(string architecture, int imageSize, Random random)
    {
        Encoder = EncoderArchitectures.Build(architecture, imageSize, random);
        TargetEncoder = EncoderArchitectures.Build(architecture, imageSize, random, "target.encoder");
        EmbeddingSize = EncoderArchitectures.EmbeddingSize(architecture, imageSize);
        ImageSize = imageSize;
    }

    /// <summary>Side of the square images the encoder takes.</summary>
    public int ImageSize { get; }

    /// <summary>The encoder being pre-trained.</summary>
    public Sequential Encoder { get; }

    /// <summary>Its momentum copy (targets for ATC and video dynamics; unused by IDM).</summary>
    public Sequential TargetEncoder { get; }

    /// <summary>Floats in an embedding.</summary>
    public int EmbeddingSize { get; }

    /// <summary>Frames between the two frames of a pair.</summary>
    public abstract int Offset { get; }

    /// <summary>Whether both frames of a pair get the same random shift (see <see cref="FrameSampler.Next"/>).</summary>
    public virtual bool SameShift => false;

    /// <summary>Whether the loss reads the second frame of each pair.</summary>
    public virtual bool UsesSecondFrame => true;

    /// <summary>Which episodes the objective learns from (all by default).</summary>
    public virtual bool Includes(RobotRuntime.Datasets.EpisodeEntry episode) => true;

    /// <summary>Heads trained with the encoder.</summary>
    public abstract IEnumerable<Parameter> HeadParameters();

    /// <summary>Head modules that have momentum copies, as (online, target) parameter lists in the same order.</summary>
    public virtual (IReadOnlyList<Parameter> Online, IReadOnlyList<Parameter> Target) MomentumPairs() =>
        (Encoder.Parameters().ToList(), TargetEncoder.Parameters().ToList());

    /// <summary>Every parameter the optimiser trains: encoder, then heads.</summary>
    public IEnumerable<Parameter> TrainableParameters() => Encoder.Parameters().Concat(HeadParameters());

    /// <summary>Every tensor a checkpoint keeps: trainable parameters and the momentum targets.</summary>
    public IEnumerable<Parameter> AllParameters() => TrainableParameters().Concat(MomentumPairs().Target).DistinctBy(p => p.Name);

    /// <summary>The loss of one batch (recorded on the current tape) and its named parts for the metrics.</summary>
    public abstract (Tensor Loss, IReadOnlyList<(string Name, float Value)> Parts) Loss(FramePairBatch batch, AgentRandom random);

    /// <summary>Creates the objective.</summary>
    public static PretrainingObjective Create(PretrainOptions options, int imageSize, int actionSize, Random random) => options.Objective switch
    {
        PretrainObjective.Atc => new AtcObjective(options, imageSize, random),
        PretrainObjective.Idm => new InverseDynamicsObjective(options, imageSize, actionSize, random),
        PretrainObjective.Bc => new BehaviourCloningObjective(options, imageSize, actionSize, random),
        _ => new VideoDynamicsObjective(options, imageSize, random),
    };

    /// <summary>InfoNCE over a batch: row i's positive is column i, the other columns are its negatives.</summary>
    protected static Tensor InfoNce(Tensor logits, int rows)
    {
        var labels = Tensor.Zeros(rows, rows);
        for (var i = 0; i < rows; i++)
            labels.Span[i * rows + i] = 1f;
        return Ops.SoftCrossEntropy(logits, labels);
    }

    /// <summary>[N, 3, S, S] tensor of a batch's planes.</summary>
    protected static Tensor Images(float[] planes, int size, int imageSize) => Tensor.FromArray(planes, size, 3, imageSize, imageSize);

    /// <summary>Linear → LayerNorm → ReLU → Linear.</summary>
    protected static Sequential Mlp(string name, int input, int hidden, int output, Random random) => new(
        new Linear(name + ".0", input, hidden, random),
        new RobotRuntime.Tensors.Modules.LayerNorm(name + ".1", hidden),
        new Activation(ActivationKind.Relu),
        new Linear(name + ".3", hidden, output, random));
}

/// <summary>
/// ATC (Stooke et al. 2021): anchor = augmented frame t, positive = augmented frame t + k of the same
/// camera and episode; the anchor goes through the encoder, a compressor (Linear → LayerNorm) and a
/// residual predictor, the positive through the momentum encoder and compressor; logits =
/// anchor·W·positiveᵀ over the batch, InfoNCE with the other samples as negatives.
/// </summary>
public sealed class AtcObjective : PretrainingObjective
{
    private const int CodeSize = 128;
    private readonly int _offset;
    private readonly Sequential _compressor, _targetCompressor, _predictor;
    private readonly Parameter _bilinear;

    /// <summary>Builds the heads.</summary>
    public AtcObjective(PretrainOptions options, int imageSize, Random random) : base(options.Architecture, imageSize, random)
    {
        _offset = options.TemporalOffset;
        _compressor = new Sequential(new Linear("atc.compressor.0", EmbeddingSize, CodeSize, random), new RobotRuntime.Tensors.Modules.LayerNorm("atc.compressor.1", CodeSize));
        _targetCompressor = new Sequential(new Linear("target.atc.compressor.0", EmbeddingSize, CodeSize, random), new RobotRuntime.Tensors.Modules.LayerNorm("target.atc.compressor.1", CodeSize));
        _predictor = Mlp("atc.predictor", CodeSize, 256, CodeSize, random);
        _bilinear = new Parameter("atc.bilinear", Tensor.RandomNormal(random, 0.01f, CodeSize, CodeSize));
    }

    /// <inheritdoc/>
    public override int Offset => _offset;

    /// <inheritdoc/>
    public override IEnumerable<Parameter> HeadParameters() => _compressor.Parameters().Concat(_predictor.Parameters()).Append(_bilinear);

    /// <inheritdoc/>
    public override (IReadOnlyList<Parameter> Online, IReadOnlyList<Parameter> Target) MomentumPairs() =>
        (Encoder.Parameters().Concat(_compressor.Parameters()).ToList(), TargetEncoder.Parameters().Concat(_targetCompressor.Parameters()).ToList());

    /// <inheritdoc/>
    public override (Tensor Loss, IReadOnlyList<(string Name, float Value)> Parts) Loss(FramePairBatch batch, AgentRandom random)
    {
        var side = ImageSize;
        Tensor positive;
        using (Tape.NoGrad())
            positive = _targetCompressor.Forward(TargetEncoder.Forward(Images(batch.Second, batch.Size, side)));
        var code = _compressor.Forward(Encoder.Forward(Images(batch.First, batch.Size, side)));
        var anchor = Ops.Add(code, _predictor.Forward(code));
        var logits = Ops.MatMul(Ops.MatMul(anchor, _bilinear.Value), positive, transposeB: true);
        var loss = InfoNce(logits, batch.Size);
        var correct = 0;
        var l = logits.Span;
        for (var i = 0; i < batch.Size; i++)
        {
            var row = l.Slice(i * batch.Size, batch.Size);
            var best = 0;
            for (var j = 1; j < row.Length; j++)
                best = row[j] > row[best] ? j : best;
            correct += best == i ? 1 : 0;
        }
        return (loss, [("infonce", loss.Item()), ("accuracy", correct / (float)batch.Size)]);
    }
}

/// <summary>Inverse dynamics: an MLP predicts a_t from [e_t, e_t+1]; mean squared error against the recorded action.</summary>
public sealed class InverseDynamicsObjective : PretrainingObjective
{
    private readonly Sequential _head;

    /// <summary>Builds the head.</summary>
    public InverseDynamicsObjective(PretrainOptions options, int imageSize, int actionSize, Random random) : base(options.Architecture, imageSize, random) =>
        _head = Mlp("idm.head", 2 * EmbeddingSize, 256, actionSize, random);

    /// <inheritdoc/>
    public override int Offset => 1;

    /// <inheritdoc/>
    public override bool SameShift => true;

    /// <inheritdoc/>
    public override IEnumerable<Parameter> HeadParameters() => _head.Parameters();

    /// <inheritdoc/>
    public override (IReadOnlyList<Parameter> Online, IReadOnlyList<Parameter> Target) MomentumPairs() => ([], []);

    /// <inheritdoc/>
    public override (Tensor Loss, IReadOnlyList<(string Name, float Value)> Parts) Loss(FramePairBatch batch, AgentRandom random)
    {
        var side = ImageSize;
        var both = new float[batch.First.Length * 2];
        batch.First.CopyTo(both, 0);
        batch.Second.CopyTo(both, batch.First.Length);
        var embeddings = Encoder.Forward(Images(both, 2 * batch.Size, side));
        var now = Ops.SliceRows(embeddings, 0, batch.Size);
        var next = Ops.SliceRows(embeddings, batch.Size, batch.Size);
        var prediction = _head.Forward(Ops.Concat(now, next));
        var actions = Tensor.FromArray(batch.Actions, batch.Size, batch.Actions.Length / batch.Size);
        var loss = Ops.MseLoss(prediction, actions);
        return (loss, [("action_mse", loss.Item())]);
    }
}

/// <summary>
/// Behaviour cloning (task-specific, as in seed 003's comparison): an MLP predicts the scripted
/// demonstrator's action a_t from e_t; mean squared error. Learns from the scripted episodes only
/// (their "policy" entry starts with "scripted"): the demonstrator's action points at the target,
/// the puck or the goal, so the encoder has to see where they are.
/// </summary>
public sealed class BehaviourCloningObjective : PretrainingObjective
{
    private readonly Sequential _head;

    /// <summary>Builds the head.</summary>
    public BehaviourCloningObjective(PretrainOptions options, int imageSize, int actionSize, Random random) : base(options.Architecture, imageSize, random) =>
        _head = Mlp("bc.head", EmbeddingSize, 256, actionSize, random);

    /// <inheritdoc/>
    public override int Offset => 0;

    /// <inheritdoc/>
    public override bool UsesSecondFrame => false;

    /// <inheritdoc/>
    public override bool Includes(RobotRuntime.Datasets.EpisodeEntry episode) =>
        episode.Extra.TryGetValue("policy", out var policy) && policy.StartsWith("scripted", StringComparison.Ordinal);

    /// <inheritdoc/>
    public override IEnumerable<Parameter> HeadParameters() => _head.Parameters();

    /// <inheritdoc/>
    public override (IReadOnlyList<Parameter> Online, IReadOnlyList<Parameter> Target) MomentumPairs() => ([], []);

    /// <inheritdoc/>
    public override (Tensor Loss, IReadOnlyList<(string Name, float Value)> Parts) Loss(FramePairBatch batch, AgentRandom random)
    {
        var side = ImageSize;
        var prediction = _head.Forward(Encoder.Forward(Images(batch.First, batch.Size, side)));
        var loss = Ops.MseLoss(prediction, Tensor.FromArray(batch.Actions, batch.Size, batch.Actions.Length / batch.Size));
        return (loss, [("action_mse", loss.Item())]);
    }
}

/// <summary>
/// Action-free video dynamics in PVDR's spirit, in latent space: u = projection of the encoder's
/// embedding; a posterior q(z | u_t, ū_t+k) and a prior p(z | u_t) (diagonal Gaussians, 16-d)
/// over how the clip evolves; a predictor (u_t, z) → û_t+k that must pick the momentum encoder's
/// projection ū_t+k of the real future frame out of the batch's (InfoNCE on cosine similarity,
/// temperature 0.1), plus β·KL(q ‖ p) with β = 0.05. (A mean-squared prediction loss, tried first,
/// let the encoder collapse to a constant within 300 updates; the batch's other futures as
/// negatives prevent that.)
/// </summary>
public sealed class VideoDynamicsObjective : PretrainingObjective
{
    private const int CodeSize = 128, LatentSize = 16;
    private const float Beta = 0.05f, Temperature = 0.1f;
    private readonly int _offset;
    private readonly Sequential _projection, _targetProjection, _posterior, _prior, _predictor;

    /// <summary>Builds the heads.</summary>
    public VideoDynamicsObjective(PretrainOptions options, int imageSize, Random random) : base(options.Architecture, imageSize, random)
    {
        _offset = options.TemporalOffset;
        _projection = new Sequential(new Linear("vd.projection.0", EmbeddingSize, CodeSize, random), new RobotRuntime.Tensors.Modules.LayerNorm("vd.projection.1", CodeSize));
        _targetProjection = new Sequential(new Linear("target.vd.projection.0", EmbeddingSize, CodeSize, random), new RobotRuntime.Tensors.Modules.LayerNorm("target.vd.projection.1", CodeSize));
        _posterior = Mlp("vd.posterior", 2 * CodeSize, 256, 2 * LatentSize, random);
        _prior = Mlp("vd.prior", CodeSize, 256, 2 * LatentSize, random);
        _predictor = Mlp("vd.predictor", CodeSize + LatentSize, 256, CodeSize, random);
    }

    /// <inheritdoc/>
    public override int Offset => _offset;

    /// <inheritdoc/>
    public override IEnumerable<Parameter> HeadParameters() =>
        _projection.Parameters().Concat(_posterior.Parameters()).Concat(_prior.Parameters()).Concat(_predictor.Parameters());

    /// <inheritdoc/>
    public override (IReadOnlyList<Parameter> Online, IReadOnlyList<Parameter> Target) MomentumPairs() =>
        (Encoder.Parameters().Concat(_projection.Parameters()).ToList(), TargetEncoder.Parameters().Concat(_targetProjection.Parameters()).ToList());

    /// <inheritdoc/>
    public override (Tensor Loss, IReadOnlyList<(string Name, float Value)> Parts) Loss(FramePairBatch batch, AgentRandom random)
    {
        var side = ImageSize;
        int b = batch.Size;
        Tensor future;
        using (Tape.NoGrad())
            future = _targetProjection.Forward(TargetEncoder.Forward(Images(batch.Second, b, side)));
        var now = _projection.Forward(Encoder.Forward(Images(batch.First, b, side)));
        var posterior = _posterior.Forward(Ops.Concat(now, future));
        var prior = _prior.Forward(now);
        var (muQ, logSigmaQ) = Split(posterior, b);
        var (muP, logSigmaP) = Split(prior, b);
        var noise = new float[b * LatentSize];
        for (var i = 0; i < noise.Length; i++)
            noise[i] = random.NextNormal();
        var z = Ops.Add(muQ, Ops.Multiply(Ops.Exp(logSigmaQ), Tensor.FromArray(noise, b, LatentSize)));
        var predicted = _predictor.Forward(Ops.Concat(now, z));
        // Layer-normalised vectors have norm √D, so their dot product / D is the (centred) cosine.
        var logits = Ops.Scale(Ops.MatMul(Ops.LayerNorm(predicted, null, null), Ops.LayerNorm(future, null, null), transposeB: true), 1f / (CodeSize * Temperature));
        var prediction = InfoNce(logits, b);
        // KL(N(μq, σq²) ‖ N(μp, σp²)) = log σp − log σq + (σq² + (μq − μp)²) / (2σp²) − ½, summed over z, mean over the batch.
        var varianceRatio = Ops.Exp(Ops.Scale(Ops.Subtract(logSigmaQ, logSigmaP), 2f));
        var meanTerm = Ops.Multiply(Ops.Square(Ops.Subtract(muQ, muP)), Ops.Exp(Ops.Scale(logSigmaP, -2f)));
        var perDimension = Ops.Add(Ops.Subtract(logSigmaP, logSigmaQ), Ops.Affine(Ops.Add(varianceRatio, meanTerm), 0.5f, -0.5f));
        var kl = Ops.Scale(Ops.Sum(perDimension), 1f / b);
        var loss = Ops.Add(prediction, Ops.Scale(kl, Beta));
        return (loss, [("prediction_infonce", prediction.Item()), ("kl", kl.Item())]);
    }

    private static (Tensor Mean, Tensor LogSigma) Split(Tensor output, int rows)
    {
        var transposed = Ops.Permute(output.Reshape(rows, 2, LatentSize), 1, 0, 2);
        var mean = Ops.Reshape(Ops.SliceAxis(transposed, 0, 0, 1), rows, LatentSize);
        // log σ = 3.5·tanh(x) − 1.5: a smooth bound to [−5, 2].
        var logSigma = Ops.Affine(Ops.Tanh(Ops.Reshape(Ops.SliceAxis(transposed, 0, 1, 1), rows, LatentSize)), 3.5f, -1.5f);
        return (mean, logSigma);
    }
}
