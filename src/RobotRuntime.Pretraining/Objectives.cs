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

    /// <summary>
    /// Whether the run's <see cref="PretrainOptions.Group"/> applies (batches of consecutive samples
    /// from one episode and camera): for contrastive objectives, whose negatives it shapes; the others
    /// draw every sample from its own episode.
    /// </summary>
    public virtual bool UsesGroups => true;

    /// <summary>Images per sample that go through the encoder forward and backward (for the images/s figure).</summary>
    public virtual int ImagesPerSample => 1;

    /// <summary>Draws the next batch this objective learns from (pairs by default; see <see cref="FrameSampler.Next"/>).</summary>
    public virtual FrameBatch Draw(FrameSampler sampler, int batchSize, int group) =>
        sampler.Next(batchSize, Offset, SameShift, UsesGroups ? group : 1, UsesSecondFrame);

    /// <summary>Which episodes the objective learns from (all by default).</summary>
    public virtual bool Includes(RobotRuntime.Datasets.EpisodeEntry episode) => true;

    /// <summary>What <see cref="Includes"/> asks of an episode, in words (null when it takes all).</summary>
    public virtual string? InclusionRule => null;

    /// <summary>Heads trained with the encoder.</summary>
    public abstract IEnumerable<Parameter> HeadParameters();

    /// <summary>Head modules that have momentum copies, as (online, target) parameter lists in the same order.</summary>
    public virtual (IReadOnlyList<Parameter> Online, IReadOnlyList<Parameter> Target) MomentumPairs() =>
        (Encoder.Parameters().ToList(), TargetEncoder.Parameters().ToList());

    /// <summary>Every parameter the optimiser trains: encoder, then heads.</summary>
    public IEnumerable<Parameter> TrainableParameters() => Encoder.Parameters().Concat(HeadParameters());

    /// <summary>Every tensor a checkpoint keeps: trainable parameters and the momentum targets.</summary>
    public IEnumerable<Parameter> AllParameters() => TrainableParameters().Concat(MomentumPairs().Target).DistinctBy(p => p.Name);

    /// <summary>The loss of one batch from <see cref="Draw"/> (recorded on the current tape) and its named parts for the metrics.</summary>
    /// <exception cref="ArgumentException">The batch is not of the kind <see cref="Draw"/> makes.</exception>
    public abstract (Tensor Loss, IReadOnlyList<(string Name, float Value)> Parts) Loss(FrameBatch batch, AgentRandom random);

    /// <summary>Creates the objective.</summary>
    public static PretrainingObjective Create(PretrainOptions options, int imageSize, int actionSize, Random random) => options.Objective switch
    {
        PretrainObjective.Atc => new AtcObjective(options, imageSize, random),
        PretrainObjective.Idm => new InverseDynamicsObjective(options, imageSize, actionSize, random),
        PretrainObjective.Bc => new BehaviourCloningObjective(options, imageSize, actionSize, random),
        PretrainObjective.VideoDynamics => new VideoDynamicsObjective(options, imageSize, random),
        PretrainObjective.Spr => new SprObjective(options, imageSize, actionSize, random),
        PretrainObjective.Mae => new MaeObjective(options, imageSize, random),
        PretrainObjective.Curl => new CurlObjective(options, imageSize, random),
        PretrainObjective.SiamMae => new SiamMaeObjective(options, imageSize, random),
        _ => throw new ArgumentOutOfRangeException(nameof(options), options.Objective, "unknown objective"),
    };

    /// <summary>The batch as frame pairs.</summary>
    /// <exception cref="ArgumentException">It is another kind of batch.</exception>
    protected FramePairBatch Pairs(FrameBatch batch) => batch as FramePairBatch
        ?? throw new ArgumentException($"{GetType().Name} learns from frame pairs, not a {batch.GetType().Name}", nameof(batch));

    /// <summary>InfoNCE over a batch: row i's positive is column i, the other columns are its negatives.</summary>
    protected static Tensor InfoNce(Tensor logits, int rows)
    {
        var labels = Tensor.Zeros(rows, rows);
        for (var i = 0; i < rows; i++)
            labels.Span[i * rows + i] = 1f;
        return Ops.SoftCrossEntropy(logits, labels);
    }

    /// <summary>The share of a batch's rows whose largest logit is on the diagonal (their own positive).</summary>
    protected static float DiagonalAccuracy(Tensor logits, int rows)
    {
        var correct = 0;
        var l = logits.Span;
        for (var i = 0; i < rows; i++)
        {
            var row = l.Slice(i * rows, rows);
            var best = 0;
            for (var j = 1; j < row.Length; j++)
                best = row[j] > row[best] ? j : best;
            correct += best == i ? 1 : 0;
        }
        return correct / (float)rows;
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
    public override (Tensor Loss, IReadOnlyList<(string Name, float Value)> Parts) Loss(FrameBatch frames, AgentRandom random)
    {
        var batch = Pairs(frames);
        var side = ImageSize;
        Tensor positive;
        using (Tape.NoGrad())
            positive = _targetCompressor.Forward(TargetEncoder.Forward(Images(batch.Second, batch.Size, side)));
        var code = _compressor.Forward(Encoder.Forward(Images(batch.First, batch.Size, side)));
        var anchor = Ops.Add(code, _predictor.Forward(code));
        var logits = Ops.MatMul(Ops.MatMul(anchor, _bilinear.Value), positive, transposeB: true);
        var loss = InfoNce(logits, batch.Size);
        return (loss, [("infonce", loss.Item()), ("accuracy", DiagonalAccuracy(logits, batch.Size))]);
    }
}

