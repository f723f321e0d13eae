using RobotRuntime.Agents.Model;
using RobotRuntime.Tensors;
using RobotRuntime.Tensors.Optim;

namespace RobotRuntime.Agents.Training;

/// <summary>Losses and statistics of one update.</summary>
/// <param name="Consistency">Latent consistency loss (ρ-weighted, averaged over the horizon).</param>
/// <param name="Reward">Reward cross-entropy.</param>
/// <param name="Value">Value cross-entropy against TD targets (averaged over Qs).</param>
/// <param name="Policy">Policy loss α·log π − Q/scale.</param>
/// <param name="Total">20·consistency + 0.1·reward + 0.1·value (with the config's coefficients).</param>
/// <param name="GradNorm">Model gradient norm before clipping.</param>
/// <param name="ValueScale">The running Q scale the policy loss divides by.</param>
public readonly record struct UpdateMetrics(float Consistency, float Reward, float Value, float Policy, float Total, float GradNorm, float ValueScale);

/// <summary>
/// TD-MPC2's update: encode the first observation, roll the dynamics over the horizon against the
/// encoder's latents of the real next observations (consistency), reward and value cross-entropy
/// against two-hot targets (TD targets r + γ·(1 − terminated)·min of two random target Qs at
/// (z′, π(z′))), then the policy prior on the detached latents, then the target Qs' Polyak step.
/// </summary>
/// <remarks>Training thread only; deterministic for a seed when <see cref="TensorEngine.ThreadCount"/> is 1.</remarks>
public sealed class TdMpc2Learner : IDisposable
{
    private readonly WorldModel _model;
    private readonly AgentConfig _config;
    private readonly Adam _modelOptimizer;
    private readonly Adam _policyOptimizer;
    private readonly Parameter[] _modelParameters;
    private readonly Parameter[] _policyParameters;
    private readonly Tape _tape = new();
    private readonly AgentRandom _random;
    private readonly float _discount;
    private readonly float[] _scaleScratch;
    private readonly (ParameterGroup Group, float Rate)[] _baseRates;
    private float _learningRateScale = 1f;

    /// <summary>Creates the optimisers (Adam; encoder at lr × encoderLearningRateScale; policy with ε = 1e-5).</summary>
    /// <param name="model">The model to train.</param>
    /// <param name="episodeLength">Episode length, for the discount heuristic.</param>
    /// <param name="random">Noise for policy samples, Q choice and dropout (shared with the caller for reproducibility).</param>
    /// <param name="extraEncoderGroups">Further parameter groups trained with the model loss (a partial mode's PVR tail with its own rate).</param>
    public TdMpc2Learner(WorldModel model, int episodeLength, AgentRandom random, IEnumerable<ParameterGroup>? extraEncoderGroups = null)
    {
        _model = model;
        _config = model.Config;
        _random = random;
        _discount = _config.DiscountFor(episodeLength);
        var groups = new List<ParameterGroup>
        {
            new(model.EncoderParameters(), _config.LearningRate * _config.EncoderLearningRateScale),
            new(model.DynamicsRewardValueParameters(), _config.LearningRate),
        };
        if (model.PvrTail is not null)
        {
            groups.Add(new ParameterGroup(model.PvrTail.Parameters(), _config.LearningRate * _config.PvrLearningRateScale));
        }
        if (extraEncoderGroups is not null)
        {
            groups.AddRange(extraEncoderGroups);
        }
        _modelOptimizer = new Adam(groups);
        _modelParameters = groups.SelectMany(g => g.Parameters).ToArray();
        _policyParameters = model.Policy.Parameters().ToArray();
        _policyOptimizer = new Adam([new ParameterGroup(_policyParameters, _config.LearningRate)], epsilon: 1e-5f);
        _scaleScratch = new float[_config.BatchSize];
        _baseRates = _modelOptimizer.Groups.Concat(_policyOptimizer.Groups).Select(g => (g, g.LearningRate)).ToArray();
    }

