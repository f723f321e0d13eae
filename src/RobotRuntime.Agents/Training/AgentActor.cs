using RobotRuntime.Agents.Encoders;
using RobotRuntime.Agents.Model;
using RobotRuntime.Agents.Planning;
using RobotRuntime.Environments;

namespace RobotRuntime.Agents.Training;

/// <summary>Result of evaluation episodes.</summary>
/// <param name="Episodes">Episodes run.</param>
/// <param name="SuccessRate">Fraction that succeeded.</param>
/// <param name="MeanReturn">Mean undiscounted return.</param>
/// <param name="MeanLength">Mean episode length in steps.</param>
public readonly record struct EvaluationResult(int Episodes, double SuccessRate, double MeanReturn, double MeanLength)
{
    /// <summary>Each episode's outcome, in the order run (empty when made without them).</summary>
    public IReadOnlyList<EpisodeOutcome> Outcomes { get; init; } = [];
}

/// <summary>One evaluation episode's outcome.</summary>
/// <param name="Seed">The seed the environment was reset with.</param>
/// <param name="Success">Whether the task's success held at any step.</param>
/// <param name="Return">Undiscounted return.</param>
/// <param name="Length">Steps taken.</param>
public readonly record struct EpisodeOutcome(int Seed, bool Success, double Return, int Length);

/// <summary>
/// Acts in an <see cref="IEnvironment"/> with a world model: features from the frozen front, frame
/// stack and latent from <see cref="AgentEncoder"/>, action from <see cref="IPlanner"/>.
/// </summary>
public sealed class AgentActor
{
    private readonly WorldModel _model;
    private readonly IFeatureExtractor _features;
    private readonly AgentEncoder _encoder;
    private readonly byte[] _featureBuffer;
    private readonly float[] _latent;
    private readonly float[] _proprio;

    /// <summary>Creates an actor planning with <paramref name="planner"/>.</summary>
    public AgentActor(WorldModel model, IFeatureExtractor features, IPlanner planner)
    {
        _model = model;
        _features = features;
        Planner = planner;
        _encoder = new AgentEncoder(model);
        _featureBuffer = new byte[model.Layout.FeatureBytes];
        _latent = new float[model.Config.LatentDim];
        _proprio = new float[model.Layout.ProprioceptionLength];
    }

    /// <summary>The planner.</summary>
    public IPlanner Planner { get; }

    /// <summary>The last step's extracted features (what replay stores).</summary>
    public ReadOnlySpan<byte> LastFeatures => _featureBuffer;

    /// <summary>Starts an episode.</summary>
    public void Reset()
    {
        _encoder.Reset();
        Planner.Reset();
    }

    /// <summary>Extracts and remembers the observation's features (call once per observation, before <see cref="Act"/>).</summary>
    public void Observe(Observation observation)
    {
        _features.Extract(observation, _featureBuffer);
        _encoder.Push(_featureBuffer);
        observation.Proprioception.AsSpan(0, _proprio.Length).CopyTo(_proprio);
    }

    /// <summary>Plans from the observations so far and writes the action.</summary>
    public PlanStatus Act(Span<float> action, bool explore)
    {
        _encoder.Encode(_proprio, _latent);
        return Planner.Plan(_latent, action, explore);
    }

    /// <summary>The latent the last <see cref="Act"/> planned from.</summary>
    public ReadOnlySpan<float> LastLatent => _latent;

    /// <summary>Encodes the observations so far into <see cref="LastLatent"/> without planning.</summary>
    public void EncodeOnly() => _encoder.Encode(_proprio, _latent);

    /// <summary>
    /// Runs <paramref name="episodes"/> episodes without exploration on seeds seedBase, seedBase + 1, …;
    /// the result has each episode's seed, success, return and length;
    /// with <paramref name="traces"/>, records each episode's latents, encoder-head inputs, actions and rewards for the analyses;
    /// with <paramref name="recorder"/>, hands it every step (<c>rr eval --record</c>).
    /// </summary>
    public EvaluationResult Evaluate(IEnvironment environment, int episodes, int seedBase, List<Analysis.EpisodeTrace>? traces = null, IEvaluationRecorder? recorder = null)
    {
        var action = new float[_model.Layout.ActionDim];
        int successes = 0;
        double returns = 0, lengths = 0;
        var outcomes = new EpisodeOutcome[Math.Max(0, episodes)];
        _encoder.CaptureHeadInput = traces is not null;
        for (int e = 0; e < episodes; e++)
        {
            var observation = environment.Reset(seedBase + e);
            Reset();
            recorder?.BeginEpisode(seedBase + e);
            bool success = false;
            int steps = 0;
            double episodeReturn = 0;
            var trace = traces is null ? null : new Analysis.EpisodeTrace();
            while (true)
            {
                Observe(observation);
                Act(action, explore: false);
                trace?.Latents.Add(_latent.ToArray());
                trace?.EncoderInputs.Add(_encoder.LastHeadInput.ToArray());
                trace?.Actions.Add(action.ToArray());
                recorder?.BeforeStep(observation, action);
                var result = environment.Step(action);
                recorder?.AfterStep(in result);
                trace?.Rewards.Add((float)result.Reward);
                returns += result.Reward;
                episodeReturn += result.Reward;
                steps++;
                success |= result.Info.IsSuccess;
                if (result.Done)
                {
                    if (trace is not null)
                    {
                        Observe(result.Observation);
                        EncodeOnly();
                        trace.Latents.Add(_latent.ToArray());
                        traces!.Add(trace);
                    }
                    break;
                }
                observation = result.Observation;
            }
            recorder?.EndEpisode(success);
            successes += success ? 1 : 0;
            lengths += steps;
            outcomes[e] = new EpisodeOutcome(seedBase + e, success, episodeReturn, steps);
        }
        _encoder.CaptureHeadInput = false;
        return new EvaluationResult(episodes, (double)successes / Math.Max(1, episodes), returns / Math.Max(1, episodes), lengths / Math.Max(1, episodes))
        {
            Outcomes = outcomes,
        };
    }
}

/// <summary>Sees every step of evaluation episodes (<see cref="AgentActor.Evaluate"/>); <c>rr eval --record</c> keeps them as a dataset.</summary>
/// <remarks>Called on the evaluating thread, in order: <see cref="BeginEpisode"/>, then per step <see cref="BeforeStep"/> and
/// <see cref="AfterStep"/>, then <see cref="EndEpisode"/>.</remarks>
public interface IEvaluationRecorder
{
    /// <summary>An episode starts, after the environment's reset with <paramref name="seed"/>.</summary>
    void BeginEpisode(int seed);

    /// <summary>The observation (owned by the environment: copy what you keep) and the agent's normalised action, just before the step.</summary>
    void BeforeStep(Observation observation, ReadOnlySpan<float> action);

    /// <summary>What the step gave: reward, termination, success.</summary>
    void AfterStep(in StepResult result);

    /// <summary>The episode ended; <paramref name="success"/> says whether the task's success held at any step.</summary>
    void EndEpisode(bool success);
}