/// <summary>
/// CURL (Srinivas et al. 2020): two random crops of the same frame — the project's random shift
/// (edge-replicated padding of <see cref="PretrainOptions.ShiftPad"/> pixels, then a random crop back
/// to size; DrQ's form of CURL's crop), drawn independently for each view, plus colour jitter when
/// asked. The query view goes through the encoder and a head (Linear → LayerNorm → tanh, as CURL's
/// encoder ends), the key view through the momentum (EMA) copies of both; logits = q·W·kᵀ over the
/// batch with a learned W, InfoNCE with the batch's other samples as negatives.
/// </summary>
public sealed class CurlObjective : PretrainingObjective
{
    /// <summary>Floats in a query or key code (CURL's paper: 50; here ATC's 128, so the two contrastive heads differ only in what they contrast).</summary>
    public const int CodeSize = 128;

    private readonly Sequential _head, _targetHead;
    private readonly Parameter _bilinear;

    /// <summary>Builds the head, its momentum copy and W.</summary>
    public CurlObjective(PretrainOptions options, int imageSize, Random random) : base(options.Architecture, imageSize, random)
    {
        _head = Head("curl.head", random);
        _targetHead = Head("target.curl.head", random);
        _bilinear = new Parameter("curl.bilinear", Tensor.RandomNormal(random, 0.01f, CodeSize, CodeSize));
    }

    /// <summary>W of the bilinear similarity qᵀWk, [code, code].</summary>
    public Parameter Bilinear => _bilinear;

    /// <summary>Both views are crops of one frame.</summary>
    public override int Offset => 0;

    /// <inheritdoc/>
    public override IEnumerable<Parameter> HeadParameters() => _head.Parameters().Append(_bilinear);

    /// <inheritdoc/>
    public override (IReadOnlyList<Parameter> Online, IReadOnlyList<Parameter> Target) MomentumPairs() =>
        (Encoder.Parameters().Concat(_head.Parameters()).ToList(), TargetEncoder.Parameters().Concat(_targetHead.Parameters()).ToList());

    /// <summary>
    /// The codes of a batch: queries q = head(encoder(first views)) [N, code] (on the tape) and keys
    /// k = momentum head(momentum encoder(second views)) [N, code] (computed without gradients).
    /// </summary>
    public (Tensor Queries, Tensor Keys) Codes(FramePairBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        Tensor keys;
        using (Tape.NoGrad())
            keys = _targetHead.Forward(TargetEncoder.Forward(Images(batch.Second, batch.Size, ImageSize)));
        var queries = _head.Forward(Encoder.Forward(Images(batch.First, batch.Size, ImageSize)));
        return (queries, keys);
    }

    /// <inheritdoc/>
    public override (Tensor Loss, IReadOnlyList<(string Name, float Value)> Parts) Loss(FrameBatch frames, AgentRandom random)
    {
        var batch = Pairs(frames);
        var (queries, keys) = Codes(batch);
        var logits = Ops.MatMul(Ops.MatMul(queries, _bilinear.Value), keys, transposeB: true);
        var loss = InfoNce(logits, batch.Size);
        return (loss, [("infonce", loss.Item()), ("accuracy", DiagonalAccuracy(logits, batch.Size))]);
    }

    private Sequential Head(string name, Random random) => new(
        new Linear(name + ".0", EmbeddingSize, CodeSize, random),
        new RobotRuntime.Tensors.Modules.LayerNorm(name + ".1", CodeSize),
        new Activation(ActivationKind.Tanh));
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
    public override bool UsesGroups => false;

    /// <inheritdoc/>
    public override int ImagesPerSample => 2;

    /// <inheritdoc/>
    public override IEnumerable<Parameter> HeadParameters() => _head.Parameters();

    /// <inheritdoc/>
    public override (IReadOnlyList<Parameter> Online, IReadOnlyList<Parameter> Target) MomentumPairs() => ([], []);