    /// <summary>
    /// A factor on every parameter group's learning rate, both optimisers (1: the config's rates). Offline
    /// adaptation ramps it up from near 0 so that the fresh optimiser's first steps — Adam's first steps are
    /// the full rate in the sign of each gradient — do not knock a trained model off its optimum.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Negative or not finite.</exception>
    public float LearningRateScale
    {
        get => _learningRateScale;
        set
        {
            if (!(value >= 0) || !float.IsFinite(value))
                throw new ArgumentOutOfRangeException(nameof(value), value, "a learning-rate factor is finite and ≥ 0");
            _learningRateScale = value;
            foreach (var (group, rate) in _baseRates)
            {
                group.LearningRate = rate * value;
            }
        }
    }

    /// <summary>The discount γ in use.</summary>
    public float Discount => _discount;

    /// <summary>The running Q scale (5th–95th percentile range, Polyak-averaged, at least 1).</summary>
    public float ValueScale { get; set; } = 1f;

    /// <summary>Updates done.</summary>
    public long Updates { get; set; }

    /// <summary>
    /// Hook for the encoder input: turns the batch's observation rows [rows, width] into what
    /// <see cref="WorldModel.Encode"/> takes (defaults to the rows as they are; images get reshaped to NCHW).
    /// A partial mode puts its trainable PVR tail here.
    /// </summary>
    public Func<Tensor, Tensor>? EncoderInputTransform { get; set; }