    /// <inheritdoc/>
    public override (Tensor Loss, IReadOnlyList<(string Name, float Value)> Parts) Loss(FrameBatch frames, AgentRandom random)
    {
        var batch = Pairs(frames);
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
    public override bool UsesGroups => false;

    /// <inheritdoc/>
    public override bool Includes(RobotRuntime.Datasets.EpisodeEntry episode) =>
        episode.Extra.TryGetValue("policy", out var policy) && policy.StartsWith("scripted", StringComparison.Ordinal);

    /// <inheritdoc/>
    public override string? InclusionRule => "behaviour cloning learns from scripted episodes only: their policy entry starts with \"scripted\"";

    /// <inheritdoc/>
    public override IEnumerable<Parameter> HeadParameters() => _head.Parameters();

    /// <inheritdoc/>
    public override (IReadOnlyList<Parameter> Online, IReadOnlyList<Parameter> Target) MomentumPairs() => ([], []);

    /// <inheritdoc/>
    public override (Tensor Loss, IReadOnlyList<(string Name, float Value)> Parts) Loss(FrameBatch frames, AgentRandom random)
    {
        var batch = Pairs(frames);
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
    public override (Tensor Loss, IReadOnlyList<(string Name, float Value)> Parts) Loss(FrameBatch frames, AgentRandom random)
    {
        var batch = Pairs(frames);
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

/// <summary>
/// SPR, self-predictive representations (Schwarzer et al. 2021), on a flat embedding: the online
/// code of frame t, z₀ = N(encoder(s_t)), is rolled forward with the recorded actions by a
/// transition model, z_k = N(z_k−1 + MLP([z_k−1, a_t+k−1])), for K steps; each z_k is projected
/// (g, linear) and predicted (q, linear) and matched to the momentum encoder's projection
/// g_m(N(encoder_m(s_t+k))) of the real frame t + k by negative cosine similarity, averaged over
/// the K steps and the batch. N is a layer normalisation without gain or bias (SPR renormalises
/// its latents after the encoder and after every transition). Every frame of a window gets its
/// own random shift; windows never cross an episode's end.
/// </summary>
/// <remarks>
/// One change from the paper: before the cosine, predictions and targets are centred on the batch
/// (each minus the mean of its step's batch, like a batch normalisation without scaling). Without
/// it the projections of different windows shared one dominant direction — the cosine between a
/// prediction and another window's target was 0.98 after 20 updates on the synthetic test set,
/// as high as with its own — so the loss sat near its minimum without telling windows apart. The
/// metric <c>cosine_other_window</c> keeps that check in every run.
/// </remarks>
public sealed class SprObjective : PretrainingObjective
{
    private const int ProjectionSize = 256, HiddenSize = 256;
    private readonly int _steps, _actionSize;
    private readonly Sequential _transition;
    private readonly Linear _projection, _targetProjection, _predictor;
    private Tensor? _centring;

    /// <summary>Builds the transition model, the projection, its momentum copy and the predictor.</summary>
    public SprObjective(PretrainOptions options, int imageSize, int actionSize, Random random) : base(options.Architecture, imageSize, random)
    {
        _steps = options.SprSteps;
        _actionSize = actionSize;
        _transition = Mlp("spr.transition", EmbeddingSize + actionSize, HiddenSize, EmbeddingSize, random);
        _projection = new Linear("spr.projection", EmbeddingSize, ProjectionSize, random);
        _targetProjection = new Linear("target.spr.projection", EmbeddingSize, ProjectionSize, random);
        _predictor = new Linear("spr.predictor", ProjectionSize, ProjectionSize, random);
    }

    /// <summary>K: the steps predicted from each window's first frame.</summary>
    public int Steps => _steps;

    /// <inheritdoc/>
    public override int Offset => _steps;

    /// <inheritdoc/>
    public override bool UsesGroups => false;

    /// <summary>Only episodes with at least K + 1 frames hold a window.</summary>
    public override bool Includes(RobotRuntime.Datasets.EpisodeEntry episode) => episode.Length > _steps;

    /// <inheritdoc/>
    public override string? InclusionRule => $"SPR with K = {_steps} needs episodes of at least {_steps + 1} frames";

    /// <inheritdoc/>
    public override FrameBatch Draw(FrameSampler sampler, int batchSize, int group) => sampler.NextSequence(batchSize, _steps);

    /// <inheritdoc/>
    public override IEnumerable<Parameter> HeadParameters() =>
        _transition.Parameters().Concat(_projection.Parameters()).Concat(_predictor.Parameters());

    /// <inheritdoc/>
    public override (IReadOnlyList<Parameter> Online, IReadOnlyList<Parameter> Target) MomentumPairs() =>
        (Encoder.Parameters().Concat(_projection.Parameters()).ToList(), TargetEncoder.Parameters().Concat(_targetProjection.Parameters()).ToList());

    /// <inheritdoc/>
    public override (Tensor Loss, IReadOnlyList<(string Name, float Value)> Parts) Loss(FrameBatch frames, AgentRandom random)
    {
        var batch = frames as FrameSequenceBatch
            ?? throw new ArgumentException($"SPR learns from windows of frames, not a {frames.GetType().Name}", nameof(frames));
        if (batch.Steps != _steps || batch.Actions.Length != _steps * batch.Size * _actionSize)
            throw new ArgumentException($"SPR with K = {_steps} and {_actionSize} action values needs windows of {_steps} steps; got {batch.Steps} steps and {batch.Actions.Length} action values for {batch.Size} windows", nameof(frames));
        int b = batch.Size, side = ImageSize, pixels = 3 * side * side;
        Tensor targets;
        using (Tape.NoGrad())
        {
            // Frames t + 1 … t + K of every window in one pass through the momentum encoder.
            var future = Tensor.FromArray(batch.Frames.AsSpan(b * pixels, _steps * b * pixels), _steps * b, 3, side, side);
            targets = Ops.L2Normalize(Centre(_targetProjection.Forward(Ops.LayerNorm(TargetEncoder.Forward(future), null, null)), b));
        }
        var z = Ops.LayerNorm(Encoder.Forward(Tensor.FromArray(batch.Frames.AsSpan(0, b * pixels), b, 3, side, side)), null, null);
        var predictions = new Tensor[_steps];
        for (var k = 0; k < _steps; k++)
        {
            var action = Tensor.FromArray(batch.Actions.AsSpan(k * b * _actionSize, b * _actionSize), b, _actionSize);
            z = Ops.LayerNorm(Ops.Add(z, _transition.Forward(Ops.Concat(z, action))), null, null);
            predictions[k] = _predictor.Forward(_projection.Forward(z));
        }
        var predicted = Ops.L2Normalize(Centre(Ops.ConcatAxis(0, predictions), b));
        var cosine = Ops.SumLastDim(Ops.Multiply(predicted, targets));
        var loss = Ops.Scale(Ops.Mean(cosine), -1f);
        var c = cosine.Span;
        float first = 0, last = 0;
        for (var i = 0; i < b; i++)
        {
            first += c[i];
            last += c[(_steps - 1) * b + i];
        }
        // The same cosine against another window's target (the next one in the batch, same step): a
        // representation that collapsed to one point scores as high here as on its own targets.
        double other = 0;
        int width = targets.Shape[1];
        var p = predicted.Span;
        var q = targets.Span;
        for (var row = 0; row < _steps * b; row++)
        {
            var shifted = row / b * b + (row % b + 1) % b;
            other += System.Numerics.Tensors.TensorPrimitives.Dot(p.Slice(row * width, width), q.Slice(shifted * width, width));
        }
        return (loss, [("negative_cosine", loss.Item()), ("cosine_first_step", first / b), ("cosine_last_step", last / b), ("cosine_other_window", (float)(other / (_steps * b)))]);
    }

    /// <summary>Rows of x [K·b, P] minus the mean of their step's b rows: (I − 11ᵀ/b) applied to each step's block.</summary>
    private Tensor Centre(Tensor x, int b)
    {
        if (_centring?.Shape[1] != b)
        {
            _centring = Tensor.Zeros(_steps, b, b);
            var c = _centring.Span;
            for (var k = 0; k < _steps; k++)
            {
                for (var i = 0; i < b; i++)
                {
                    for (var j = 0; j < b; j++)
                        c[(k * b + i) * b + j] = (i == j ? 1f : 0f) - 1f / b;
                }
            }
        }
        var width = x.Shape[1];
        return Ops.BatchedMatMul(_centring, x.Reshape(_steps, b, width)).Reshape(_steps * b, width);
    }
}

/// <summary>What one MAE forward pass made (for the loss and for tests).</summary>
/// <param name="Loss">Mean squared error over the hidden patches' normalised pixels (on the tape).</param>
/// <param name="Visible">Per sample, the (ascending) indices of the patches the encoder saw.</param>
/// <param name="Predictions">The decoder's output for every patch, seen or hidden: [N, T, P·P·3].</param>
/// <param name="Targets">Every patch's pixels, normalised per patch (mean 0, variance 1 over its P·P·3 values), in the same layout.</param>
public sealed record MaeReconstruction(Tensor Loss, int[][] Visible, Tensor Predictions, float[] Targets);

/// <summary>
/// MAE, masked autoencoding (He et al. 2022) with the vision transformer encoder: per image a
/// random share of its patches (<see cref="PretrainOptions.MaskRatio"/>, 75 %) is hidden; the
/// encoder's blocks run on the visible patches' tokens only (patch embedding plus positions); a light
/// decoder — Linear to width 96, a learned mask token in every hidden place, the decoder's own
/// sine-cosine positions, 2 pre-norm blocks of 3 heads, LayerNorm, Linear to P·P·3 — reconstructs
/// every patch, and the loss is the mean squared error against the hidden patches' per-patch
/// normalised pixels only. The encoder's last layer (the token mean) is not used here: it pools the
/// tokens of a whole image for the embedding a frozen agent reads.
/// </summary>
public sealed class MaeObjective : PretrainingObjective
{
    private const int DecoderWidth = 96, DecoderHeads = 3, DecoderBlocks = 2;
    private readonly PatchEmbedding _patches;
    private readonly Module[] _trunk;
    private readonly Linear _decoderEmbed;
    private readonly Parameter _maskToken;
    private readonly Tensor _decoderPositions;
    private readonly Sequential _decoder;
    private readonly int _hidden;

    /// <summary>Builds the decoder around the encoder.</summary>
    /// <exception cref="ArgumentException">The architecture is not a vision transformer, or the mask ratio leaves no patch seen or none hidden.</exception>
    public MaeObjective(PretrainOptions options, int imageSize, Random random) : base(options.Architecture, imageSize, random)
    {
        if (Encoder.Layers[0] is not PatchEmbedding patches || Encoder.Layers[^1] is not TokenMean)
            throw new ArgumentException($"the mae objective needs a vision-transformer architecture; '{options.Architecture}' is not one");
        _patches = patches;
        _trunk = Encoder.Layers.Skip(1).SkipLast(1).ToArray();
        var tokens = patches.Tokens;
        _hidden = (int)Math.Round(tokens * (double)options.MaskRatio);
        if (_hidden < 1 || _hidden > tokens - 1)
            throw new ArgumentException($"mask ratio {options.MaskRatio.ToString(System.Globalization.CultureInfo.InvariantCulture)} hides {_hidden} of {tokens} patches at {imageSize} px; at least one must be hidden and one seen");
        _decoderEmbed = new Linear("mae.decoder.embed", patches.Width, DecoderWidth, random);
        _maskToken = new Parameter("mae.decoder.mask_token", Tensor.RandomNormal(random, 0.02f, 1, DecoderWidth));
        _decoderPositions = PatchEmbedding.SineCosinePositions(patches.Side, DecoderWidth);
        var layers = new List<Module>();
        for (var i = 0; i < DecoderBlocks; i++)
            layers.Add(TransformerBlocks.PreNorm($"mae.decoder.block{i}", DecoderWidth, DecoderHeads, 4, random));
        layers.Add(new RobotRuntime.Tensors.Modules.LayerNorm("mae.decoder.norm", DecoderWidth, 1e-6f));
        layers.Add(new Linear("mae.decoder.head", DecoderWidth, PatchValues, random));
        _decoder = new Sequential([.. layers]);
    }

    /// <summary>Patches per image.</summary>
    public int Tokens => _patches.Tokens;

    /// <summary>Patches hidden per image: round(T × mask ratio).</summary>
    public int HiddenPerImage => _hidden;

    /// <summary>Values per patch: P·P·3.</summary>
    public int PatchValues => _patches.PatchSize * _patches.PatchSize * 3;

    /// <inheritdoc/>
    public override int Offset => 0;

    /// <inheritdoc/>
    public override bool UsesSecondFrame => false;

    /// <inheritdoc/>
    public override bool UsesGroups => false;

    /// <inheritdoc/>
    public override IEnumerable<Parameter> HeadParameters() => _decoderEmbed.Parameters().Append(_maskToken).Concat(_decoder.Parameters());

    /// <inheritdoc/>
    public override (IReadOnlyList<Parameter> Online, IReadOnlyList<Parameter> Target) MomentumPairs() => ([], []);

    /// <inheritdoc/>
    public override (Tensor Loss, IReadOnlyList<(string Name, float Value)> Parts) Loss(FrameBatch frames, AgentRandom random)
    {
        var batch = Pairs(frames);
        var result = Reconstruct(batch.First, batch.Size, random);
        return (result.Loss, [("masked_mse", result.Loss.Item())]);
    }

    /// <summary>
    /// Hides a random <see cref="HiddenPerImage"/> of each image's patches (the choice drawn from
    /// <paramref name="random"/>), encodes the rest, decodes every patch and scores the hidden ones.
    /// </summary>
    /// <param name="images">[count, 3, S, S] planes in [−0.5, 0.5].</param>
    /// <param name="count">Images.</param>
    /// <param name="random">The masks' source.</param>
    public MaeReconstruction Reconstruct(float[] images, int count, AgentRandom random)
    {
        int side = ImageSize, tokens = Tokens, seen = tokens - _hidden, width = _patches.Width;
        var mask = PatchMask.Draw(count, tokens, _hidden, random);
        var embedded = _patches.Forward(Tensor.FromArray(images.AsSpan(0, count * 3 * side * side), count, 3, side, side));
        var x = Ops.Gather(embedded.Reshape(count * tokens, width), mask.VisibleRows).Reshape(count, seen, width);
        foreach (var layer in _trunk)
            x = layer.Forward(x);
        var decoded = _decoderEmbed.Forward(x).Reshape(count * seen, DecoderWidth);
        var full = Ops.Gather(Ops.ConcatAxis(0, decoded, _maskToken.Value), mask.Placement).Reshape(count, tokens, DecoderWidth);
        var predictions = _decoder.Forward(Ops.Add(full, _decoderPositions));
        var targets = PatchMask.Targets(images, count, side, _patches);
        var loss = PatchMask.HiddenLoss(predictions, targets, mask.HiddenRows, PatchValues);
        return new MaeReconstruction(loss, mask.Visible, predictions, targets);
    }
}

/// <summary>
/// Which patches of each image a masked autoencoder hides (MAE's and SiamMAE's masks), and the
/// per-patch normalised pixels it reconstructs.
/// </summary>
/// <param name="Visible">Per image, the (ascending) indices of its seen patches.</param>
/// <param name="VisibleRows">Rows (image · T + patch) of the seen patches, image by image, ascending.</param>
/// <param name="HiddenRows">Rows of the hidden patches, image by image, ascending.</param>
/// <param name="Placement">For every (image, patch) row of the decoder's input: its encoded token's row among the seen ones, or count · seen (the mask token, appended last).</param>
internal sealed record PatchMask(int[][] Visible, int[] VisibleRows, int[] HiddenRows, int[] Placement)
{
    /// <summary>Hides <paramref name="hidden"/> of each image's <paramref name="tokens"/> patches: a Fisher–Yates shuffle per image from <paramref name="random"/>, the last <paramref name="hidden"/> of it hidden.</summary>
    public static PatchMask Draw(int count, int tokens, int hidden, AgentRandom random)
    {
        var seen = tokens - hidden;
        var visible = new int[count][];
        var visibleRows = new int[count * seen];
        var hiddenRows = new int[count * hidden];
        var placement = new int[count * tokens];
        var order = new int[tokens];
        for (var n = 0; n < count; n++)
        {
            for (var t = 0; t < tokens; t++)
                order[t] = t;
            for (var t = tokens - 1; t > 0; t--)
            {
                var j = random.NextInt(t + 1);
                (order[t], order[j]) = (order[j], order[t]);
            }
            visible[n] = order.Take(seen).Order().ToArray();
            var hiddenPatches = order.Skip(seen).Order().ToArray();
            for (var i = 0; i < seen; i++)
            {
                visibleRows[n * seen + i] = n * tokens + visible[n][i];
                placement[n * tokens + visible[n][i]] = n * seen + i;
            }
            for (var i = 0; i < hidden; i++)
            {
                hiddenRows[n * hidden + i] = n * tokens + hiddenPatches[i];
                placement[n * tokens + hiddenPatches[i]] = count * seen;
            }
        }
        return new PatchMask(visible, visibleRows, hiddenRows, placement);
    }

    /// <summary>Every patch's pixels [N, T, P·P·3] (row, column, channel within a patch), normalised per patch: (x − mean) / √(variance + 1e-6).</summary>
    public static float[] Targets(float[] images, int count, int side, PatchEmbedding patches)
    {
        int patch = patches.PatchSize, grid = patches.Side, area = side * side, values = patch * patch * 3, tokens = patches.Tokens;
        var targets = new float[count * tokens * values];
        for (var n = 0; n < count; n++)
        {
            for (var t = 0; t < tokens; t++)
            {
                var target = targets.AsSpan((n * tokens + t) * values, values);
                int top = t / grid * patch, left = t % grid * patch, k = 0;
                for (var dy = 0; dy < patch; dy++)
                {
                    for (var dx = 0; dx < patch; dx++)
                    {
                        for (var c = 0; c < 3; c++)
                            target[k++] = images[(n * 3 + c) * area + (top + dy) * side + left + dx];
                    }
                }
                double mean = 0, variance = 0;
                foreach (var v in target)
                    mean += v;
                mean /= values;
                foreach (var v in target)
                    variance += (v - mean) * (v - mean);
                var scale = 1 / Math.Sqrt(variance / values + 1e-6);
                for (var i = 0; i < values; i++)
                    target[i] = (float)((target[i] - mean) * scale);
            }
        }
        return targets;
    }

    /// <summary>Mean squared error between the predictions [N, T, V] and the targets on the hidden rows only (on the tape).</summary>
    public static Tensor HiddenLoss(Tensor predictions, float[] targets, int[] hiddenRows, int values)
    {
        var hiddenTargets = new float[hiddenRows.Length * values];
        for (var r = 0; r < hiddenRows.Length; r++)
            targets.AsSpan(hiddenRows[r] * values, values).CopyTo(hiddenTargets.AsSpan(r * values, values));
        var predicted = Ops.Gather(predictions.Reshape(predictions.Length / values, values), hiddenRows);
        return Ops.MseLoss(predicted, Tensor.FromArray(hiddenTargets, hiddenRows.Length, values));
    }
}

/// <summary>
/// SiamMAE, Siamese masked autoencoding (Gupta et al. 2023) with the vision transformer encoder:
/// two frames of one episode and camera <see cref="PretrainOptions.SiamMaeGap"/> frames apart, with
/// the same random shift (so what differs between them is what moved). The encoder (shared by both,
/// gradients through both) encodes the past frame whole and the future frame's visible patches only
/// (<see cref="PretrainOptions.SiamMaeMaskRatio"/>, 95 %, hidden). The decoder, MAE's at the same
/// size: Linear to width 96 for both frames' tokens, a learned mask token in every hidden place of the
/// future frame, the decoder's sine-cosine positions added to both, then 2 "cross-self" blocks of 3
/// heads (<see cref="CrossSelfBlock"/>: the future frame's tokens cross-attend to the past frame's,
/// then attend to each other, then an MLP), LayerNorm, Linear to P·P·3. The loss is the mean squared
/// error against the future frame's hidden patches' per-patch normalised pixels only. The encoder's
/// token mean is not used here, as in <see cref="MaeObjective"/>.
/// </summary>
public sealed class SiamMaeObjective : PretrainingObjective
{
    private const int DecoderWidth = 96, DecoderHeads = 3, DecoderBlocks = 2, DecoderMlpRatio = 4;
    private readonly PatchEmbedding _patches;
    private readonly Module[] _trunk;
    private readonly Linear _decoderEmbed;
    private readonly Parameter _maskToken;
    private readonly Tensor _decoderPositions;
    private readonly CrossSelfBlock[] _blocks;
    private readonly Sequential _output;
    private readonly int _hidden, _gap;

    /// <summary>Builds the decoder around the encoder.</summary>
    /// <exception cref="ArgumentException">The architecture is not a vision transformer, or the mask ratio leaves no patch of the future frame seen or none hidden.</exception>
    public SiamMaeObjective(PretrainOptions options, int imageSize, Random random) : base(options.Architecture, imageSize, random)
    {
        if (Encoder.Layers[0] is not PatchEmbedding patches || Encoder.Layers[^1] is not TokenMean)
            throw new ArgumentException($"the siammae objective needs a vision-transformer architecture; '{options.Architecture}' is not one");
        _patches = patches;
        _trunk = Encoder.Layers.Skip(1).SkipLast(1).ToArray();
        _gap = options.SiamMaeGap;
        var tokens = patches.Tokens;
        _hidden = (int)Math.Round(tokens * (double)options.SiamMaeMaskRatio);
        if (_hidden < 1 || _hidden > tokens - 1)
            throw new ArgumentException($"SiamMAE mask ratio {options.SiamMaeMaskRatio.ToString(System.Globalization.CultureInfo.InvariantCulture)} hides {_hidden} of the future frame's {tokens} patches at {imageSize} px; at least one must be hidden and one seen");
        _decoderEmbed = new Linear("siammae.decoder.embed", patches.Width, DecoderWidth, random);
        _maskToken = new Parameter("siammae.decoder.mask_token", Tensor.RandomNormal(random, 0.02f, 1, DecoderWidth));
        _decoderPositions = PatchEmbedding.SineCosinePositions(patches.Side, DecoderWidth);
        _blocks = Enumerable.Range(0, DecoderBlocks).Select(i => new CrossSelfBlock($"siammae.decoder.block{i}", DecoderWidth, DecoderHeads, DecoderMlpRatio, random)).ToArray();
        _output = new Sequential(
            new RobotRuntime.Tensors.Modules.LayerNorm("siammae.decoder.norm", DecoderWidth, 1e-6f),
            new Linear("siammae.decoder.head", DecoderWidth, PatchValues, random));
    }

    /// <summary>Patches per frame.</summary>
    public int Tokens => _patches.Tokens;

    /// <summary>Patches of the future frame hidden: round(T × ratio).</summary>
    public int HiddenPerImage => _hidden;

    /// <summary>Values per patch: P·P·3.</summary>
    public int PatchValues => _patches.PatchSize * _patches.PatchSize * 3;

    /// <summary>k: frames from the past frame to the future frame.</summary>
    public override int Offset => _gap;

    /// <summary>Both frames of a pair get the same shift: a shift between them would be motion the decoder has to explain.</summary>
    public override bool SameShift => true;

    /// <inheritdoc/>
    public override bool UsesGroups => false;

    /// <summary>Two frames per sample go through the encoder (the future one with only its visible patches).</summary>
    public override int ImagesPerSample => 2;

    /// <summary>Only episodes with at least k + 1 frames hold a pair.</summary>
    public override bool Includes(RobotRuntime.Datasets.EpisodeEntry episode) => episode.Length > _gap;

    /// <inheritdoc/>
    public override string? InclusionRule => $"SiamMAE with a gap of {_gap} frames needs episodes of at least {_gap + 1} frames";

    /// <summary>Pairs exactly k apart inside one episode (<see cref="FrameSampler.NextSpaced"/>).</summary>
    public override FrameBatch Draw(FrameSampler sampler, int batchSize, int group) => sampler.NextSpaced(batchSize, _gap, SameShift);

    /// <inheritdoc/>
    public override IEnumerable<Parameter> HeadParameters() =>
        _decoderEmbed.Parameters().Append(_maskToken).Concat(_blocks.SelectMany(b => b.Parameters())).Concat(_output.Parameters());

    /// <inheritdoc/>
    public override (IReadOnlyList<Parameter> Online, IReadOnlyList<Parameter> Target) MomentumPairs() => ([], []);

    /// <inheritdoc/>
    public override (Tensor Loss, IReadOnlyList<(string Name, float Value)> Parts) Loss(FrameBatch frames, AgentRandom random)
    {
        var batch = Pairs(frames);
        var result = Reconstruct(batch.First, batch.Second, batch.Size, random);
        return (result.Loss, [("masked_mse", result.Loss.Item())]);
    }

    /// <summary>
    /// Encodes the past frames whole and the future frames' visible patches (a random
    /// <see cref="HiddenPerImage"/> of each future frame's patches hidden, drawn from
    /// <paramref name="random"/>), decodes every patch of the future frames with their tokens
    /// cross-attending to the past frames', and scores the hidden ones.
    /// </summary>
    /// <param name="past">[count, 3, S, S] planes in [−0.5, 0.5]: frame t.</param>
    /// <param name="future">The same layout: frame t + k of the same episode and camera.</param>
    /// <param name="count">Pairs.</param>
    /// <param name="random">The masks' source.</param>
    /// <returns>The reconstruction of the future frames (<see cref="MaeReconstruction.Visible"/>: the future frames' seen patches).</returns>
    public MaeReconstruction Reconstruct(float[] past, float[] future, int count, AgentRandom random)
    {
        ArgumentNullException.ThrowIfNull(past);
        ArgumentNullException.ThrowIfNull(future);
        int side = ImageSize, tokens = Tokens, seen = tokens - _hidden, width = _patches.Width, pixels = 3 * side * side;
        if (past.Length < count * pixels || future.Length < count * pixels)
            throw new ArgumentException($"{count} pairs of {side}-px frames need {count * pixels} floats per frame; got {past.Length} past and {future.Length} future");
        var mask = PatchMask.Draw(count, tokens, _hidden, random);
        var context = _patches.Forward(Tensor.FromArray(past.AsSpan(0, count * pixels), count, 3, side, side));
        foreach (var layer in _trunk)
            context = layer.Forward(context);
        var embedded = _patches.Forward(Tensor.FromArray(future.AsSpan(0, count * pixels), count, 3, side, side));
        var x = Ops.Gather(embedded.Reshape(count * tokens, width), mask.VisibleRows).Reshape(count, seen, width);
        foreach (var layer in _trunk)
            x = layer.Forward(x);
        var pastTokens = Ops.Add(_decoderEmbed.Forward(context), _decoderPositions);
        var decoded = _decoderEmbed.Forward(x).Reshape(count * seen, DecoderWidth);
        var y = Ops.Add(Ops.Gather(Ops.ConcatAxis(0, decoded, _maskToken.Value), mask.Placement).Reshape(count, tokens, DecoderWidth), _decoderPositions);
        foreach (var block in _blocks)
            y = block.Forward(y, pastTokens);
        var predictions = _output.Forward(y);
        var targets = PatchMask.Targets(future, count, side, _patches);
        var loss = PatchMask.HiddenLoss(predictions, targets, mask.HiddenRows, PatchValues);
        return new MaeReconstruction(loss, mask.Visible, predictions, targets);
    }
}