    /// <summary>Runs one update on <paramref name="batch"/>.</summary>
    /// <exception cref="ArgumentException">The batch does not match the model's layout or batch size.</exception>
    public UpdateMetrics Update(TrainingBatch batch)
    {
        var layout = _model.Layout;
        int b = batch.BatchSize, h = batch.Horizon, a = layout.ActionDim, p = layout.ProprioceptionLength;
        if (h != _config.Horizon || batch.Layout != layout)
        {
            throw new ArgumentException($"batch has horizon {h} and layout {batch.Layout}; the model expects horizon {_config.Horizon} and layout {layout}", nameof(batch));
        }
        float rho = _config.Rho;
        var dropout = _random.NextSystemRandom();

        // 1. Targets without gradient: encoder latents of the next observations, TD targets.
        var nextLatents = new Tensor[h];
        var tdTargets = new float[h * b];
        using (_tape.Record())
        using (Tape.NoGrad())
        {
            var nextObs = ObservationTensor(batch, 1, h);
            var nextProprio = p > 0 ? Tensor.FromArray(batch.Proprioception.AsSpan(b * p, h * b * p), h * b, p) : null;
            var zNext = _model.Encode(nextObs, nextProprio);
            var (piAction, _) = _model.SamplePolicy(zNext, Noise(h * b, a));
            int q1 = _random.NextInt(_config.NumQ), q2 = (q1 + 1 + _random.NextInt(_config.NumQ - 1)) % _config.NumQ;
            var v1 = _model.DecodeValue(_model.QLogits(q1, zNext, piAction, target: true)).Span;
            var v2 = _model.DecodeValue(_model.QLogits(q2, zNext, piAction, target: true)).Span;
            for (int i = 0; i < h * b; i++)
            {
                tdTargets[i] = batch.Rewards[i] + _discount * (1f - batch.Terminated[i]) * MathF.Min(v1[i], v2[i]);
            }
            for (int t = 0; t < h; t++)
            {
                nextLatents[t] = Tensor.FromArray(zNext.Span.Slice(t * b * _config.LatentDim, b * _config.LatentDim), b, _config.LatentDim);
            }
        }
        _tape.Reset();

        // 2. Model loss.
        float consistencyValue, rewardValue, valueValue, totalValue, gradNorm;
        var latents = new float[(h + 1) * b * _config.LatentDim];
        using (_tape.Record())
        {
            var obs0 = ObservationTensor(batch, 0, 1);
            var proprio0 = p > 0 ? Tensor.FromArray(batch.Proprioception.AsSpan(0, b * p), b, p) : null;
            var z = _model.Encode(obs0, proprio0);
            z.Span.CopyTo(latents);
            Tensor? consistency = null, reward = null, value = null;
            var rewardTarget = Tensor.Zeros(b, _config.NumBins);
            var valueTarget = Tensor.Zeros(b, _config.NumBins);
            for (int t = 0; t < h; t++)
            {
                var action = Tensor.FromArray(batch.Actions.AsSpan(t * b * a, b * a), b, a);
                float weight = MathF.Pow(rho, t);
                for (int i = 0; i < b; i++)
                {
                    _model.TwoHot.Encode(batch.Rewards[t * b + i], rewardTarget.Span.Slice(i * _config.NumBins, _config.NumBins));
                    _model.TwoHot.Encode(tdTargets[t * b + i], valueTarget.Span.Slice(i * _config.NumBins, _config.NumBins));
                }
                var rewardLoss = Ops.Scale(Ops.SoftCrossEntropy(_model.RewardLogits(z, action), rewardTarget.Clone()), weight);
                reward = reward is null ? rewardLoss : Ops.Add(reward, rewardLoss);
                for (int q = 0; q < _config.NumQ; q++)
                {
                    var qLoss = Ops.Scale(Ops.SoftCrossEntropy(_model.QLogits(q, z, action, dropoutRandom: dropout), valueTarget.Clone()), weight);
                    value = value is null ? qLoss : Ops.Add(value, qLoss);
                }
                z = _model.Next(z, action);
                z.Span.CopyTo(latents.AsSpan((t + 1) * b * _config.LatentDim));
                var c = Ops.Scale(ConsistencyLoss(z, nextLatents[t], batch.NextObserved.AsSpan(t * b, b)), weight);
                consistency = consistency is null ? c : Ops.Add(consistency, c);
            }
            consistency = Ops.Scale(consistency!, 1f / h);
            reward = Ops.Scale(reward!, 1f / h);
            value = Ops.Scale(value!, 1f / (h * _config.NumQ));
            var total = Ops.Add(Ops.Add(Ops.Scale(consistency, _config.ConsistencyCoef), Ops.Scale(reward, _config.RewardCoef)), Ops.Scale(value, _config.ValueCoef));
            consistencyValue = consistency.Item();
            rewardValue = reward.Item();
            valueValue = value.Item();
            totalValue = total.Item();
            _modelOptimizer.ZeroGrad();
            _tape.Backward(total);
            gradNorm = GradientClipping.ClipByGlobalNorm(_modelParameters, _config.GradClipNorm);
            _modelOptimizer.Step();
        }
        _tape.Reset();

        // 3. Policy prior on the detached latents; the Qs are held fixed (and left as they were found:
        // an offline adaptation may hold them, or the policy, fixed throughout).
        float policyValue = 0f;
        var qParameters = _model.Qs.SelectMany(q => q.Parameters()).ToArray();
        var wasFrozen = qParameters.Select(parameter => parameter.Frozen).ToArray();
        foreach (var parameter in qParameters)
        {
            parameter.Frozen = true;
        }
        try
        {
            // A policy held fixed (offline adaptation of the encoder alone) is not updated.
            if (!_policyParameters.All(parameter => parameter.Frozen))
            {
                using (_tape.Record())
                {
                    int rows = (h + 1) * b;
                    var zs = Tensor.FromArray(latents, rows, _config.LatentDim);
                    var (action, logProbability) = _model.SamplePolicy(zs, Noise(rows, a));
                    int q1 = _random.NextInt(_config.NumQ), q2 = (q1 + 1 + _random.NextInt(_config.NumQ - 1)) % _config.NumQ;
                    var qValue = Ops.Scale(Ops.Add(_model.DecodeValue(_model.QLogits(q1, zs, action)), _model.DecodeValue(_model.QLogits(q2, zs, action))), 0.5f);
                    UpdateScale(qValue.Span[..b]);
                    // Per-row weights ρ^t / (H + 1), the mean over the batch folded in.
                    var weights = new float[rows];
                    for (int t = 0; t <= h; t++)
                    {
                        weights.AsSpan(t * b, b).Fill(MathF.Pow(rho, t) / ((h + 1) * b));
                    }
                    var perRow = Ops.Subtract(Ops.Scale(logProbability, _config.EntropyCoef), Ops.Scale(qValue.Reshape(rows), 1f / ValueScale));
                    var policyLoss = Ops.Sum(Ops.Multiply(perRow, Tensor.FromArray(weights, rows)));
                    policyValue = policyLoss.Item();
                    _policyOptimizer.ZeroGrad();
                    _tape.Backward(policyLoss);
                    GradientClipping.ClipByGlobalNorm(_policyParameters, _config.GradClipNorm);
                    _policyOptimizer.Step();
                }
            }
        }
        finally
        {
            _tape.Reset();
            for (int i = 0; i < qParameters.Length; i++)
            {
                qParameters[i].Frozen = wasFrozen[i];
            }
        }

        _model.SyncTargets(_config.Tau);
        Updates++;
        return new UpdateMetrics(consistencyValue, rewardValue, valueValue, policyValue, totalValue, gradNorm, ValueScale);
    }

    /// <summary>Both optimisers' moments and step counts, for checkpoints.</summary>
    public IEnumerable<KeyValuePair<string, Tensor>> ExportOptimizerState() =>
        _modelOptimizer.ExportState("optimizer.model").Concat(_policyOptimizer.ExportState("optimizer.policy"));

    /// <summary>Restores what <see cref="ExportOptimizerState"/> wrote.</summary>
    public void ImportOptimizerState(IReadOnlyDictionary<string, Tensor> state)
    {
        _modelOptimizer.ImportState(state, "optimizer.model");
        _policyOptimizer.ImportState(state, "optimizer.policy");
    }

    /// <summary>Releases the tape's pooled buffers.</summary>
    public void Dispose() => _tape.Dispose();

    private Tensor ObservationTensor(TrainingBatch batch, int firstStep, int steps)
    {
        int rows = steps * batch.BatchSize;
        var span = batch.Observations.AsSpan(firstStep * batch.BatchSize * batch.ObservationWidth, rows * batch.ObservationWidth);
        var layout = _model.Layout;
        var x = layout.Kind == FeatureKind.Images
            ? Tensor.FromArray(span, rows, layout.FrameStack * layout.Cameras * 3, layout.ImageSize, layout.ImageSize)
            : Tensor.FromArray(span, rows, batch.ObservationWidth);
        return EncoderInputTransform is null ? x : EncoderInputTransform(x);
    }

    /// <summary>
    /// MSE between predicted and encoded next latents over the rows whose next observation was recorded
    /// (offline data pads an episode that ended by termination); with every row recorded, exactly <see cref="Ops.MseLoss"/>.
    /// </summary>
    private Tensor ConsistencyLoss(Tensor predicted, Tensor target, ReadOnlySpan<float> observed)
    {
        int recorded = 0;
        foreach (var o in observed)
        {
            recorded += o != 0f ? 1 : 0;
        }
        if (recorded == observed.Length)
        {
            return Ops.MseLoss(predicted, target);
        }
        int width = _config.LatentDim;
        var mask = new float[observed.Length * width];
        for (int i = 0; i < observed.Length; i++)
        {
            mask.AsSpan(i * width, width).Fill(observed[i]);
        }
        var m = Tensor.FromArray(mask, observed.Length, width);
        // Mean over the recorded rows only: the masked rows add zeros, the scale undoes their share of the mean.
        return Ops.Scale(Ops.MseLoss(Ops.Multiply(predicted, m), Ops.Multiply(target, m)), recorded == 0 ? 0f : (float)observed.Length / recorded);
    }

    private Tensor Noise(int rows, int a)
    {
        var noise = Tensor.Zeros(rows, a);
        var s = noise.Span;
        for (int i = 0; i < s.Length; i++)
        {
            s[i] = _random.NextNormal();
        }
        return noise;
    }

    private void UpdateScale(ReadOnlySpan<float> values)
    {
        var sorted = _scaleScratch.AsSpan(0, values.Length);
        values.CopyTo(sorted);
        sorted.Sort();
        static float Percentile(ReadOnlySpan<float> sorted, float q)
        {
            float position = q * (sorted.Length - 1);
            int low = (int)MathF.Floor(position);
            int high = Math.Min(low + 1, sorted.Length - 1);
            return sorted[low] + (position - low) * (sorted[high] - sorted[low]);
        }
        float range = Percentile(sorted, 0.95f) - Percentile(sorted, 0.05f);
        ValueScale += _config.Tau * (range - ValueScale);
        ValueScale = MathF.Max(ValueScale, 1f);
    }
}
